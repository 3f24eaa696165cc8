"""A failing handler is retried with backoff, then parked; parked messages can be replayed."""
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from crm_common.messaging import metadata
from crm_common.parking import list_parked, replay
from crm_common.rpc import RpcPool
from crm_common.stack import repo_root
from crm_common.testing import cloud_event, publish_event, wait_until

QUEUE = "evt-flakysrc-thing.happened--flaky.on_thing"


@pytest.fixture(scope="module")
def flaky(amqp_uri, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flaky")
    db = f"sqlite:///{tmp / 'flaky.db'}"
    metadata.create_all(create_engine(db))
    service_config = (repo_root() / "services" / "clients" / "config.yaml").read_text()
    (tmp / "config.yaml").write_text(service_config.replace(
        "${AMQP_URI:amqp://guest:guest@localhost:5672/}", f"'{amqp_uri}'"))
    env = {"FLAKY_DATABASE_URL": db, "CRM_RETRY_DELAYS": "0.2,0.4", "PATH": "/usr/bin:/bin"}
    log = open(tmp / "flaky.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "nameko", "run", "--config",
                             str(tmp / "config.yaml"), "flaky_service"],
                            cwd=Path(__file__).parent / "flaky", env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    pool = RpcPool(amqp_uri)
    try:
        wait_until(lambda: pool.call("flaky", "health", {}, timeout=1), timeout=30,
                   what="flaky service up")
        yield pool
    finally:
        pool.close()
        proc.terminate()
        proc.wait(10)


def _state(pool, event):
    return pool.call("flaky", "state", {"event_id": event["id"]})


def test_a_failing_handler_is_retried_until_it_succeeds(flaky, amqp_uri):
    event = cloud_event("flakysrc", "thing.happened", "s", {"fail_times": 2})
    publish_event(amqp_uri, "flakysrc", event)
    state = wait_until(lambda: (s := _state(flaky, event))["done"] and s, timeout=20,
                       what="handler success after retries")
    assert state == {"attempts": 3, "done": 1}
    assert list_parked(amqp_uri, QUEUE) == []


def test_a_handler_failing_every_time_is_parked_then_replayed(flaky, amqp_uri):
    event = cloud_event("flakysrc", "thing.happened", "s", {"fail_times": 3})
    publish_event(amqp_uri, "flakysrc", event)
    parked = wait_until(lambda: list_parked(amqp_uri, QUEUE), timeout=20, what="parked")
    assert [p["message_id"] for p in parked] == [event["id"]]
    assert parked[0]["attempts"] == 3 and "failing on purpose" in parked[0]["error"]
    assert _state(flaky, event) == {"attempts": 3, "done": 0}
    assert replay(amqp_uri, QUEUE) == 1  # the operator fixed the cause and replays
    wait_until(lambda: _state(flaky, event)["done"] == 1, timeout=20, what="replayed")
    assert list_parked(amqp_uri, QUEUE) == []
