"""An independent subscriber for the fault suite: pika, not kombu or nameko."""
from __future__ import annotations

import json
import logging
import threading
import uuid

import pika

logging.getLogger("pika").setLevel(logging.CRITICAL)  # it logs every expected reconnect


class Subscriber:
    """pika (not kombu, not nameko) on a durable queue of its own, acking each delivery
    only after recording it, reconnecting after a broker restart: nothing the broker took
    over can slip past it."""

    BINDINGS = (("clients.events", "client.created"), ("ares.events", "ares.lookup_succeeded"),
                ("ares.events", "ares.lookup_failed"))

    def __init__(self, amqp_uri: str, scenario: str):
        self.params = pika.URLParameters(amqp_uri)
        self.params.heartbeat = 5
        self.params.connection_attempts = 1
        self.params.socket_timeout = 3
        self.params.blocked_connection_timeout = 30
        self.queue = f"fault-subscriber-{scenario}-{uuid.uuid4().hex[:6]}"
        self.deliveries: dict[str, list[str]] = {}  # event type -> event ids as delivered
        self.by_subject: dict[tuple[str, str], set[str]] = {}  # (type, subject) -> event ids
        self.reasons: dict[str, str] = {}  # event id -> ares.lookup_failed reason
        self.undecodable = 0
        self.reconnects = 0
        self.server_version = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Subscriber":
        connection = pika.BlockingConnection(self.params)  # declared before the stream starts
        try:
            version = (connection._impl.server_properties or {}).get("version", "")
            self.server_version = version.decode() if isinstance(version, bytes) else version
            self._declare(connection.channel())
        finally:
            connection.close()
        self._thread = threading.Thread(target=self._run, name="subscriber", daemon=True)
        self._thread.start()
        return self

    def _declare(self, channel) -> None:
        channel.queue_declare(self.queue, durable=True)
        for exchange, key in self.BINDINGS:
            channel.exchange_declare(exchange, exchange_type="topic", durable=True)
            channel.queue_bind(self.queue, exchange, routing_key=key)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                connection = pika.BlockingConnection(self.params)
                try:
                    channel = connection.channel()
                    channel.basic_qos(prefetch_count=500)
                    self._declare(channel)
                    channel.basic_consume(self.queue, self._on_message)
                    while not self._stop.is_set():
                        connection.process_data_events(time_limit=0.2)
                finally:
                    if connection.is_open:
                        connection.close()
            except (pika.exceptions.AMQPError, OSError):
                self.reconnects += 1
                self._stop.wait(0.5)

    def _on_message(self, channel, method, properties, body) -> None:
        try:
            event = json.loads(body)
            kind, event_id, subject = event["type"], event["id"], event.get("subject")
        except (ValueError, KeyError, TypeError):
            with self._lock:
                self.undecodable += 1  # e.g. the poison scenario's own messages
        else:
            with self._lock:
                self.deliveries.setdefault(kind, []).append(event_id)
                self.by_subject.setdefault((kind, subject), set()).add(event_id)
                if kind == "ares.lookup_failed":
                    self.reasons[event_id] = (event.get("data") or {}).get("reason")
        channel.basic_ack(method.delivery_tag)

    def events(self, kind: str, subject: str) -> set[str]:
        with self._lock:
            return set(self.by_subject.get((kind, subject), ()))

    def ares_outcomes(self, ico: str) -> set[str]:
        """Distinct final answers of the register for `ico` (not "unavailable")."""
        failed = {e for e in self.events("ares.lookup_failed", ico)
                  if self.reasons.get(e) != "unavailable"}
        return self.events("ares.lookup_succeeded", ico) | failed

    def redelivered(self, kind: str, subjects: set[str]) -> int:
        """Deliveries of an event id seen before (at-least-once, legitimate)."""
        with self._lock:
            ids = self.deliveries.get(kind, [])
            mine = set().union(*(self.by_subject.get((kind, s), set()) for s in subjects)) \
                if subjects else set()
            return sum(1 for i in ids if i in mine) - len(mine)

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        try:
            connection = pika.BlockingConnection(self.params)
            connection.channel().queue_delete(self.queue)
            connection.close()
        except (pika.exceptions.AMQPError, OSError):
            pass  # the broker (a private node) may be gone already
