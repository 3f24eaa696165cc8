"""Paths 1 and 2: the outbox. Commit N `client.created` events, one transaction each as a
service does, then time `OutboxRelay.drain()` publishing them into a durable queue bound
with `#` to `clients.events`."""
import inspect
import time
import uuid
from dataclasses import dataclass

from crm_common.db import make_engine, make_session_factory
from crm_common.messaging import metadata as messaging_metadata
from crm_common.outbox import OutboxRelay
from crm_common.uow import UnitOfWork

from . import floors
from .payloads import EVENT_TYPE, SOURCE_SERVICE, client_resource

# a batch goes out whole before its confirms are awaited: the relay's window
BATCH = inspect.signature(OutboxRelay).parameters["batch_size"].default


@dataclass
class RelayRun:
    events: int
    commit_seconds: float
    drain_seconds: float

    @property
    def relay_rate(self) -> float:  # path 1
        return self.events / self.drain_seconds

    @property
    def commit_and_relay_rate(self) -> float:  # path 2
        return self.events / (self.commit_seconds + self.drain_seconds)


def commit_and_relay(amqp_uri: str, database_url: str, count: int) -> RelayRun:
    engine = make_engine(database_url)
    queue = f"bench-relay-{uuid.uuid4().hex[:8]}"
    floors.bound_queue(amqp_uri, f"{SOURCE_SERVICE}.events", queue)
    relay = None
    try:
        messaging_metadata.create_all(engine)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        for n in range(count):
            with UnitOfWork(factory, SOURCE_SERVICE) as uow:
                client = client_resource(n)
                uow.emit(EVENT_TYPE, client["id"], {"client": client})
                uow.commit()
        committed = time.perf_counter() - started
        relay = OutboxRelay(engine, SOURCE_SERVICE, amqp_uri)
        relay.publisher.declare(relay.exchange)  # a running relay has its connection open
        started = time.perf_counter()
        published = relay.drain()
        drained = time.perf_counter() - started
        depth = floors.queue_depth(amqp_uri, queue)
        if published != count or depth != count:
            raise RuntimeError(f"relay published {published}, the queue holds {depth}, "
                               f"of {count} events")
        return RelayRun(count, committed, drained)
    finally:
        if relay is not None:
            relay.publisher.close()
        engine.dispose()
        floors.delete_queue(amqp_uri, queue)
