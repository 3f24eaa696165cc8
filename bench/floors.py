"""The floors: what raw py-amqp (no kombu, no nameko, no database) does on the same broker,
with the same bodies, durable queues and persistent messages as production.

Helper processes (a consumer, an RPC server) run as `python -m bench.floors ...`, so they
have a core and an interpreter of their own, as the services do.
"""
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import amqp

from crm_common.events import CONTENT_TYPE

from .settings import PREFETCH, WINDOW

ROOT = Path(__file__).resolve().parents[1]
PERSISTENT = 2


def connect(uri: str) -> amqp.Connection:
    parts = urlsplit(uri)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    connection = amqp.Connection(
        host=f"{parts.hostname or 'localhost'}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"), password=unquote(parts.password or "guest"),
        virtual_host=vhost, heartbeat=0)
    connection.connect()
    return connection


def broker_version(uri: str) -> str:
    connection = connect(uri)
    try:
        version = connection.server_properties.get("version", "unknown")
        return version.decode() if isinstance(version, bytes) else str(version)
    finally:
        connection.close()


def bound_queue(uri: str, exchange: str, queue: str, routing_key: str = "#") -> None:
    """A durable queue bound to a durable topic exchange, as production's event queues."""
    connection = connect(uri)
    try:
        channel = connection.channel()
        if exchange:
            channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        channel.queue_declare(queue, durable=True, auto_delete=False)
        if exchange:
            channel.queue_bind(queue, exchange, routing_key)
    finally:
        connection.close()


def queue_depth(uri: str, queue: str) -> int:
    connection = connect(uri)
    try:
        return connection.channel().queue_declare(queue, passive=True).message_count
    finally:
        connection.close()


def delete_queue(uri: str, queue: str) -> None:
    connection = connect(uri)
    try:
        connection.channel().queue_delete(queue)
    finally:
        connection.close()


def _message(body: bytes, message_id: str) -> amqp.Message:
    return amqp.Message(body, content_type=CONTENT_TYPE, content_encoding="utf-8",
                        delivery_mode=PERSISTENT, message_id=message_id)


def publish_confirmed(uri: str, exchange: str, routing_key: str, bodies, count: int,
                      window: int = WINDOW) -> float:
    """Publish `count` persistent messages (cycling through `bodies`) with at most `window`
    unconfirmed at a time; seconds until the broker confirmed the last one."""
    bodies = list(bodies)
    connection = connect(uri)
    try:
        channel = connection.channel()
        pending: set[int] = set()

        def acked(tag, multiple):
            if multiple:
                pending.difference_update([t for t in pending if t <= tag])
            else:
                pending.discard(tag)

        def nacked(tag, multiple):
            raise RuntimeError(f"the broker refused message {tag}")

        channel.events["basic_ack"].add(acked)
        channel.events["basic_nack"].add(nacked)
        channel.confirm_select()
        started = time.perf_counter()
        for tag in range(1, count + 1):
            while len(pending) >= window:
                connection.drain_events(timeout=30)
            pending.add(tag)
            channel.basic_publish(_message(bodies[tag % len(bodies)], str(tag)),
                                  exchange=exchange, routing_key=routing_key)
        while pending:
            connection.drain_events(timeout=30)
        return time.perf_counter() - started
    finally:
        connection.close()


def consume(uri: str, queue: str, count: int, prefetch: int = PREFETCH,
            ready=lambda: None) -> tuple[float, float]:
    """Consume and ack (one by one, as nameko does) `count` messages; the monotonic times
    of the first delivery and of the last ack."""
    connection = connect(uri)
    try:
        channel = connection.channel()
        channel.basic_qos(0, prefetch, False)
        times: list[float] = []

        def on_message(message):
            channel.basic_ack(message.delivery_tag)
            times.append(time.monotonic())

        channel.basic_consume(queue, callback=on_message)
        ready()
        while len(times) < count:
            connection.drain_events(timeout=60)
        return times[0], times[-1]
    finally:
        connection.close()


# -- the floors of the paths ----------------------------------------------------------

def confirms_floor(uri: str, body: bytes, count: int) -> float:
    """Path 1's floor, msg/s: windowed confirms into a durable queue bound to a topic
    exchange with `#`."""
    exchange, queue = "bench-floor.events", f"bench-floor-{uuid.uuid4().hex[:8]}"
    bound_queue(uri, exchange, queue)
    try:
        seconds = publish_confirmed(uri, exchange, "client.created", [body], count)
        depth = queue_depth(uri, queue)
        if depth != count:
            raise RuntimeError(f"the floor's queue holds {depth} messages, not {count}")
        return count / seconds
    finally:
        delete_queue(uri, queue)


