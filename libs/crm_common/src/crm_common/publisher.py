"""One long-lived, bounded publishing connection per process and purpose.

Opening a connection per message costs a TCP and AMQP handshake each time and, in a failure
loop, floods the broker with connections. A `Publisher` opens its connection when first
needed, keeps it (with heartbeats, see `keep_alive`), and drops it without the close handshake
the moment anything fails, so the next publish starts afresh. Thread-safe (and green-thread
safe under eventlet's monkey-patching).

Confirms are tracked here, by delivery tag, instead of py-amqp's wait-per-message mode: a
batch (`publish_many`) goes out as a whole and the publisher waits once for the broker's
acks of all of it, which is what lets the outbox relay run at the broker's speed.
"""
import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass, field

import amqp
import kombu
from amqp import method_framing

from . import config
from .amqp import discard, keep_alive, open_connection

log = logging.getLogger(__name__)


class Unroutable(Exception):
    """The broker had no queue for a mandatory message and returned it: it was not taken."""


class Nacked(Exception):
    """The broker refused to take a message (basic.nack: an internal error on its side)."""


@dataclass
class _Confirms:
    """Publisher confirms of one channel: tags count from 1 in the order of publishing."""
    next_tag: int = 1
    pending: set = field(default_factory=set)
    nacked: set = field(default_factory=set)

    def publishing(self) -> int:
        tag, self.next_tag = self.next_tag, self.next_tag + 1
        self.pending.add(tag)
        return tag

    def ack(self, tag, multiple):
        self.pending -= self._tags(tag, multiple)

    def nack(self, tag, multiple):
        tags = self._tags(tag, multiple)
        self.pending -= tags
        self.nacked |= tags

    def _tags(self, tag, multiple) -> set:
        return {t for t in self.pending if t <= tag} if multiple else {tag}


class _CoalescingWriter:
    """Stands in for the transport while a window is published: py-amqp writes each frame
    with its own system call (a thousand messages, three thousand sends on loopback, each
    also waking the broker); here they go out in a few large writes."""

    FLUSH_AT = 256 * 1024

    def __init__(self, transport):
        self.transport = transport
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data) -> None:
        self.chunks.append(bytes(data))  # py-amqp reuses its buffer for the next frame
        self.size += len(data)
        if self.size >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self.chunks:
            data, self.chunks, self.size = b"".join(self.chunks), [], 0
            self.transport.write(data)


@contextlib.contextmanager
def _coalesced_writes(connection: kombu.Connection):
    """Frames written inside the block reach the socket at most FLUSH_AT bytes late and at
    the latest when it ends."""
    link = connection.connection  # py-amqp's
    writer = _CoalescingWriter(link.transport)
    plain = link.frame_writer
    link.frame_writer = method_framing.frame_writer(link, writer)
    try:
        yield
        writer.flush()
    finally:
        link.frame_writer = plain


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
        self._confirms = _Confirms()

    # -- the connection -----------------------------------------------------------
    def _ensure(self) -> kombu.Producer:
        if self._producer is None:
            connection = open_connection(self.uri, confirms=False,
                                         heartbeat=self.heartbeat, timeout=self.timeout)
            try:
                channel = connection.channel()
                channel.events["basic_return"].add(self._on_return)
                self._confirms = confirms = _Confirms()
                if self.confirms:
                    channel.events["basic_ack"].add(confirms.ack)
                    channel.events["basic_nack"].add(confirms.nack)
                    channel.confirm_select()
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
        """Publish (kombu serialises `body`) and, with confirms, wait (bounded) until the
        broker has taken the message.

        Raises `Unroutable` when a mandatory message was returned (the connection stays
        usable), anything else after dropping the connection.
        """
        def send(producer):
            producer.publish(body, exchange=exchange, routing_key=routing_key,
                             mandatory=mandatory, retry=False, timeout=self.timeout,
                             **properties)

        with self._lock:
            self._returned.clear()
            _, error = self._publish_window([send])
            if error is not None:
                raise error
            if self._returned:
                raise Unroutable("; ".join(self._returned))

    def publish_many(self, messages: list[dict]) -> tuple[int, Exception | None]:
        """Publish `messages` in order, then wait once, at most the timeout, for the
        broker's confirms of all (a window). Each message: `body` (str or bytes, already
        encoded: no kombu serialisation on this bulk path), `exchange`, `routing_key` and
        AMQP properties (`content_type`, `delivery_mode`, `message_id`, `headers`, ...).

        Returns how many messages from the start the broker confirmed, and the error that
        stopped the rest (None when all were taken). After an error the connection is
        dropped: a message past the count may or may not have reached the broker (at least
        once: it is published again later). Not for `mandatory` messages.
        """
        def sender(message):
            properties = dict(message)
            body, exchange, routing_key = (properties.pop(k) for k in
                                           ("body", "exchange", "routing_key"))
            if isinstance(body, str):
                body = body.encode(properties.setdefault("content_encoding", "utf-8"))
            return lambda producer: producer.channel.basic_publish(
                amqp.Message(body, **properties), exchange=exchange, routing_key=routing_key)

        with self._lock:
            return self._publish_window([sender(message) for message in messages],
                                        coalesce=True)

    def _publish_window(self, sends: list, coalesce: bool = False
                        ) -> tuple[int, Exception | None]:
        tags = []
        try:
            producer = self._ensure()
            confirms = self._confirms
            with _coalesced_writes(self._connection) if coalesce else contextlib.nullcontext():
                for send in sends:
                    if self.confirms:
                        tags.append(confirms.publishing())
                    send(producer)
            if self.confirms:
                self._wait_for(confirms)
        except BaseException as exc:  # noqa: BLE001 - reported with the count confirmed
            if not isinstance(exc, Exception):
                self.drop()
                raise
            confirmed = self._confirmed_prefix(tags)
            self.drop()
            return confirmed, exc
        return len(sends), None

    def _wait_for(self, confirms: _Confirms) -> None:
        """Until the broker confirmed all published (a window starts with none pending: a
        failed one drops the connection, and the next gets a new channel)."""
        deadline = time.monotonic() + self.timeout
        while confirms.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no publisher confirm within "
                                   f"{self.timeout:g}s")
            try:
                # one frame at a time: py-amqp's drain_events starts its wait afresh after
                # every heartbeat, so a broker that heartbeats but never confirms (an
                # alarm) would outlast any deadline
                self._connection.connection.blocking_read(timeout=remaining)
            except socket.timeout:
                continue
        if confirms.nacked:
            raise Nacked(f"{self.name}: the broker refused {len(confirms.nacked)} "
                         f"message(s)")

    def _confirmed_prefix(self, tags: list[int]) -> int:
        """How many messages from the start are known to be taken (acked)."""
        if not self.confirms:
            return 0
        confirms = self._confirms
        count = 0
        for tag in tags:
            if tag in confirms.pending or tag in confirms.nacked:
                break
            count += 1
        return count

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
