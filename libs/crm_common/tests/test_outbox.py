"""The outbox against a real broker and real databases: nothing lost, nothing doubled."""
import threading
import time

import pytest
from sqlalchemy import func, select

from crm_common.db import make_engine, make_session_factory
from crm_common.messaging import metadata, outbox
from crm_common.outbox import OutboxRelay
from crm_common.testing import TcpProxy, wait_until
from crm_common.uow import UnitOfWork

SERVICE = "outboxtest"


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _commit_events(engine, count=1, commit=True):
    factory = make_session_factory(engine)
    with UnitOfWork(factory, SERVICE) as uow:
        events = [uow.emit("thing.happened", f"s{i}", {"n": i}) for i in range(count)]
        if commit:
            uow.commit()
    return events


def _pending(engine):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(outbox)
                           .where(outbox.c.sent_at.is_(None)))


def test_committed_events_are_published_and_rolled_back_ones_never(engine, amqp_uri,
                                                                   event_tap):
    tap = event_tap([(f"{SERVICE}.events", "#")])
    [kept] = _commit_events(engine)
    _commit_events(engine, commit=False)
    relay = OutboxRelay(engine, SERVICE, amqp_uri)
    assert relay.drain() == 1
    assert tap.wait_for(lambda e: e["id"] == kept["id"])["data"] == {"n": 0}
    assert relay.drain() == 0 and _pending(engine) == 0
    assert len(tap.of_type("thing.happened")) == 1


def test_broker_unreachable_after_commit_delays_but_never_loses(engine, amqp_uri, event_tap):
    tap = event_tap([(f"{SERVICE}.events", "#")])
    proxy = TcpProxy().up()
    relay = OutboxRelay(engine, SERVICE, proxy.uri(amqp_uri))
    _commit_events(engine)
    assert relay.drain() == 1  # connected through the proxy
    proxy.down()   # the broker is gone for this producer ...
    events = _commit_events(engine, count=3)  # ... right after these commit
    assert relay.drain() == 0
    assert _pending(engine) == 3 and not relay.broker_ok
    proxy.up()
    assert relay.drain() == 3
    got = {e["id"] for e in [tap.wait_for(lambda e, i=e["id"]: e["id"] == i) for e in events]}
    assert got == {e["id"] for e in events}
    assert len(tap.of_type("thing.happened")) == 4
    proxy.down()


def test_a_silent_broker_neither_stalls_the_relay_nor_the_service(engine, amqp_uri, event_tap):
    """Half-open connection (the broker keeps the socket but answers nothing, as under a
    memory alarm): the relay gives up within its bound, drops the connection without waiting
    for Close-Ok, and the service keeps committing meanwhile."""
    tap = event_tap([(f"{SERVICE}.events", "#")])
    proxy = TcpProxy().up()
    relay = OutboxRelay(engine, SERVICE, proxy.uri(amqp_uri), publish_timeout=1)
    _commit_events(engine)
    assert relay.drain() == 1
    proxy.stalled.set()
    [stuck] = _commit_events(engine)
    worker = threading.Thread(target=relay.drain, daemon=True)
    started = time.monotonic()
    worker.start()
    more = _commit_events(engine, count=2)  # the database is not held by the relay
    worker.join(30)
    assert not worker.is_alive() and not relay.broker_ok
    assert time.monotonic() - started < 4  # one bound, not the broker's mercy
    if engine.dialect.name == "postgresql":  # its batch is not left locked
        with engine.begin() as conn:
            locked = conn.execute(select(outbox.c.id).where(outbox.c.sent_at.is_(None))
                                  .with_for_update(nowait=True)).all()
        assert len(locked) == 3
    proxy.down()
    proxy.stalled.clear()
    proxy.up()
    assert relay.drain() == 3
    for event in [stuck, *more]:
        tap.wait_for(lambda e, i=event["id"]: e["id"] == i)
    proxy.down()


def test_relay_loop_is_woken_by_commit_and_survives_an_outage(engine, amqp_uri, event_tap):
    tap = event_tap([(f"{SERVICE}.events", "#")])
    proxy = TcpProxy().up()
    relay = OutboxRelay(engine, SERVICE, proxy.uri(amqp_uri), sweep_interval=0.3)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        [first] = _commit_events(engine)
        relay.wake()
        tap.wait_for(lambda e: e["id"] == first["id"], timeout=10)
        proxy.down()
        [second] = _commit_events(engine)
        relay.wake()
        wait_until(lambda: not relay.broker_ok, what="relay noticing the outage")
        proxy.up()
        tap.wait_for(lambda e: e["id"] == second["id"], timeout=20)
    finally:
        relay.stop()
        thread.join(5)
        proxy.down()


