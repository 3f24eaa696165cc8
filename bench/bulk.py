"""Path 4: clients in bulk through the gateway, from the first POST until the last client's
"Client created" timeline row exists in the activities database (the whole chain: gateway,
clients and its outbox, the broker, activities)."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import os
from dataclasses import dataclass, field

import requests

from crm_common.testing import TEST_ADMIN_TOKEN

from .backlog import CREATED_ROWS, wait_for_rows
from .databases import RowCounter
from .payloads import new_client
from .procfs import CpuAccount, pids_named

TOKEN = TEST_ADMIN_TOKEN  # crm_common.testing.start_stack's bootstrap admin token
BATCH = 1_000  # the endpoint's limit per request
CONCURRENT_SINGLES = 8


@dataclass
class BulkRun:
    rate: float
    how: str  # what the client side did, for the metric's name
    cpu_ms_per_client: dict[str, float] = field(default_factory=dict)  # per process
    machine_busy: float = 0.0  # share of all cores busy meanwhile (1.0: saturated)

    def __str__(self):
        return f"{self.rate:.0f} clients/s, machine {self.machine_busy:.0%} busy"


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    return session


def batch_endpoint_exists(base: str) -> bool:
    """An empty batch is refused (or answered) by a batch endpoint; 404/405 means the
    path fell through to `/clients/<id>`, i.e. there is none yet."""
    answer = _session().post(f"{base}/clients/batch", json={"items": []}, timeout=30)
    return answer.status_code not in (404, 405)


def _post_batches(base: str, count: int) -> None:
    session = _session()
    for start in range(0, count, BATCH):
        items = [new_client(n) for n in range(start, min(count, start + BATCH))]
        answer = session.post(f"{base}/clients/batch", json={"items": items}, timeout=300)
        answer.raise_for_status()
        statuses = [item["status"] for item in answer.json()["items"]]
        if statuses != [201] * len(items):
            raise RuntimeError(f"batch answered {statuses[:5]}... instead of 201s")


def _post_singles(base: str, count: int) -> None:
    sessions = {}

    def one(n):  # one keep-alive session per worker thread
        session = sessions.setdefault(threading.get_ident(), _session())
        answer = session.post(f"{base}/clients", json=new_client(n), timeout=60)
        if answer.status_code != 201:
            raise RuntimeError(f"POST /clients answered {answer.status_code}: {answer.text}")

    with ThreadPoolExecutor(CONCURRENT_SINGLES) as pool:
        list(pool.map(one, range(count)))


def create_clients(gateway_url: str, activities_url: str, count: int,
                   processes: dict[str, int] | None = None) -> BulkRun:
    """`processes` (name -> pid): whose CPU to account for, besides the broker's."""
    base = gateway_url + "/api/v1"
    batch = batch_endpoint_exists(base)
    how = f"batches of {BATCH:,}" if batch else \
        f"{CONCURRENT_SINGLES} concurrent single POSTs (no batch endpoint)"
    counter = RowCounter(activities_url, CREATED_ROWS)
    try:
        before = counter.count()
        account = CpuAccount(dict(processes or {}, **{
            f"broker ({pid})": pid for pid in pids_named("beam.smp")}))
        started = time.monotonic()
        (_post_batches if batch else _post_singles)(base, count)
        _, _, done = wait_for_rows(counter, before + count, lambda: None,
                                   timeout=120 + count / 20)
        used = account.used()
        busy = used.pop("machine") / ((time.monotonic() - started) * os.cpu_count())
        return BulkRun(count / (done - started), how,
                       {name: 1000 * seconds / count for name, seconds in used.items()},
                       busy)
    finally:
        counter.close()
