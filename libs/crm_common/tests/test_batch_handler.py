"""The batch event handler on a real broker and database (SQLite and PostgreSQL): a backlog
goes through in a few transactions with one effect per event, and everything that decides a
single message's fate (duplicates, failures, poison, redeliveries, broken bodies) still
does so per message, without holding back or parking the others."""
import json
import subprocess
import sys
from pathlib import Path

import kombu
import pika
import pytest
from sqlalchemy import create_engine, text

from crm_common.amqp import events_exchange
from crm_common.events import CONTENT_TYPE
from crm_common.messaging import metadata
from crm_common.nameko_glue import ATTEMPT_HEADER, DELIVERIES_HEADER
from crm_common.parking import list_parked
from crm_common.rpc import RpcPool
from crm_common.testing import cloud_event, create_vhost, delete_vhost, wait_until

QUEUE = "evt-batchsrc-thing.happened--batchy.on_things"
BATCH_SIZE = 50
DELIVERY_LIMIT = 3
CONFIG = f"""
AMQP_URI: '{{amqp_uri}}'
max_workers: 10
EVENT_BATCH_SIZE: {BATCH_SIZE}
EVENT_BATCH_PREFETCH: {2 * BATCH_SIZE}
SERIALIZERS:
  cloudevents:
    encoder: crm_common.events.dumps
    decoder: crm_common.events.loads
    content_type: application/cloudevents+json
ACCEPT: [json, cloudevents]
"""


class BatchyService:
    """tests/flaky/batchy_service.py as a real `nameko run` process on its own database."""

    def __init__(self, amqp_uri: str, tmp: Path, db_url: str):
        self.amqp_uri = amqp_uri
        self.tmp = tmp
        self.engine = create_engine(db_url)
        metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            conn.execute(text("CREATE TABLE things (event_id VARCHAR(36) NOT NULL)"))
        (tmp / "config.yaml").write_text(CONFIG.format(amqp_uri=amqp_uri))
        self.env = {"BATCHY_DATABASE_URL": db_url, "CRM_RETRY_DELAYS": "0.2,0.4",
                    "CRM_DELIVERY_LIMIT": str(DELIVERY_LIMIT), "PATH": "/usr/bin:/bin",
                    "CRM_VAR_DIR": str(tmp)}
        self.pool = RpcPool(amqp_uri, timeout=5)
        self.proc = None

    def start(self):
        log = open(self.tmp / "batchy.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nameko", "run", "--config", str(self.tmp / "config.yaml"),
             "batchy_service"], cwd=Path(__file__).parent / "flaky", env=self.env,
            stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.call("health"), timeout=30, what="batchy service up")

    def call(self, method, **kwargs):
        return self.pool.call("batchy", method, kwargs)

    def rows(self) -> dict[str, int]:
        """Rows written per event id."""
        with self.engine.connect() as conn:
            return dict(conn.execute(text(
                "SELECT event_id, count(*) FROM things GROUP BY event_id")).all())

    def transactions(self) -> int:
        """Commits that recorded events: a batch's inbox rows share their processed_at."""
        with self.engine.connect() as conn:
            return conn.scalar(text("SELECT count(DISTINCT processed_at) FROM inbox"))

    def stop(self):
        self.pool.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self.engine.dispose()