def test_stop_publishes_what_was_committed_before_it(engine, amqp_uri, event_tap):
    tap = event_tap([(f"{SERVICE}.events", "#")])
    relay = OutboxRelay(engine, SERVICE, amqp_uri, sweep_interval=60)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    events = _commit_events(engine, count=3)  # committed, the relay not woken
    relay.stop()
    assert relay.stopped.wait(20)
    for event in events:
        tap.wait_for(lambda e, i=event["id"]: e["id"] == i, timeout=5)
    assert _pending(engine) == 0


def test_an_idle_relay_finds_a_half_open_connection_by_its_heartbeats(engine, amqp_uri):
    proxy = TcpProxy().up()
    relay = OutboxRelay(engine, SERVICE, proxy.uri(amqp_uri), sweep_interval=0.2, heartbeat=1)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        _commit_events(engine)
        relay.wake()
        wait_until(lambda: _pending(engine) == 0, what="first event out")
        time.sleep(3)  # idle for three heartbeat intervals: kept alive
        assert relay.publisher.connected
        proxy.stalled.set()  # the peer vanishes without closing anything
        wait_until(lambda: not relay.publisher.connected, timeout=10,
                   what="the dead connection dropped")
    finally:
        relay.stop()
        thread.join(10)
        proxy.down()


def test_two_relays_publish_each_event_exactly_once_in_commit_order(amqp_uri, event_tap,
                                                                    make_postgres_db):
    engine = make_engine(make_postgres_db("relays"))
    metadata.create_all(engine)
    tap = event_tap([(f"{SERVICE}.events", "#")])
    events = _commit_events(engine, count=300)
    relays = [OutboxRelay(engine, SERVICE, amqp_uri, batch_size=20) for _ in range(2)]
    threads = [threading.Thread(target=r.drain) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    wait_until(lambda: len(tap.of_type("thing.happened")) >= 300, timeout=20)
    ids = [e["id"] for e in tap.of_type("thing.happened")]
    # each once, and in the order committed: the relays take turns, batch after batch
    assert ids == [e["id"] for e in events]
    assert _pending(engine) == 0
    engine.dispose()


def _bound_queue(amqp_uri, name, exchange, **arguments):
    """A durable queue bound to `exchange` for every key (as a subscriber's is)."""
    import kombu
    from crm_common.amqp import confirmed_connection, events_exchange
    queue = kombu.Queue(name, events_exchange(exchange), routing_key="#", durable=True,
                        queue_arguments=arguments or None)
    with confirmed_connection(amqp_uri) as conn:
        bound = queue(conn.channel())
        bound.declare()
        bound.purge()
    return queue


def _queued_bodies(amqp_uri, queue):
    import json
    from crm_common.amqp import confirmed_connection
    bodies = []
    with confirmed_connection(amqp_uri) as conn:
        bound = queue(conn.channel())
        while (message := bound.get(no_ack=True)) is not None:
            bodies.append(json.loads(message.body))
        bound.delete()
    return bodies


def test_a_batch_goes_out_in_one_window_in_order_into_a_durable_queue(engine, amqp_uri):
    service = "windowtest"
    queue = _bound_queue(amqp_uri, "windowtest-all", service)
    factory = make_session_factory(engine)
    with UnitOfWork(factory, service) as uow:
        events = [uow.emit("thing.happened", "one-aggregate", {"n": i}) for i in range(1200)]
        uow.commit()
    relay = OutboxRelay(engine, service, amqp_uri, batch_size=500)
    assert relay.drain() == 1200 and relay.broker_ok
    assert _pending(engine) == 0
    # per-aggregate order is the commit order
    assert [b["id"] for b in _queued_bodies(amqp_uri, queue)] == [e["id"] for e in events]


def test_only_the_confirmed_part_of_a_window_is_marked_sent(engine, amqp_uri):
    """A queue that refuses more than 3 messages makes the broker nack the rest of the
    window (reject-publish): those rows stay pending, with the reason, for a later drain."""
    service = "nacktest"
    queue = _bound_queue(amqp_uri, "nacktest-full", service,
                         **{"x-max-length": 3, "x-overflow": "reject-publish"})
    factory = make_session_factory(engine)
    with UnitOfWork(factory, service) as uow:
        events = [uow.emit("thing.happened", f"s{i}", {"n": i}) for i in range(5)]
        uow.commit()
    relay = OutboxRelay(engine, service, amqp_uri)
    assert relay.drain() == 3 and not relay.broker_ok
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event_id, outbox.c.sent_at, outbox.c.attempts,
                                   outbox.c.last_error).order_by(outbox.c.id)).all()
    assert [r.event_id for r in rows if r.sent_at is not None] == [e["id"] for e in events[:3]]
    unsent = [r for r in rows if r.sent_at is None]
    assert [r.event_id for r in unsent] == [e["id"] for e in events[3:]]
    assert all(r.attempts == 1 and "refused" in r.last_error for r in unsent)
    assert [b["id"] for b in _queued_bodies(amqp_uri, queue)] == [e["id"] for e in events[:3]]
    assert relay.drain() == 2 and _pending(engine) == 0  # the queue is gone: routed nowhere
