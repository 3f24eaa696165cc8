"""Bulk registry refresh (issue 13): `clients` generated clients with valid IČOs, created
through the gateway (POST /api/v1/clients/batch) and enriched by the ares service from the
fake ARES (every valid IČO found, `synthesize`); then `POST /api/v1/registry-refresh
{"all": true}` and `GET /api/v1/registry-refresh/{id}` until it is completed: the time from
the request to the job's completion and the ARES requests it made (the fake's /__stats).

The floors: the same lookups sent straight to the same fake ARES by one HTTP client, 100
IČOs a request with no throttle (what the HTTP round trips cost), and the least time the
throttle allows for the requests the job made (ARES_RATE_PER_MINUTE, burst 10), which is
what bounds the project at the ministry's limit."""
import time
from pathlib import Path

import requests
from stdnum.cz.dic import calc_check_digit_legal

from ares_service.fake import FakeAres
from crm_common.stack import free_port
from crm_common.testing import TEST_ADMIN_TOKEN, start_stack

RATE_PER_MINUTE = 300
BURST = 10
SERVICES = ("clients", "activities", "ares")


def ico(n: int) -> str:
    base = f"{4000000 + n:07d}"
    return base + calc_check_digit_legal(base)


def throttle_floor(requests_made: int) -> float:
    """The least time `requests_made` requests take at the throttle's rate and burst."""
    return max(requests_made - BURST, 0) * 60 / RATE_PER_MINUTE


def http_floor(fake_url: str, clients: int) -> float:
    """The same lookups straight to the fake: 100 IČOs a POST, one after the other."""
    session = requests.Session()
    started = time.monotonic()
    for start in range(0, clients, 100):
        answer = session.post(f"{fake_url}/ekonomicke-subjekty/vyhledat", timeout=30, json={
            "ico": [ico(n) for n in range(start, min(start + 100, clients))], "start": 0,
            "pocet": 100})
        answer.raise_for_status()
    return time.monotonic() - started


def _metric_value(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def refresh_all(tmp: Path, amqp_uri: str, db_env: dict, clients: int) -> dict:
    """A fresh stack: `clients` clients created and enriched, then all refreshed."""
    fake = FakeAres(synthesize=True).start()
    metrics_port = free_port()
    stack = start_stack(tmp, amqp_uri, db_env, services=SERVICES, fake_ares=False,
                        extra_env={"ARES_BASE_URL": fake.url,
                                   "ARES_RATE_PER_MINUTE": str(RATE_PER_MINUTE),
                                   "ARES_METRICS_PORT": str(metrics_port)})
    try:
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {TEST_ADMIN_TOKEN}"
        for start in range(0, clients, 1000):
            items = [{"name": f"Registr {n}", "ico": ico(n)}
                     for n in range(start, min(start + 1000, clients))]
            api.post(f"{stack.url}/api/v1/clients/batch", json={"items": items},
                     timeout=300).raise_for_status()
        enrichment_requests = _wait_for_enrichment(fake, metrics_port, clients)
        before = fake.stats()
        started = time.monotonic()
        answer = api.post(f"{stack.url}/api/v1/registry-refresh", json={"all": True},
                          timeout=300)
        answer.raise_for_status()
        job = answer.json()
        while job["status"] != "completed":
            time.sleep(0.5)
            job = api.get(f"{stack.url}/api/v1/registry-refresh/{job['id']}",
                          timeout=30).json()
        seconds = time.monotonic() - started
        after = fake.stats()
        return {"seconds": seconds, "requests": after["total"] - before["total"],
                "icos": after["icos"] - before["icos"], "job": job,
                "enrichment_requests": enrichment_requests,
                "floor_http": http_floor(fake.url, clients)}
    finally:
        stack.stop()
        fake.stop()


def _wait_for_enrichment(fake, metrics_port: int, clients: int) -> int:
    """Until every new client's lookup went out and the queue is empty; the requests made."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(2)
        if fake.stats()["icos"] < clients:
            continue
        page = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        if _metric_value(page, "ares_queue_depth") == 0:
            return fake.stats()["total"]
    raise TimeoutError("the new clients were not enriched in 10 minutes")
