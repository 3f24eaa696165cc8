"""Fixtures of the fault suite: the system under test, the fake ARES, private servers.

Scenarios that kill the broker or the database get a private RabbitMQ node or PostgreSQL
cluster (crm_common.testing_nodes); the others run on a fresh vhost of the shared broker.
Everything started here is stopped and removed at teardown, also when a test fails.
"""
import os
import sys
from pathlib import Path

import pytest

from ares_service.fake import FakeAres
from crm_common.testing import (RABBIT_HOST, RABBIT_PORT, _port_open, _unavailable,
                                create_vhost, delete_vhost)

sys.path.insert(0, str(Path(__file__).parent))  # the harness beside this file (importlib mode)
import fault_harness  # noqa: E402
import fault_report  # noqa: E402


@pytest.fixture(scope="module")
def fake_ares():
    fake = FakeAres(synthesize=True).start()
    yield fake
    fake.stop()


@pytest.fixture
def fresh_vhost():
    """Makes vhosts on the shared broker; each is deleted at teardown."""
    if not _port_open(RABBIT_HOST, RABBIT_PORT):
        _unavailable(f"RabbitMQ at {RABBIT_HOST}:{RABBIT_PORT}")
    made = []

    def make() -> str:
        uri, vhost = create_vhost("crm-fault")
        made.append(vhost)
        return uri

    yield make
    for vhost in made:
        delete_vhost(vhost)


@pytest.fixture(scope="module")
def module_vhost():
    if not _port_open(RABBIT_HOST, RABBIT_PORT):
        _unavailable(f"RabbitMQ at {RABBIT_HOST}:{RABBIT_PORT}")
    uri, vhost = create_vhost("crm-fault")
    yield uri
    delete_vhost(vhost)


@pytest.fixture(scope="module")
def private_rabbit(private_rabbit):
    """The session's private node (crm_common.testing); its start times go into the report."""
    fault_report.SERVER_STARTS["RabbitMQ node"] = private_rabbit.start_seconds
    return private_rabbit


@pytest.fixture(scope="module")
def private_postgres(private_postgres):
    fault_report.SERVER_STARTS["PostgreSQL cluster"] = private_postgres.start_seconds
    return private_postgres


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when == "call":
        item.fault_call_report = report


@pytest.fixture(autouse=True)
def _record_outcomes(request):
    """An outcome a test made but did not verify (it raised first) is still reported."""
    before = len(fault_harness.PENDING)
    yield
    report = getattr(request.node, "fault_call_report", None)
    for outcome in fault_harness.PENDING[before:]:
        if report is not None and report.failed and not outcome.failures:
            outcome.failures.append("the test failed: " + report.longreprtext.strip()
                                    .splitlines()[-1][:300])
        outcome.record()


def pytest_configure(config):
    if os.environ.get("CRM_FAULT_REPORT") and config.getoption("numprocesses", None):
        # each xdist worker has only its own scenarios' outcomes
        raise pytest.UsageError("CRM_FAULT_REPORT: run the fault suite in one process "
                                "(without -n) to make its report")


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("CRM_FAULT_REPORT")
    if path and fault_harness.SESSION_OUTCOMES:
        fault_report.render(fault_harness.SESSION_OUTCOMES, Path(path))
