"""Event handlers on a real broker: a failing handler is retried with backoff, then parked;
what can never succeed is parked at once; a message that kills its consumer is parked after
the delivery limit; parked messages are replayed without ever being lost."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import kombu
import pika
import pytest
from sqlalchemy import create_engine, text

from crm_common.events import CONTENT_TYPE
from crm_common.messaging import metadata
from crm_common.parking import NoSuchQueue, list_parked, replay
from crm_common.rpc import RpcPool
from crm_common.stack import repo_root
from crm_common.testing import (_rabbitmqctl, cloud_event, create_vhost, delete_vhost,
                                publish_event, wait_until)

QUEUE = "evt-flakysrc-thing.happened--flaky.on_thing"
RETRY_DELAYS = "0.2,0.4"
DELIVERY_LIMIT = 3


class FlakyService:
    """The flaky test service as a real `nameko run` process that a test may kill."""

    def __init__(self, amqp_uri: str, tmp: Path):
        self.tmp = tmp
        self.db = f"sqlite:///{tmp / 'flaky.db'}"
        engine = create_engine(self.db)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE crashes (event_id VARCHAR(36))"))
        engine.dispose()
        config = (repo_root() / "services" / "clients" / "config.yaml").read_text()
        (tmp / "config.yaml").write_text(config.replace(
            "${AMQP_URI:amqp://guest:guest@localhost:5672/}", f"'{amqp_uri}'"))
        self.env = {"FLAKY_DATABASE_URL": self.db, "CRM_RETRY_DELAYS": RETRY_DELAYS,
                    "CRM_DELIVERY_LIMIT": str(DELIVERY_LIMIT), "PATH": "/usr/bin:/bin",
                    "CRM_VAR_DIR": str(tmp)}
        self.pool = RpcPool(amqp_uri, timeout=5)
        self.proc = None
        self.starts = 0

    def start(self):
        log = open(self.tmp / "flaky.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nameko", "run", "--config", str(self.tmp / "config.yaml"),
             "flaky_service"], cwd=Path(__file__).parent / "flaky", env=self.env,
            stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        wait_until(lambda: self.call("health"), timeout=30, what="flaky service up")

    def restart_when_dead(self):
        if self.proc.poll() is not None:
            self.start()
        return True

    def call(self, method, **kwargs):
        return self.pool.call("flaky", method, kwargs)

    def crashes(self, event_id) -> int:
        engine = create_engine(self.db)
        with engine.connect() as conn:
            count = conn.scalar(text("SELECT count(*) FROM crashes WHERE event_id = :id"),
                                {"id": event_id})
        engine.dispose()
        return count

    def log(self) -> str:
        return (self.tmp / "flaky.log").read_text(errors="replace")

    def stop(self):
        self.pool.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


@pytest.fixture(scope="module")
def vhost():
    uri, name = create_vhost("crm-flaky")
    yield uri, name
    delete_vhost(name)


@pytest.fixture(scope="module")
def flaky(vhost, tmp_path_factory):
    service = FlakyService(vhost[0], tmp_path_factory.mktemp("flaky"))
    service.start()
    yield service
    service.stop()


def _state(flaky, event):
    return flaky.call("state", event_id=event["id"])


def _publish_raw(amqp_uri, body: bytes, content_type=CONTENT_TYPE, routing_key="thing.happened"):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.exchange_declare("flakysrc.events", exchange_type="topic", durable=True)
        channel.confirm_delivery()
        channel.basic_publish("flakysrc.events", routing_key, body,
                              pika.BasicProperties(content_type=content_type, delivery_mode=2,
                                                   message_id="raw-1"))
    finally:
        connection.close()


def _parked_with(amqp_uri, predicate, timeout=10):
    return wait_until(lambda: [p for p in list_parked(amqp_uri, QUEUE) if predicate(p)],
                      timeout=timeout, what="parked message")


def _clear_parking(amqp_uri):
    with kombu.Connection(amqp_uri) as conn:
        kombu.Queue(f"{QUEUE}.parking", durable=True)(conn.channel()).purge()


def test_a_failing_handler_is_retried_until_it_succeeds(flaky, vhost):
    amqp_uri = vhost[0]
    event = cloud_event("flakysrc", "thing.happened", "s", {"fail_times": 2})
    publish_event(amqp_uri, "flakysrc", event)
    state = wait_until(lambda: (s := _state(flaky, event))["done"] and s, timeout=20,
                       what="handler success after retries")
    assert state == {"attempts": 3, "done": 1}
    assert not [p for p in list_parked(amqp_uri, QUEUE) if p["message_id"] == event["id"]]


def test_a_handler_failing_every_time_is_parked_then_replayed(flaky, vhost):
    amqp_uri = vhost[0]
    _clear_parking(amqp_uri)
    event = cloud_event("flakysrc", "thing.happened", "s", {"fail_times": 3})
    publish_event(amqp_uri, "flakysrc", event)
    [parked] = _parked_with(amqp_uri, lambda p: p["message_id"] == event["id"], timeout=20)
    assert parked["attempts"] == 3 and "failing on purpose" in parked["error"]
    assert parked["reason"] == "retries-exhausted"
    assert _state(flaky, event) == {"attempts": 3, "done": 0}
    assert replay(amqp_uri, QUEUE) == 1  # the operator fixed the cause and replays
    wait_until(lambda: _state(flaky, event)["done"] == 1, timeout=20, what="replayed")
    assert list_parked(amqp_uri, QUEUE) == []


@pytest.mark.parametrize("body, content_type, reason", [
    (b"{", CONTENT_TYPE, "undecodable"),
    (b"\xff\xfe not even text", CONTENT_TYPE, "undecodable"),
    (b"<xml/>", "text/xml", "undecodable"),  # a content type the service does not accept
    (b'{"hello": 1}', CONTENT_TYPE, "not-a-cloudevent"),
    (b'[1, 2]', "application/json", "not-a-cloudevent"),
    (json.dumps({"specversion": "1.0", "id": "x" * 40, "source": "/s", "type": "thing.happened",
                 "data": {}}).encode(), CONTENT_TYPE, "not-a-cloudevent"),
])
def test_what_can_never_succeed_is_parked_at_once_and_the_rest_keeps_flowing(
        flaky, vhost, body, content_type, reason):
    amqp_uri = vhost[0]
    _clear_parking(amqp_uri)
    started = time.monotonic()
    _publish_raw(amqp_uri, body, content_type)
    good = cloud_event("flakysrc", "thing.happened", "s", {})
    publish_event(amqp_uri, "flakysrc", good)
    [parked] = _parked_with(amqp_uri, lambda p: p["message_id"] == "raw-1")
    assert parked["reason"] == reason and parked["error"]
    assert parked["attempts"] is None  # no retry delay was waited for
    assert parked["body"] == body.decode("utf-8", "replace")
    assert time.monotonic() - started < 5
    wait_until(lambda: _state(flaky, good)["done"] == 1, timeout=10, what="the next event")
    assert flaky.proc.poll() is None


def test_an_event_the_handler_rejects_is_parked_without_retries(flaky, vhost):
    amqp_uri = vhost[0]
    _clear_parking(amqp_uri)
    event = cloud_event("flakysrc", "thing.happened", "s", {"poison": True})
    publish_event(amqp_uri, "flakysrc", event)
    [parked] = _parked_with(amqp_uri, lambda p: p["message_id"] == event["id"])
    assert parked["reason"] == "rejected" and "never be processed" in parked["error"]
    assert _state(flaky, event)["attempts"] == 1


def test_a_message_that_kills_its_consumer_is_parked_after_the_delivery_limit(flaky, vhost):
    amqp_uri = vhost[0]
    _clear_parking(amqp_uri)
    event = cloud_event("flakysrc", "thing.happened", "s", {"crash": True})
    publish_event(amqp_uri, "flakysrc", event)
    # a supervisor (here: the test) restarts the process each time it dies
    parked = wait_until(
        lambda: flaky.restart_when_dead() and [
            p for p in list_parked(amqp_uri, QUEUE) if p["message_id"] == event["id"]],
        timeout=90, interval=0.5, what="the crashing message parked")
    assert parked[0]["reason"] == "delivery-limit"
    assert flaky.crashes(event["id"]) == DELIVERY_LIMIT  # not forever
    flaky.restart_when_dead()
    after = cloud_event("flakysrc", "thing.happened", "s", {})
    publish_event(amqp_uri, "flakysrc", after)
    wait_until(lambda: _state(flaky, after)["done"] == 1, timeout=20, what="service flowing")


def test_a_failing_retry_publish_backs_off_instead_of_looping(flaky, vhost):
    """The broker refuses the retry queue (a policy makes it reject every publish): the
    handler must not rerun in a tight loop; once the broker takes the retry, it goes on."""
    amqp_uri, name = vhost
    _rabbitmqctl("set_policy", "-p", name, "--apply-to", "queues", "refuse-retries",
                 r"\.retry\.", '{"max-length": 0, "overflow": "reject-publish"}')
    try:
        event = cloud_event("flakysrc", "thing.happened", "s", {"fail_times": 1})
        publish_event(amqp_uri, "flakysrc", event)
        time.sleep(6)
        # the message is kept and its move retried with backoff: the handler ran once
        assert _state(flaky, event) == {"attempts": 1, "done": 0}
        assert flaky.log().count("could not move message") <= 4
    finally:
        _rabbitmqctl("clear_policy", "-p", name, "refuse-retries")
    wait_until(lambda: _state(flaky, event)["done"] == 1, timeout=40, what="recovered")
    assert flaky.proc.poll() is None


def test_replay_to_a_queue_that_is_gone_loses_nothing(vhost):
    amqp_uri = vhost[0]
    gone = "evt-flakysrc-thing.happened--removed.handler"
    with kombu.Connection(amqp_uri) as conn:
        producer = conn.Producer()
        kombu.Queue(f"{gone}.parking", durable=True)(producer.channel).declare()
        producer.publish(b'{"id": "p-1"}', exchange="", routing_key=f"{gone}.parking",
                         content_type=CONTENT_TYPE, content_encoding="utf-8", message_id="p-1",
                         delivery_mode=2)
    with pytest.raises(NoSuchQueue, match="does not exist"):
        replay(amqp_uri, gone)
    assert [p["message_id"] for p in list_parked(amqp_uri, gone)] == ["p-1"]


def test_a_call_past_its_deadline_is_skipped(flaky, vhost):
    amqp_uri = vhost[0]
    _send_call(amqp_uri, "touch", {"key": "late"}, deadline_ms=int(time.time() * 1000) - 1)
    _send_call(amqp_uri, "touch", {"key": "in-time"},
               deadline_ms=int(time.time() * 1000) + 5000)
    wait_until(lambda: flaky.call("touched", key="in-time") == 1, what="the call in time ran")
    assert flaky.call("touched", key="late") == 0


def test_a_paused_service_does_not_run_calls_its_callers_gave_up_on(flaky, vhost):
    amqp_uri = vhost[0]
    flaky.proc.send_signal(signal.SIGSTOP)
    try:  # delivered to the stopped process (prefetch), so the broker cannot expire it
        _send_call(amqp_uri, "touch", {"key": "paused"},
                   deadline_ms=int(time.time() * 1000) + 1000)
        time.sleep(2)
    finally:
        flaky.proc.send_signal(signal.SIGCONT)
    _send_call(amqp_uri, "touch", {"key": "resumed"},
               deadline_ms=int(time.time() * 1000) + 5000)
    wait_until(lambda: flaky.call("touched", key="resumed") == 1, what="the service resumed")
    assert flaky.call("touched", key="paused") == 0


def test_work_that_would_begin_after_the_deadline_is_not_begun(flaky, vhost):
    amqp_uri = vhost[0]
    _send_call(amqp_uri, "touch", {"key": "slow", "delay": 1.5},
               deadline_ms=int(time.time() * 1000) + 1000)
    _send_call(amqp_uri, "touch", {"key": "quick"}, deadline_ms=int(time.time() * 1000) + 5000)
    wait_until(lambda: flaky.call("touched", key="quick") == 1, what="the quick call ran")
    time.sleep(1)
    assert flaky.call("touched", key="slow") == 0
    assert "deadline passed" in flaky.log()


def _send_call(amqp_uri, method, kwargs, deadline_ms):
    """An RPC request as the gateway sends it, with its deadline, without waiting for a reply."""
    with kombu.Connection(amqp_uri) as conn:
        conn.Producer().publish(
            json.dumps({"args": [], "kwargs": kwargs}), exchange="nameko-rpc",
            routing_key=f"flaky.{method}", content_type="application/json",
            content_encoding="utf-8", headers={"nameko.deadline": deadline_ms},
            reply_to="nobody-listens", correlation_id="c")


def test_parked_messages_older_than_the_inbox_retention_are_pointed_out(monkeypatch):
    from datetime import datetime, timezone

    from crm_common.parking import older_than_the_inbox
    monkeypatch.setenv("INBOX_RETENTION_DAYS", "30")
    now = datetime(2026, 11, 23, tzinfo=timezone.utc)
    items = [{"message_id": "old", "parked_at": "2026-10-01T00:00:00Z"},
             {"message_id": "new", "parked_at": "2026-11-20T00:00:00Z"},
             {"message_id": "unknown", "parked_at": None}]
    assert [i["message_id"] for i in older_than_the_inbox(items, now)] == ["old"]
    monkeypatch.setenv("INBOX_RETENTION_DAYS", "0")  # kept forever: nothing to warn about
    assert older_than_the_inbox(items, now) == []
