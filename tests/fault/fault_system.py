"""The system a fault scenario runs against: the stack, the fake ARES, the broker URI."""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests

from ares_service.fake import FakeAres
from crm_common.stack import RestartPolicy, Stack
from crm_common.testing import start_stack

# what the services get on top of start_stack's test settings
FAULT_ENV = {
    "ARES_RATE_PER_MINUTE": "100000",  # the throttle is not under test; the fake is local
    "ARES_READ_TIMEOUT": "2",
    # a batch claimed by an ares process that is killed before it records the answers comes
    # back when its lease runs out: 20 s instead of the product's 120 s, so that it comes
    # back within the settle window (SETTLE_TIMEOUT) and the scenario can see it is not lost
    "ARES_LEASE_SECONDS": "20",
    # long enough that "parked at once" is told apart from "parked after the retries"
    "CRM_RETRY_DELAYS": "5,30",
}


@dataclass
class System:
    stack: Stack
    fake: FakeAres
    amqp_uri: str  # the services' broker, where the subscriber connects too
    setup: str  # for the report: broker, database, replicas
    crashes: list[str] = field(default_factory=list)  # what the supervisor restarted

    def wait_ready(self, timeout: float) -> None:
        """Until the gateway's /readyz is 200 (every service answers), or AssertionError."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"{self.stack.url}/readyz", timeout=5)
                if response.status_code == 200:
                    return
                last = response.text
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise AssertionError(f"the system was not ready in {timeout}s: {last}")

    def stop_fake_ares(self) -> None:
        self.fake.stop()

    def start_fake_ares(self) -> None:
        self.fake.start()  # on the same port: ARES is back at the same address


@contextmanager
def running_system(tmp, amqp_uri: str, db_env: dict, fake: FakeAres, setup: str,
                   replicas: dict | None = None):
    """Every service and the gateway (all five: the gateway is ready only when each answers),
    supervised as a deployment would be: a process that exits on its own is started again
    (and the scenario reports it); one a scenario stops itself (stop_service) is not."""
    stack = start_stack(tmp, amqp_uri, db_env, fake_ares=False, replicas=replicas,
                        extra_env={"ARES_BASE_URL": fake.url, **FAULT_ENV})
    system = System(stack, fake, amqp_uri, setup)
    stop = threading.Event()

    def crashed(message: str) -> None:
        if "exited" in message:
            system.crashes.append(message.split(";")[0])

    supervisor = threading.Thread(target=stack.supervise, name="supervisor", daemon=True,
                                  kwargs={"stop": stop, "say": crashed,
                                          "policy": RestartPolicy(initial=0.5)})
    supervisor.start()
    try:
        yield system
    finally:
        stop.set()
        supervisor.join(10)
        stack.stop()


def private_database_env(postgres, services) -> dict:
    """One database per service on a private PostgreSQL cluster."""
    label = uuid.uuid4().hex[:6]
    return {f"{name.upper()}_DATABASE_URL": postgres.create_database(f"{name}_{label}")
            for name in services}
