"""The database fails, and services run as competing replicas: stacks on a private
PostgreSQL cluster (one database per service) behind a fresh vhost of the shared broker."""
import pytest

from crm_common.stack import SERVICES
from fault_harness import Fault, run_scenario
from fault_system import private_database_env, running_system

pytestmark = [pytest.mark.fault, pytest.mark.integration]


def test_postgres_restarted(private_postgres, fresh_vhost, fake_ares, tmp_path):
    with running_system(tmp_path, fresh_vhost(), private_database_env(private_postgres, SERVICES),
                        fake_ares, setup="shared broker, private PostgreSQL") as system:
        fault = Fault(inject=lambda: private_postgres.stop(mode="immediate"),
                      clear=private_postgres.start, hold=2, lasts=4)
        try:
            outcome = run_scenario(system, "PostgreSQL restart", "The PostgreSQL cluster "
                                   "every service uses stops mid-stream in immediate mode (no "
                                   "checkpoint, connections cut: recovery from the WAL, as "
                                   "after a crash) and starts again 2 s later.", fault)
        finally:
            private_postgres.start()  # no-op when running; the next test needs it
        outcome.notes.append(f"PostgreSQL took {private_postgres.start_seconds[-1]:.1f} s to "
                             f"start again")
        outcome.verify()


def test_three_replicas_handle_each_event_once(private_postgres, fresh_vhost, fake_ares,
                                               tmp_path):
    replicas = {"clients": 3, "activities": 3}
    with running_system(tmp_path, fresh_vhost(), private_database_env(private_postgres, SERVICES),
                        fake_ares, setup="shared broker, private PostgreSQL, 3 × clients, "
                                         "3 × activities", replicas=replicas) as system:
        outcome = run_scenario(system, "3 replicas", "Three processes of `clients` and three of "
                               "`activities` on one database each: competing consumers on "
                               "the event and RPC queues, three outbox relays taking turns "
                               "on the same rows (an advisory lock). No fault: every event "
                               "must be published and handled exactly once.", None)
        outcome.check(outcome.numbers.get("redelivered") == 0,
                      f"{outcome.numbers.get('redelivered')} client.created events reached the "
                      f"subscriber twice without any fault: relays published a row twice")
        outcome.verify()
