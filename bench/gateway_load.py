"""The gateway under HTTP load: the stack's gateway (gunicorn, crm_gateway/gunicorn_conf.py)
on PostgreSQL-backed services, next to its floor: gunicorn with the same settings serving a
static JSON answer (bench/static_app.py), in the same run.

Paths: one client (GET /api/v1/clients/{id}), the list filtered by IČO
(GET /api/v1/clients?ico=...) and the client card (GET /api/v1/clients/{id}/card: one
RPC to each of the clients, activities and deals services, in parallel). Each is measured
twice: wrk's closed loop for the most it answers (requests/s), and an open loop at a fixed
rate for its latency under that load (p50, p99; bench/http_load.py). Several worker
classes are measured side by side: one stack of services, a gateway and a floor per worker
class."""
import os
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from crm_common.stack import free_port
from crm_common.testing import TEST_ADMIN_TOKEN, start_stack

from .http_load import FixedRate, Throughput, fixed_rate, wrk

ROOT = Path(__file__).resolve().parents[1]
TOKEN = TEST_ADMIN_TOKEN  # start_stack's CRM_BOOTSTRAP_ADMIN_TOKEN
SERVICES = ("clients", "activities", "deals")  # what the measured paths call
ICO = "25063677"  # a valid IČO (no ares service runs here: nothing looks it up)
OTHER_CLIENTS = 1_000  # so the table the list and the lookups read is not empty
TIMELINE = 10  # entries on the card's client (the card shows 10)
OPEN_DEALS, WON_DEALS, TASKS = 3, 2, 2  # the card's client's deals and open tasks
ONE_CLIENT = "GET /api/v1/clients/{id}"
LIST = "GET /api/v1/clients?ico=…"
CARD = "GET /api/v1/clients/{id}/card"
PATHS = {  # label -> the path, {id} and {ico} filled in
    ONE_CLIENT: "/api/v1/clients/{id}",
    LIST: "/api/v1/clients?ico={ico}",
    CARD: "/api/v1/clients/{id}/card",
}


UNAVAILABLE = b'"unavailable"'  # a card section that did not come in time


@dataclass
class LoadRun:
    throughput: Throughput
    fixed: dict[float, FixedRate]  # rate -> latencies at that rate

    def __str__(self):
        return "; ".join([str(self.throughput), *map(str, self.fixed.values())])


@dataclass
class Gateways:
    """Per gunicorn worker class: a gateway and its floor, all in front of one stack of
    services, so the worker classes are measured in the same minutes on the same data."""
    urls: dict[str, str]  # worker class -> the gateway's base URL
    floor_urls: dict[str, str]  # worker class -> the static answer's URL
    pids: dict[str, int]  # worker class -> the gateway's gunicorn master
    client_id: str

    def path(self, worker_class: str, label: str) -> str:
        return self.urls[worker_class] + PATHS[label].format(id=self.client_id, ico=ICO)


def measure(url: str, token: str | None, seconds: float, connections: int,
            rates: tuple[float, ...]) -> LoadRun:
    """wrk for `seconds`, then each fixed rate for `seconds`."""
    wrk(url, 1, connections, token)  # warm-up, not counted: every worker's RPC connections
    return LoadRun(wrk(url, seconds, connections, token),
                   {rate: fixed_rate(url, rate, seconds, token, incomplete=UNAVAILABLE)
                    for rate in rates})


@contextmanager
def gateways_under_load(tmp: Path, amqp_uri: str, database_env: dict,
                        worker_classes: tuple[str, ...]):
    """The stack (clients, activities, the gateway with the first worker class) seeded
    with the card's client; a gateway of each other worker class beside the stack's, and
    a floor of each."""
    first = worker_classes[0]
    stack = start_stack(tmp / "gateway-load", amqp_uri,
                        dict(database_env, GATEWAY_WORKER_CLASS=first), services=SERVICES,
                        fake_ares=False)
    extra: list[subprocess.Popen] = []
    try:
        urls, pids = {first: stack.url}, {first: stack.procs["gateway"].pid}
        floors = {}
        for worker_class in worker_classes:
            if worker_class != first:
                url, proc = _gunicorn(stack, f"gateway-{worker_class}", "crm_gateway.wsgi:app",
                                      worker_class, "/readyz", extra)
                urls[worker_class], pids[worker_class] = url, proc.pid
            floors[worker_class], _ = _gunicorn(stack, f"floor-{worker_class}",
                                                "bench.static_app:app", worker_class, "/",
                                                extra)
            floors[worker_class] += "/"
        client_id = seed(stack.url)
        for url in urls.values():
            check_card(url, client_id)
        yield Gateways(urls, floors, pids, client_id)
    finally:
        for proc in extra:
            _stop(proc)
        stack.stop()


