"""The gateway's RPC client against a real nameko service on a real broker (and, for the
memory alarm, a private broker node of our own)."""
import json
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import kombu
import pika
import pytest

from crm_common.amqp import RPC_EXCHANGE
from crm_common.rpc import BrokerBlocked, NotSent, RemoteError, RpcClient, RpcPool, RpcTimeout
from crm_common.testing import (TcpProxy, _unavailable, create_vhost, database_env,
                                delete_vhost, start_stack, wait_until)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deals(amqp_uri, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rpc")
    stack = start_stack(tmp, amqp_uri, database_env("sqlite", tmp, services=["deals"]),
                        services=["deals"], gateway=False, fake_ares=False)
    yield stack
    stack.stop()


class FakeService:
    """A stand-in service on a queue bound to `nameko-rpc` (`<service>.*`), read with pika
    (not kombu) in a thread of its own: it records every request and, when `answer` is set,
    replies as nameko would."""

    def __init__(self, amqp_uri: str, service: str, answer: bool = True):
        self.amqp_uri, self.service, self.answer = amqp_uri, service, answer
        self.queue = f"test-rpc-{service}-{uuid.uuid4().hex[:6]}"
        self.requests: list[tuple[float, pika.BasicProperties, dict]] = []  # (arrived ms, ..)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the fake service did not start"

    def _serve(self):
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        channel = connection.channel()
        channel.exchange_declare(RPC_EXCHANGE, exchange_type="topic", durable=True)
        channel.queue_declare(self.queue, exclusive=True)
        channel.queue_bind(self.queue, RPC_EXCHANGE, routing_key=f"{self.service}.*")
        self._ready.set()
        try:
            while not self._stop.is_set():
                method, props, body = channel.basic_get(self.queue, auto_ack=True)
                if method is None:
                    connection.sleep(0.02)
                    continue
                request = json.loads(body)
                self.requests.append((time.time() * 1000, props, request))
                if self.answer:
                    channel.basic_publish(
                        RPC_EXCHANGE, props.reply_to,
                        json.dumps({"result": {"echo": request["kwargs"]}, "error": None}),
                        pika.BasicProperties(correlation_id=props.correlation_id,
                                             content_type="application/json"))
        finally:
            connection.close()

    def close(self):
        self._stop.set()
        self._thread.join(10)


def test_calls_errors_and_parallel_fan_out(deals, amqp_uri):
    pool = RpcPool(amqp_uri, timeout=5)
    try:
        assert pool.call("deals", "health", {}) == {"service": "deals", "status": "ok"}
        with pytest.raises(RemoteError) as exc:
            pool.call("nobody", "health", {})
        assert exc.value.exc_type == "ServiceUnavailable"  # returned at once, no timeout
        with pytest.raises(RemoteError) as exc:
            pool.call("deals", "no_such_method", {})
        assert exc.value.exc_type == "MethodNotFound"
        timings = {}
        results = pool.fan_out({f"c{i}": ("deals", "health", {}) for i in range(6)},
                               timings=timings)
        assert all(r == {"service": "deals", "status": "ok"} for r in results.values())
        assert set(timings) == set(results) and all(0 < t < 5 for t in timings.values())
    finally:
        pool.close()


def test_every_request_carries_its_deadline(amqp_uri):
    service = FakeService(amqp_uri, "probe")
    pool = RpcPool(amqp_uri, timeout=3)
    try:
        sent_ms = time.time() * 1000
        assert pool.call("probe", "echo", {"x": 1}, context={"actor": "test"}) == \
            {"echo": {"x": 1}}
        [(_, props, body)] = service.requests
        assert body == {"args": [], "kwargs": {"x": 1}}
        assert props.headers["nameko.actor"] == "test"
        deadline = props.headers["nameko.deadline"]  # absolute UNIX time, integer ms
        assert isinstance(deadline, int)
        assert sent_ms + 2500 < deadline <= time.time() * 1000 + 3000
        expiration = int(props.expiration)  # the ms left when it was published
        assert 2500 < expiration <= 3000
        assert abs((deadline - expiration) - sent_ms) < 500  # both name the same moment
    finally:
        pool.close()
        service.close()


def test_a_request_nobody_took_by_its_deadline_is_dropped_by_the_broker(amqp_uri):
    # bound, but nobody reads it: the queue of a service that is paused
    channel = pika.BlockingConnection(pika.URLParameters(amqp_uri)).channel()
    channel.exchange_declare(RPC_EXCHANGE, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, RPC_EXCHANGE, routing_key="asleep.*")
    pool = RpcPool(amqp_uri, timeout=1.5)

    def queued():
        return channel.queue_declare(queue, passive=True).method.message_count

    try:
        with ThreadPoolExecutor(1) as executor:
            call = executor.submit(pool.call, "asleep", "work", {})
            wait_until(lambda: queued() == 1, timeout=1, what="the request to be queued")
            with pytest.raises(RpcTimeout):
                call.result()
        # gone once its deadline passed, so a service resuming later never sees it
        wait_until(lambda: queued() == 0, timeout=3, what="the expired request to go")
    finally:
        pool.close()
        channel.connection.close()


def test_the_deadline_holds_while_other_traffic_arrives(amqp_uri):
    """Late replies of earlier calls keep arriving: the wait still ends at the deadline
    (counting idle slices of silence would never end)."""
    service = FakeService(amqp_uri, "asleep2", answer=False)  # routed, never answered
    client = RpcClient(amqp_uri, timeout=1)
    stop = threading.Event()

    def late_replies():
        give_up = time.monotonic() + 5  # so a wrong wait fails the test instead of hanging
        with kombu.Connection(amqp_uri) as conn:
            producer = conn.Producer()
            while not stop.wait(0.05) and time.monotonic() < give_up:
                producer.publish({"result": "late"}, exchange=RPC_EXCHANGE,
                                 routing_key=client.reply_to,
                                 correlation_id=str(uuid.uuid4()))

    thread = threading.Thread(target=late_replies, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(RpcTimeout):
            client.call("asleep2", "work", {})
        assert 0.9 < time.monotonic() - started < 2
    finally:
        stop.set()
        thread.join()
        client.close()
        service.close()


def test_a_silent_broker_fails_the_call_by_its_deadline(deals, amqp_uri):
    proxy = TcpProxy().up()
    pool = RpcPool(proxy.uri(amqp_uri), timeout=1)
    try:
        pool.call("deals", "health", {})
        proxy.stalled.set()  # nothing comes back: a half-open connection
        started = time.monotonic()
        with pytest.raises(RpcTimeout):  # it was sent: the outcome is unknown
            pool.call("deals", "health", {})
        assert 0.9 < time.monotonic() - started < 2
        started = time.monotonic()
        pool.close()  # no close handshake waits for the silent broker
        assert time.monotonic() - started < 3
    finally:
        proxy.down()


def test_an_unreachable_broker_is_not_sent(amqp_uri):
    proxy = TcpProxy()  # never up: connection refused
    pool = RpcPool(proxy.uri(amqp_uri), timeout=2)
    try:
        with pytest.raises(NotSent):
            pool.call("deals", "health", {})
        with pytest.raises(NotSent):
            pool.check_broker(1)
    finally:
        pool.close()


def test_a_pooled_connection_broken_while_idle_is_replaced_before_sending(deals, amqp_uri):
    proxy = TcpProxy().up()
    pool = RpcPool(proxy.uri(amqp_uri), timeout=5)
    try:
        pool.call("deals", "health", {})
        proxy.down()  # e.g. the broker restarted while the connection sat in the pool
        proxy.up()
        assert pool.call("deals", "health", {}) == {"service": "deals", "status": "ok"}
        proxy.down()
        proxy.up()
        assert pool.check_broker(2) == "ok"  # /readyz: the same, for the broker check
    finally:
        pool.close()
        proxy.down()


def _connections_in(vhost: str) -> int:
    out = subprocess.run(["rabbitmqctl", "-q", "list_connections", "vhost"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return sum(1 for line in out.splitlines() if line.strip() == vhost)


def test_a_client_that_fails_after_connecting_closes_its_connection(amqp_uri):
    uri, vhost = create_vhost("crm-rpc-leak")
    if vhost is None:
        _unavailable("rabbitmqctl (to see the broker's connections)")
    try:
        # the RPC exchange exists with another type: declaring the reply queue fails
        with kombu.Connection(uri) as conn:
            kombu.Exchange(RPC_EXCHANGE, type="fanout", durable=True)(conn.channel()).declare()
        with pytest.raises(Exception) as failure:  # noqa: PT011 - PreconditionFailed
            RpcClient(uri)
        assert "PRECONDITION_FAILED" in str(failure.value) or "inequivalent" in \
            str(failure.value)
        # `failure` still holds the half-built client: only an explicit close frees it
        wait_until(lambda: _connections_in(vhost) == 0, timeout=10,
                   what="the failed client's connection to close")
    finally:
        delete_vhost(vhost)


def test_an_idle_pooled_connection_is_kept_alive_by_heartbeats(deals, amqp_uri):
    pool = RpcPool(amqp_uri, timeout=5, heartbeat=2)
    try:
        assert pool.call("deals", "health", {})["status"] == "ok"
        time.sleep(7)  # > 2 heartbeat intervals: without heartbeats the broker drops it
        assert pool.call("deals", "health", {})["status"] == "ok"
        assert pool.connections_opened == 1  # the same connection, not a replacement
    finally:
        pool.close()


def test_a_blocked_broker_fails_fast_and_the_pool_recovers(private_rabbit):
    uri = private_rabbit.amqp_uri
    service = FakeService(uri, "probe")
    pool = RpcPool(uri, timeout=5, heartbeat=2)
    try:
        assert pool.call("probe", "echo", {"n": 1}) == {"echo": {"n": 1}}
        private_rabbit.raise_memory_alarm()
        try:
            # RabbitMQ blocks a connection when it next publishes: this request is held
            started = time.monotonic()
            with pytest.raises(RpcTimeout):  # may still run later: outcome unknown
                pool.call("probe", "echo", {"n": 2})
            assert time.monotonic() - started < 2  # not the 5 s timeout
            started = time.monotonic()
            with pytest.raises(BrokerBlocked):  # the pool knows: nothing is sent
                pool.call("probe", "echo", {"n": 3})
            assert time.monotonic() - started < 0.2
            assert pool.check_broker(1) == "blocked"
            time.sleep(6)  # > 2 heartbeat intervals and past the held request's deadline
            assert pool.blocked_reason()
        finally:
            private_rabbit.clear_memory_alarm()
        wait_until(lambda: pool.call("probe", "echo", {"n": 4}) == {"echo": {"n": 4}},
                   timeout=8, what="the pool to recover after the alarm")
        assert pool.blocked_reason() is None and pool.check_broker(1) == "ok"
        # the held request arrived only after its deadline: a service must skip it
        held = [(arrived, props) for arrived, props, body in service.requests
                if body["kwargs"] == {"n": 2}]
        assert held and held[0][0] > held[0][1].headers["nameko.deadline"]
        assert not [body for _, _, body in service.requests if body["kwargs"] == {"n": 3}]
    finally:
        pool.close()
        service.close()


def test_a_call_already_waiting_when_the_broker_starts_blocking_answers_at_once(private_rabbit):
    """Its reply cannot come while the alarm lasts (the service's connection is blocked
    too): once any pooled connection learns of the block, it answers "outcome unknown"."""
    uri = private_rabbit.amqp_uri
    silent = FakeService(uri, "silent", answer=False)  # stands for a service whose reply is held
    talker = FakeService(uri, "talker")
    pool = RpcPool(uri, timeout=20, heartbeat=2)
    outcome = {}

    def wait_for_the_silent_one():
        started = time.monotonic()
        try:
            pool.call("silent", "echo", {})
        except Exception as exc:  # noqa: BLE001 - inspected below
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    try:
        assert pool.call("talker", "echo", {"n": 1}) == {"echo": {"n": 1}}
        waiting = threading.Thread(target=wait_for_the_silent_one)
        waiting.start()
        time.sleep(1)  # it has sent its request and waits for the reply
        private_rabbit.raise_memory_alarm()
        try:
            with pytest.raises(RpcTimeout):  # this connection learns of the block
                pool.call("talker", "echo", {"n": 2})
            waiting.join(5)
            assert isinstance(outcome.get("error"), RpcTimeout), outcome
            assert outcome["seconds"] < 4  # not its 20 s timeout
        finally:
            private_rabbit.clear_memory_alarm()
    finally:
        pool.close()
        silent.close()
        talker.close()


def test_the_pool_is_bounded_and_shrinks_back(monkeypatch):
    """Made with a stand-in for the broker connection: how many the pool opens, keeps and
    makes a caller wait for."""
    import threading
    import time

    from crm_common import rpc as rpc_module

    opened, closed = [], []

    class StandIn:
        broken = False

        def __init__(self, *args, **kwargs):
            opened.append(self)

        def close(self):
            closed.append(self)

    monkeypatch.setattr(rpc_module, "RpcClient", StandIn)
    pool = rpc_module.RpcPool("amqp://unused", max_connections=2, max_idle=1)
    pool._start_keeper = lambda: None  # no heartbeats for stand-ins
    try:
        first, _ = pool._acquire(time.monotonic() + 1)
        second, _ = pool._acquire(time.monotonic() + 1)
        with pytest.raises(rpc_module.NotSent, match="2 broker connections"):
            pool._acquire(time.monotonic() + 0.2)  # a third waits, then gives up
        taken = []
        waiter = threading.Thread(target=lambda: taken.append(
            pool._acquire(time.monotonic() + 5)))
        waiter.start()
        time.sleep(0.1)
        pool._release(first)  # the waiting caller gets it
        waiter.join(5)
        assert taken and taken[0] == (first, True) and len(opened) == 2
        pool._release(first)
        pool._release(second)  # one idle is kept, the other closed
        assert pool._idle == [second] and closed == [first]
        third, reused = pool._acquire(time.monotonic() + 1)  # a slot is free again
        assert (third, reused) == (second, True)
        fourth, reused = pool._acquire(time.monotonic() + 1)
        assert not reused and len(opened) == 3
    finally:
        pool.close()
