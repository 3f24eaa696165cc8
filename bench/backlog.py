"""Path 3: the activities service working off a backlog.

N `client.created` events wait in its handler queue while it is stopped; then it starts and
we poll its database until N timeline rows exist. The rate runs from the first row seen to
the last, so the process's start-up (imports, connecting) is not counted.
"""
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from crm_common.stack import SERVICES, Stack, process_key, repo_root
from crm_common.testing import TEST_ADMIN_TOKEN

from . import floors
from .databases import RowCounter
from .payloads import outbox_payload
from .procfs import peak_memory_mib

SERVICE = "activities"
HANDLER = "on_client_created"
QUEUE = f"evt-clients-client.created--{SERVICE}.{HANDLER}"
CREATED_ROWS = "SELECT count(*) FROM timeline_entries WHERE title = 'Client created'"
POLL = 0.01


def handler_prefetch() -> int:
    """The window the handler's consumer asks the broker for, worked out by the service's
    own consumer class from its config.yaml (as `nameko run` reads it): the floor consumes
    with the same one. A per-message handler has nameko's max_workers; a batch handler
    its EVENT_BATCH_PREFETCH."""
    import yaml
    with warnings.catch_warnings():  # nameko imports eventlet, which says it is deprecated
        warnings.simplefilter("ignore")
        from nameko.cli.main import setup_yaml_parser
        from nameko.constants import DEFAULT_MAX_WORKERS, MAX_WORKERS_CONFIG_KEY
        from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

        from crm_common.topology import load_service_class
        service_class = load_service_class(SERVICES[SERVICE])
    setup_yaml_parser()  # ${VAR:default} in config.yaml
    config = yaml.safe_load((repo_root() / "services" / SERVICE / "config.yaml").read_text())
    container = SimpleNamespace(config=config, max_workers=config.get(
        MAX_WORKERS_CONFIG_KEY, DEFAULT_MAX_WORKERS))
    (entrypoint,) = getattr(getattr(service_class, HANDLER), ENTRYPOINT_EXTENSIONS_ATTR)
    return type(entrypoint.queue_consumer).prefetch_count.fget(
        SimpleNamespace(container=container))


def stack_env(amqp_uri: str, db_env: dict) -> dict:
    """What `crm_common.testing.start_stack` gives the processes."""
    return {"AMQP_URI": amqp_uri, "CRM_BOOTSTRAP_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
            "OUTBOX_SWEEP_SECONDS": "1", "ARES_RETRY_BASE_SECONDS": "1",
            "ARES_METRICS_PORT": "0", "CRM_RETRY_DELAYS": "0.2,0.5,1",
            "LOG_LEVEL": "INFO", **db_env}


def backlog_bodies(count: int) -> list[bytes]:
    """Distinct events (the inbox would skip a repeated id), as the relay publishes them."""
    return [outbox_payload(n) for n in range(count)]


@dataclass
class BacklogRun:
    rate: float
    peak_memory_mib: float


def wait_for_rows(counter: RowCounter, count: int, alive, timeout: float
                  ) -> tuple[float, int, float]:
    """(time the first rows were seen, how many, time all `count` were there)."""
    deadline = time.monotonic() + timeout
    first = None
    while True:
        seen = counter.count()
        moment = time.monotonic()
        if seen and first is None:
            first = (moment, seen)
        if seen >= count:
            return first[0], first[1], moment
        if moment > deadline:
            raise RuntimeError(f"{seen} of {count} timeline rows after {timeout:.0f} s")
        alive()
        time.sleep(POLL)


def work_off_backlog(amqp_uri: str, database_url: str, bodies: list[bytes], var: Path,
                     replicas: int = 1) -> BacklogRun:
    """`replicas` processes compete for the queue (PostgreSQL only: SQLite is one process's)."""
    stack = Stack(env=stack_env(amqp_uri, {"ACTIVITIES_DATABASE_URL": database_url}),
                  var_dir=var, services=[SERVICE], gateway=False)
    stack.migrate()  # tables, and the handler queues declared as the release step does
    floors.publish_confirmed(amqp_uri, "", QUEUE, bodies, len(bodies))
    counter = RowCounter(database_url, CREATED_ROWS)
    try:
        processes = {process_key(SERVICE, replica): stack.start_service(SERVICE, replica)
                     for replica in range(1, replicas + 1)}

        def alive():
            for key, process in processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{key} exited:\n{stack.tail(key)}")

        first_at, first_rows, last_at = wait_for_rows(
            counter, len(bodies), alive, timeout=60 + len(bodies) / 50)
        if first_rows >= len(bodies):
            raise RuntimeError("the backlog was gone before the first poll: make it longer")
        rate = (len(bodies) - first_rows) / (last_at - first_at)
        return BacklogRun(rate, max(peak_memory_mib(process.pid) for process in processes.values()))
    finally:
        counter.close()
        stack.stop()
