"""ARES enrichment at scale, every service running: 1,000 new clients while ARES is down
for a while all end up enriched, each with one success entry in its timeline, in a few
batched calls; a bulk refresh job; the service's Prometheus metrics."""
import signal
import time

import pytest
import requests
from stdnum.cz.dic import calc_check_digit_legal

from ares_service.fake import FakeAres
from crm_common.stack import free_port
from crm_common.testing import (TEST_ADMIN_TOKEN, create_vhost, database_env, delete_vhost,
                                start_stack, wait_until)

CLIENTS = 1000


def ico(n: int) -> str:
    base = f"{3000000 + n:07d}"
    return base + calc_check_digit_legal(base)


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    # a vhost of its own: nothing it leaves queued reaches the stacks started after it
    amqp_uri, vhost = create_vhost("crm-ares-e2e")
    tmp = tmp_path_factory.mktemp("ares-e2e")
    fake = FakeAres(synthesize=True).start()
    metrics_port = free_port()
    stack = start_stack(tmp, amqp_uri, database_env("sqlite", tmp),
                        services=["clients", "activities", "ares"], fake_ares=False,
                        extra_env={"ARES_BASE_URL": fake.url, "ARES_READ_TIMEOUT": "2",
                                   "ARES_METRICS_PORT": str(metrics_port),
                                   # a killed replica's claimed lookups come back soon
                                   "ARES_LEASE_SECONDS": "5"})
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {TEST_ADMIN_TOKEN}"
    yield stack, api, fake, metrics_port
    stack.stop()
    fake.stop()
    delete_vhost(vhost)


def _registry_done(stack, api, ids):
    def check():
        pending = [i for i in ids if (api.get(f"{stack.url}/api/v1/clients/{i}", timeout=30)
                                      .json().get("registry") or {}).get("status") != "ok"]
        return not pending or None
    wait_until(check, timeout=180, interval=2, what="every client enriched")


def test_clients_created_during_an_outage_are_all_enriched_once(system):
    stack, api, fake, metrics_port = system
    fake.set_mode("error500")
    ids = []
    for start in range(0, CLIENTS, 500):
        items = [{"name": f"Outage {n}", "ico": ico(n)} for n in range(start, start + 500)]
        answer = api.post(f"{stack.url}/api/v1/clients/batch", json={"items": items},
                          timeout=120)
        assert answer.status_code == 200, answer.text
        assert {item["status"] for item in answer.json()["items"]} == {201}
        ids += [item["client"]["id"] for item in answer.json()["items"]]
    time.sleep(8)  # ARES stays down for a while; the lookups wait in the database
    during = fake.stats()["total"]
    fake.set_mode("ok")
    _registry_done(stack, api, ids)
    calls_after = fake.stats()["total"] - during
    assert calls_after <= 15, fake.stats()  # 1,000 lookups in batches of 100 (+ a probe)
    for client_id in ids:
        entries = api.get(f"{stack.url}/api/v1/clients/{client_id}/timeline",
                          params={"limit": 100}, timeout=30).json()["items"]
        titles = [e["title"] for e in entries]
        assert titles.count("Data loaded from ARES") == 1, titles
    metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert 'ares_lookups_total{outcome="found"}' in metrics
    assert "ares_request_seconds_bucket" in metrics and "ares_queue_depth" in metrics


def test_a_bulk_refresh_job_reports_its_counts(system):
    stack, api, fake, _ = system
    items = [{"name": f"Refresh {n}", "ico": ico(5000 + n)} for n in range(150)]
    created = api.post(f"{stack.url}/api/v1/clients/batch", json={"items": items},
                       timeout=120).json()["items"]
    ids = [c["client"]["id"] for c in created]
    _registry_done(stack, api, ids)
    before = fake.stats()["total"]
    answer = api.post(f"{stack.url}/api/v1/registry-refresh",
                      json={"client_ids": ids + ["00000000-0000-4000-8000-000000000000"]},
                      timeout=60)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["total"] == 150 and job["skipped"][0]["reason"] == "not_found"

    def finished():
        body = api.get(f"{stack.url}/api/v1/registry-refresh/{job['id']}", timeout=30).json()
        return body if body["status"] == "completed" else None
    done = wait_until(finished, timeout=60, what="the refresh job")
    assert (done["done"], done["unchanged"], done["changed"], done["failed"]) == (150, 150, 0, 0)
    assert fake.stats()["total"] - before == 2  # 150 clients: two calls


def test_lookups_of_a_service_killed_mid_call_are_made_again_once(system):
    stack, api, fake, _ = system
    fake.set_mode("hang")
    before = fake.stats()["total"]
    items = [{"name": f"Killed {n}", "ico": ico(8000 + n)} for n in range(120)]
    created = api.post(f"{stack.url}/api/v1/clients/batch", json={"items": items},
                       timeout=120).json()["items"]
    ids = [c["client"]["id"] for c in created]
    wait_until(lambda: fake.stats()["total"] > before, timeout=30,
               what="a call to ARES in flight")
    stack.stop_service("ares", sig=signal.SIGKILL)  # mid-call: its lookups are leased
    fake.set_mode("ok")
    stack.start_service("ares")
    _registry_done(stack, api, ids)
    for client_id in ids:
        entries = api.get(f"{stack.url}/api/v1/clients/{client_id}/timeline",
                          params={"limit": 100}, timeout=30).json()["items"]
        assert [e["title"] for e in entries].count("Data loaded from ARES") == 1


def test_statutory_body_people_become_contacts_only_when_chosen(system):
    stack, api, _, _ = system
    created = api.post(f"{stack.url}/api/v1/clients", json={"name": "SAD", "ico": "25063677"},
                       timeout=30)
    assert created.status_code == 201, created.text
    client_id = created.json()["id"]
    people = api.get(f"{stack.url}/api/v1/clients/{client_id}/registry/people", timeout=30)
    assert people.status_code == 200, people.text
    items = people.json()["items"]
    assert people.json()["status"] == "found" and len(items) >= 1
    assert all(p["name"] and p["role"] and p["key"] for p in items)
    contacts = api.get(f"{stack.url}/api/v1/clients/{client_id}/contacts", timeout=30)
    assert contacts.json()["items"] == []  # suggestions only: nobody created silently
    chosen = items[0]
    added = api.post(f"{stack.url}/api/v1/clients/{client_id}/registry/people",
                     json={"keys": [chosen["key"]]}, timeout=30)
    assert added.status_code == 201, added.text
    assert [c["last_name"] for c in added.json()["created"]] == [chosen["last_name"]]
    again = api.post(f"{stack.url}/api/v1/clients/{client_id}/registry/people",
                     json={"keys": [chosen["key"]]}, timeout=30).json()
    assert again["created"] == [] and again["skipped"][0]["reason"] == "exists"
    contacts = api.get(f"{stack.url}/api/v1/clients/{client_id}/contacts", timeout=30)
    assert len(contacts.json()["items"]) == 1
