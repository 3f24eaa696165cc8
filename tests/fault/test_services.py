"""Services and ARES fail under a stream of creations: one stack on a fresh vhost of the
shared broker and PostgreSQL databases of the shared cluster, shared by these scenarios (each
counts only its own clients)."""
import signal
import time
from contextlib import contextmanager

import pytest

from crm_common.testing import database_env
from fault_harness import Fault, run_scenario
from fault_system import running_system

pytestmark = [pytest.mark.fault, pytest.mark.integration]


@pytest.fixture(scope="module")
def system(module_vhost, fake_ares, make_postgres_db, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fault-services")
    with running_system(tmp, module_vhost, database_env("postgresql", tmp, make_postgres_db),
                        fake_ares, setup="shared broker, PostgreSQL") as system:
        yield system


@contextmanager
def service_back(system, service: str):
    """A scenario that broke off between stopping and starting a service must not leave it
    down for the next scenario."""
    try:
        yield
    finally:
        if service not in system.stack.procs:
            system.stack.start_service(service)


@contextmanager
def ares_back(system):
    try:
        yield
    finally:
        if system.fake._server is None:
            system.start_fake_ares()


def test_ares_down_for_a_while(system):
    fault = Fault(inject=system.stop_fake_ares, clear=system.start_fake_ares, hold=5)
    with ares_back(system):
        outcome = run_scenario(system, "ARES down 5 s", "The fake ARES stops (connections "
                               "refused) for 5 s and comes back on the same port. Lookups "
                               "made meanwhile end in one \"ARES unavailable, will retry\" and, "
                               "after a retry, in \"Data loaded from ARES\".", fault)
    retried = outcome.numbers.get("ares_unavailable_clients", 0)
    outcome.notes.append(f"{retried} clients were looked up while ARES was down")
    outcome.verify()


@pytest.mark.parametrize("service", ["clients", "ares", "activities"])
def test_service_killed_and_restarted(system, service):
    def kill():
        system.stack.stop_service(service, sig=signal.SIGKILL)

    fault = Fault(inject=kill, clear=lambda: system.stack.start_service(service), hold=1,
                  lasts=4)  # the service needs a few seconds to boot
    with service_back(system, service):
        outcome = run_scenario(system, f"{service} kill -9", f"The `{service}` service's "
                               "process group gets SIGKILL mid-stream (no shutdown, workers cut "
                               "off); it is started again after 1 s.", fault)
    outcome.verify()


@pytest.mark.parametrize("service", ["clients", "activities"])
def test_busy_service_terminated_and_restarted(system, service):
    stopped = {}

    def terminate():
        started = time.monotonic()
        system.stack.stop_service(service, sig=signal.SIGTERM)  # waits; SIGKILL after 15 s
        stopped["seconds"] = time.monotonic() - started

    fault = Fault(inject=terminate, clear=lambda: system.stack.start_service(service), hold=1,
                  lasts=5)
    with service_back(system, service):
        outcome = run_scenario(system, f"{service} SIGTERM", f"The busy `{service}` service "
                               "gets SIGTERM mid-stream (nameko finishes the running workers, "
                               "the stack kills it if that takes over 15 s) and is started "
                               "again.", fault)
    outcome.notes.append(f"it stopped in {stopped.get('seconds', 0):.1f} s after SIGTERM")
    outcome.check(stopped.get("seconds", 99) < 14, f"{service} did not stop on SIGTERM "
                  f"({stopped.get('seconds', 0):.1f} s; killed after 15 s)")
    outcome.verify()