def _gunicorn(stack, key: str, app: str, worker_class: str, probe: str,
              started: list) -> tuple[str, subprocess.Popen]:
    """gunicorn with the gateway's settings (crm_gateway/gunicorn_conf.py) serving `app`,
    its log beside the stack's; (base URL, process) once `probe` answers 200."""
    port = free_port()
    log = stack.log_path(key)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [stack.python, "-m", "gunicorn", "-c", "python:crm_gateway.gunicorn_conf", app],
            cwd=ROOT, env=dict(stack.env, GATEWAY_PORT=str(port),
                               GATEWAY_WORKER_CLASS=worker_class),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    started.append(proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{key} exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(url + probe, timeout=5).status_code == 200:
                return url, proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{key} did not answer in 60 s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen, timeout: float = 15):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def seed(gateway_url: str) -> str:
    """The card's client: an IČO, a parent, two subsidiaries, three contact persons, open
    and won deals, open tasks and a full recent timeline; beside it OTHER_CLIENTS more
    clients. Its id."""
    base = gateway_url + "/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"

    def post(path, body, status=201):
        answer = session.post(base + path, json=body, timeout=60)
        if answer.status_code != status:
            raise RuntimeError(f"POST {path} answered {answer.status_code}: {answer.text}")
        return answer.json()

    parent = post("/clients", {"name": "Bench Holding a.s."})
    client = post("/clients", {"name": "Bench Card s.r.o.", "ico": ICO,
                               "parent_id": parent["id"], "email": "card@example.com",
                               "phone": "+420 601 000 000"})
    cid = client["id"]
    for n in range(2):
        post("/clients", {"name": f"Bench Subsidiary {n} s.r.o.", "parent_id": cid})
    for n in range(3):
        post(f"/clients/{cid}/contacts", {"first_name": f"Jana{n}", "last_name": "Nováková",
                                          "position": "nákup",
                                          "emails": [{"value": f"jana{n}@example.com"}]})
    for n in range(OPEN_DEALS + WON_DEALS):
        deal = post("/deals", {"title": f"Zakázka {n}", "client_id": cid, "value": "125000"})
        if n >= OPEN_DEALS:
            post(f"/deals/{deal['id']}/won", {}, status=200)
    for n in range(TASKS):
        post(f"/clients/{cid}/activities", {"type": "task", "title": f"Zavolat {n}",
                                            "due_date": "2030-01-0{}".format(n + 1)})
    for n in range(TIMELINE):
        post(f"/clients/{cid}/notes", {"title": f"Schůzka {n}", "body": "Zápis ze schůzky."})
    post("/clients/batch", {"items": [{"name": f"Bench {n} s.r.o."}
                                      for n in range(OTHER_CLIENTS)]}, status=200)
    check_card(gateway_url, cid)
    return cid


def check_card(gateway_url: str, client_id: str) -> None:
    """The card through this gateway has every section, complete (with gevent too: the
    fan-out's threads are greenlets there); deals and tasks come through events, so this
    waits for them a while."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return _check_card(gateway_url, client_id)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _check_card(gateway_url: str, client_id: str) -> None:
    answer = requests.get(f"{gateway_url}/api/v1/clients/{client_id}/card", timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}"})
    card = answer.json()
    sections = {name: card.get(name, {}).get("status") for name in
                ("contacts", "subsidiaries", "timeline", "parent", "open_deals",
                 "closed_deals", "deal_summary", "open_tasks")}
    if answer.status_code != 200 or set(sections.values()) != {"ok"} \
            or len(card["contacts"]["items"]) != 3 \
            or len(card["timeline"]["items"]) != TIMELINE or not card["parent"]["client"] \
            or len(card["open_deals"]["items"]) != OPEN_DEALS \
            or len(card["closed_deals"]["items"]) != WON_DEALS \
            or len(card["open_tasks"]["items"]) != TASKS:
        raise RuntimeError(f"the card through {gateway_url} is not complete: "
                           f"{answer.status_code} {sections}")