def publish_consume_floor(uri: str, body: bytes, count: int) -> float:
    """Path 2's floor, msg/s: the same publisher while another process consumes with acks;
    from the first publish to the last ack."""
    exchange, queue = "bench-floor.events", f"bench-floor-{uuid.uuid4().hex[:8]}"
    bound_queue(uri, exchange, queue)
    consumer = _helper("consume", uri, queue, str(count))
    try:
        _expect(consumer, "ready")
        started = time.monotonic()
        publish_confirmed(uri, exchange, "client.created", [body], count)
        _, last_ack = map(float, _expect(consumer, "done").split()[1:])
        return count / (last_ack - started)
    finally:
        _end(consumer)
        delete_queue(uri, queue)


def backlog_floor(uri: str, bodies: list[bytes], count: int, prefetch: int = PREFETCH
                  ) -> float:
    """Path 3's floor, msg/s: consume and ack a backlog of the same bodies from a durable
    queue, with the service's prefetch; first delivery to last ack."""
    queue = f"bench-floor-{uuid.uuid4().hex[:8]}"
    bound_queue(uri, "", queue)
    try:
        publish_confirmed(uri, "", queue, bodies, count)
        first, last = consume(uri, queue, count, prefetch)
        return (count - 1) / (last - first)
    finally:
        delete_queue(uri, queue)


class RawRpcServer:
    """A request/reply server in its own process: consume a durable queue, reply to
    `reply_to` with the request's correlation id, ack."""

    def __init__(self, uri: str):
        self.uri = uri
        self.queue = f"bench-floor-rpc-{uuid.uuid4().hex[:8]}"
        self.process = _helper("rpc-server", uri, self.queue)
        _expect(self.process, "ready")

    @property
    def pid(self) -> int:
        return self.process.pid

    def close(self):
        _end(self.process)
        delete_queue(self.uri, self.queue)


class RawRpcClient:
    """Its own exclusive reply queue; one call at a time, as a gateway thread makes them."""

    def __init__(self, uri: str, queue: str):
        self.queue = queue
        self.connection = connect(uri)
        self.channel = self.connection.channel()
        self.reply_to = self.channel.queue_declare("", exclusive=True).queue
        self.replies: dict[str, bytes] = {}
        self.channel.basic_consume(self.reply_to, no_ack=True, callback=self._on_reply)

    def _on_reply(self, message):
        self.replies[message.properties.get("correlation_id")] = message.body

    def call(self) -> bytes:
        correlation = str(uuid.uuid4())
        self.channel.basic_publish(amqp.Message(
            json.dumps({"args": [], "kwargs": {}}), content_type="application/json",
            content_encoding="utf-8", delivery_mode=PERSISTENT, reply_to=self.reply_to,
            correlation_id=correlation), exchange="", routing_key=self.queue)
        while correlation not in self.replies:
            self.connection.drain_events(timeout=30)
        return self.replies.pop(correlation)

    def close(self):
        self.connection.close()


def serve_rpc(uri: str, queue: str) -> None:
    connection = connect(uri)
    channel = connection.channel()
    channel.queue_declare(queue, durable=True, auto_delete=False)
    channel.basic_qos(0, PREFETCH, False)
    reply = json.dumps({"result": {"status": "ok"}, "error": None})

    def on_request(message):
        channel.basic_publish(amqp.Message(
            reply, content_type="application/json", content_encoding="utf-8",
            correlation_id=message.properties.get("correlation_id")),
            exchange="", routing_key=message.properties["reply_to"])
        channel.basic_ack(message.delivery_tag)

    channel.basic_consume(queue, callback=on_request)
    print("ready", flush=True)
    while True:
        connection.drain_events()


# -- helper processes ---------------------------------------------------------------

def _helper(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.floors", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def _expect(process: subprocess.Popen, word: str) -> str:
    line = process.stdout.readline().strip()
    if not line.startswith(word):
        raise RuntimeError(f"floor helper said {line!r} (exit {process.poll()}), "
                           f"expected {word!r}")
    return line


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    process.wait(10)


def main(argv: list[str]) -> None:
    command, uri, queue, *rest = argv
    if command == "rpc-server":
        serve_rpc(uri, queue)
    elif command == "consume":
        first, last = consume(uri, queue, int(rest[0]),
                              ready=lambda: print("ready", flush=True))
        print(f"done {first} {last}", flush=True)
    else:
        raise SystemExit(f"unknown floor helper {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
