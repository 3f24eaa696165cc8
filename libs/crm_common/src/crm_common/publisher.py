"""One long-lived, bounded publishing connection per process and purpose.

Opening a connection per message costs a TCP and AMQP handshake each time and, in a failure
loop, floods the broker with connections. A `Publisher` opens its connection when first
needed, keeps it (with heartbeats, see `keep_alive`), and drops it without the close handshake
the moment anything fails, so the next publish starts afresh. Thread-safe (and green-thread
safe under eventlet's monkey-patching).
"""
import logging
import threading

import kombu

from . import config
from .amqp import discard, keep_alive, open_connection

log = logging.getLogger(__name__)


class Unroutable(Exception):
    """The broker had no queue for a mandatory message and returned it: it was not taken."""


class Publisher:
    def __init__(self, uri: str, *, confirms: bool = True, heartbeat: int | None = None,
                 timeout: float | None = None, name: str = "publisher"):
        self.uri = uri
        self.confirms = confirms
        self.heartbeat = config.amqp_heartbeat() if heartbeat is None else heartbeat
        self.timeout = config.amqp_timeout() if timeout is None else timeout
        self.name = name
        self._lock = threading.RLock()
        self._connection: kombu.Connection | None = None
        self._producer: kombu.Producer | None = None
        self._declared: set[tuple] = set()
        self._returned: list[str] = []

    # -- the connection -----------------------------------------------------------
    def _ensure(self) -> kombu.Producer:
        if self._producer is None:
            connection = open_connection(self.uri, confirms=self.confirms,
                                         heartbeat=self.heartbeat, timeout=self.timeout)
            try:
                channel = connection.channel()
                channel.events["basic_return"].add(self._on_return)
                self._producer = kombu.Producer(channel)
            except BaseException:
                discard(connection)
                raise
            self._connection = connection
            self._declared = set()
        return self._producer

    def _on_return(self, exc, exchange, routing_key, message):
        # the broker sends basic.return before the confirm of the same message
        self._returned.append(f"{exchange or '(default)'}/{routing_key}: {exc}")

    def drop(self) -> None:
        with self._lock:
            discard(self._connection)
            self._connection = self._producer = None
            self._declared = set()

    close = drop

    @property
    def connected(self) -> bool:
        return self._producer is not None

    # -- operations ---------------------------------------------------------------
    def declare(self, entity, passive: bool = False) -> None:
        """Declare a kombu Queue or Exchange once per connection (passive: it must exist)."""
        key = (type(entity).__name__, entity.name, passive)
        with self._lock:
            producer = self._ensure()
            if key in self._declared:
                return
            bound = entity(producer.channel)
            try:
                if not passive:
                    bound.declare()
                elif isinstance(bound, kombu.Queue):
                    bound.queue_declare(passive=True)
                else:
                    bound.declare(passive=True)
            except BaseException:
                self.drop()  # a failed declare closes the channel
                raise
            self._declared.add(key)

    def publish(self, body, *, exchange="", routing_key: str, mandatory: bool = False,
                **properties) -> None:
        """Publish and, with confirms, wait (bounded) until the broker has taken the message.

        Raises `Unroutable` when a mandatory message was returned (the connection stays
        usable), anything else after dropping the connection.
        """
        with self._lock:
            producer = self._ensure()
            self._returned.clear()
            try:
                producer.publish(
                    body, exchange=exchange, routing_key=routing_key, mandatory=mandatory,
                    retry=False, timeout=self.timeout,
                    confirm_timeout=self.timeout if self.confirms else None, **properties)
            except BaseException:
                self.drop()
                raise
            if self._returned:
                raise Unroutable("; ".join(self._returned))

    def keep_alive(self) -> None:
        """Heartbeats for an idle connection; a dead one is dropped (reopened when needed)."""
        with self._lock:
            if self._connection is None:
                return
            try:
                keep_alive(self._connection)
            except Exception as exc:  # noqa: BLE001 - dead: the next publish reconnects
                log.info("%s: idle broker connection lost (%s); reconnecting when needed",
                         self.name, exc)
                self.drop()