@pytest.fixture(scope="module")
def vhost():
    uri, name = create_vhost("crm-batchy")
    with kombu.Connection(uri) as conn:  # as the release step does: events wait for us
        kombu.Queue(QUEUE, exchange=events_exchange("batchsrc"), routing_key="thing.happened",
                    durable=True)(conn.channel()).declare()
    yield uri
    delete_vhost(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def batchy(request, vhost, tmp_path):
    """A stopped service on a fresh database: the test publishes a backlog, then starts it."""
    if request.param == "postgresql":
        url = request.getfixturevalue("make_postgres_db")("batchy")
    else:
        url = f"sqlite:///{tmp_path / 'batchy.db'}"
    with kombu.Connection(vhost) as conn:
        parking = kombu.Queue(f"{QUEUE}.parking", durable=True)(conn.channel())
        parking.declare()
        parking.purge()
    service = BatchyService(vhost, tmp_path, url)
    yield service
    service.stop()


def _publish(amqp_uri, messages, channel=None):
    """Events (dicts, headers under "_headers") or raw (body, content type, message id)
    tuples, in this order."""
    connection = None
    if channel is None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        channel = connection.channel()
        channel.confirm_delivery()
    for message in messages:
        headers = {}
        if isinstance(message, tuple):
            body, content_type, message_id = message
        else:
            headers = message.get("_headers", {})
            event = {k: v for k, v in message.items() if k != "_headers"}
            body, content_type, message_id = json.dumps(event).encode(), CONTENT_TYPE, \
                event["id"]
        channel.basic_publish("batchsrc.events", "thing.happened", body, pika.BasicProperties(
            content_type=content_type, delivery_mode=2, message_id=message_id,
            headers=headers))
    if connection is not None:
        connection.close()


def _event(**data):
    return cloud_event("batchsrc", "thing.happened", "s", data)


def _parked(amqp_uri) -> dict[str, dict]:
    return {p["message_id"]: p for p in list_parked(amqp_uri, QUEUE)}


def test_a_backlog_goes_in_batches_with_one_effect_per_event(batchy):
    events = [_event(n=i) for i in range(300)]
    # suspects: a copy counted after a consumer died with it, a retry after a failure
    copied = dict(_event(), _headers={DELIVERIES_HEADER: 1})
    retried = dict(_event(), _headers={ATTEMPT_HEADER: 1})
    # a duplicate right behind its original: the same batch
    _publish(batchy.amqp_uri, events[:11] + [dict(events[10])] + events[11:100] + [copied]
             + events[100:200] + [retried] + events[200:])
    batchy.start()
    events += [copied, retried]
    wait_until(lambda: len(batchy.rows()) == len(events), timeout=20, what="the backlog done")
    _publish(batchy.amqp_uri, [dict(events[0])])  # a duplicate in a later batch
    wait_until(lambda: sum(map(len, batchy.call("batches"))) == len(events) + 2,
               what="the duplicate")

    assert batchy.rows() == {event["id"]: 1 for event in events}
    batches = batchy.call("batches")
    sizes = [len(batch) for batch in batches]
    assert max(sizes) <= BATCH_SIZE
    assert len(sizes) <= len(events) / 10, sizes
    assert [copied["id"]] in batches and [retried["id"]] in batches  # alone, never batched
    assert batchy.transactions() <= len(events) / 10
    assert _parked(batchy.amqp_uri) == {}


def test_a_failing_event_falls_back_to_one_at_a_time_and_alone_is_retried_then_parked(
        batchy):
    good = [_event(n=i) for i in range(80)]
    failing = _event(fail_times=99)  # fails in its batch, alone, and on every retry
    recovering = _event(fail_times=2)  # succeeds by its first or second retry
    _publish(batchy.amqp_uri, good[:20] + [failing] + good[20:40] + [recovering] + good[40:])
    batchy.start()

    parked = wait_until(lambda: _parked(batchy.amqp_uri), timeout=20, what="a parked message")
    assert list(parked) == [failing["id"]]
    assert parked[failing["id"]]["reason"] == "retries-exhausted"
    assert parked[failing["id"]]["attempts"] == 3  # run alone, then after two delays
    wait_until(lambda: recovering["id"] in batchy.rows(), timeout=10, what="retried event")
    assert batchy.rows() == {event["id"]: 1 for event in good + [recovering]}
    # the others of the failed batch ran once in it and once alone: none was retried
    assert all(batchy.call("attempts", event_id=event["id"]) <= 2 for event in good)
    assert batchy.call("attempts", event_id=failing["id"]) == 4  # batch, alone, 2 retries
    batches = batchy.call("batches")
    assert max(map(len, batches)) > 1
    assert batches.count([failing["id"]]) == 3  # alone after its batch, then each retry


def test_redelivered_poison_and_broken_messages_mixed_into_a_batch(batchy):
    amqp_uri = batchy.amqp_uri
    at_limit = dict(_event(), _headers={DELIVERIES_HEADER: DELIVERY_LIMIT - 1})
    redelivered = _event()
    poison = _event(poison=True)
    good = [_event(n=i) for i in range(40)]
    # two messages a consumer took and then vanished with: they come back `redelivered`
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.confirm_delivery()
    _publish(amqp_uri, [at_limit, redelivered], channel)
    taken = [channel.basic_get(QUEUE, auto_ack=False)[0] for _ in range(2)]
    assert all(taken)
    _publish(amqp_uri, good[:15] + [poison, (b"{", CONTENT_TYPE, "raw-undecodable")]
             + good[15:30] + [(b'{"hello": 1}', CONTENT_TYPE, "raw-not-an-event")]
             + good[30:], channel)
    connection.close()
    batchy.start()

    expected = {at_limit["id"]: "delivery-limit", poison["id"]: "rejected",
                "raw-undecodable": "undecodable", "raw-not-an-event": "not-a-cloudevent"}
    wait_until(lambda: len(_parked(amqp_uri)) == len(expected), timeout=20, what="parked")
    recorded = good + [redelivered]
    wait_until(lambda: len(batchy.rows()) == len(recorded), timeout=10, what="the good ones")
    assert {m: p["reason"] for m, p in _parked(amqp_uri).items()} == expected
    assert batchy.rows() == {event["id"]: 1 for event in recorded}
    assert batchy.call("attempts", event_id=poison["id"]) <= 2  # its batch, alone: no retry
    batches = batchy.call("batches")
    assert max(map(len, batches)) > 1
    assert not any(at_limit["id"] in batch for batch in batches)
