"""The outbox relay: publishes committed outbox rows with publisher confirms, marks them sent.

Woken right after a commit (low latency) and on a periodic sweep (rows left by a crash or
a broker outage). Safe with several replicas: rows are claimed `FOR UPDATE SKIP LOCKED`
on PostgreSQL; SQLite has a single writer anyway.
"""
import logging
import threading
import time

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from .amqp import confirmed_connection, events_exchange
from .events import CONTENT_TYPE, utcnow
from .messaging import outbox

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, engine: Engine, service: str, amqp_uri: str, batch_size: int = 200,
                 sweep_interval: float = 2.0, publish_timeout: float = 10.0):
        self.engine = engine
        self.service = service
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        self.sweep_interval = sweep_interval
        # a half-open connection must not stall the relay for the kernel's TCP timeout
        self.publish_timeout = publish_timeout
        self._last_error = None
        self.exchange = events_exchange(service)
        self._connection = None
        self._producer = None
        self.broker_ok = True
        self._wake = threading.Event()
        self._stopping = threading.Event()

    # -- publishing ---------------------------------------------------------------
    def _ensure_producer(self):
        if self._producer is None:
            self._connection = confirmed_connection(self.amqp_uri)
            self._connection.connect()
            self._producer = self._connection.Producer()
            self.exchange(self._producer.channel).declare()
        return self._producer

    def _drop_connection(self):
        try:
            if self._connection is not None:
                self._connection.release()
        except Exception:  # noqa: BLE001 - the connection is already broken
            pass
        self._connection = self._producer = None

    def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many went out."""
        if self.engine.dialect.name == "sqlite":
            return self._publish_unlocked()
        return self._publish_locked()

    def _publish_locked(self) -> int:
        # PostgreSQL: the rows stay locked while they are published, so another replica's
        # relay skips them (SKIP LOCKED) instead of publishing them twice. Row locks do
        # not block the service's other writers.
        with self.engine.begin() as conn:
            rows = conn.execute(self._pending().with_for_update(skip_locked=True)).all()
            sent = self._publish(rows)
            self._record(conn, rows, sent)
            return len(sent)

    def _publish_unlocked(self) -> int:
        # SQLite: one writer per database and one relay per process, so nothing to lock
        # against; never hold the database (one connection per process) during network I/O.
        with self.engine.begin() as conn:
            rows = conn.execute(self._pending()).all()
        sent = self._publish(rows)
        with self.engine.begin() as conn:
            self._record(conn, rows, sent)
        return len(sent)

    def _pending(self):
        return (select(outbox.c.id, outbox.c.event_type, outbox.c.event_id, outbox.c.payload)
                .where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id)
                .limit(self.batch_size))

    def _publish(self, rows) -> list[int]:
        """Publish in order until the broker refuses; returns the ids it confirmed."""
        sent = []
        if not rows:
            return sent
        self.broker_ok = True
        try:
            producer = self._ensure_producer()
            for row in rows:
                producer.publish(
                    row.payload, exchange=self.exchange, routing_key=row.event_type,
                    content_type=CONTENT_TYPE, content_encoding="utf-8",
                    delivery_mode=2, message_id=row.event_id, retry=False,
                    timeout=self.publish_timeout, confirm_timeout=self.publish_timeout)
                sent.append(row.id)
        except Exception as exc:  # broker down, refused or silent: keep the rest for later
            self._drop_connection()
            self.broker_ok = False
            log.warning("outbox: broker unavailable after %d of %d events: %s",
                        len(sent), len(rows), exc)
            self._last_error = str(exc)[:500]
        return sent

    def _record(self, conn, rows, sent: list[int]) -> None:
        if sent:
            conn.execute(update(outbox).where(outbox.c.id.in_(sent)).values(sent_at=utcnow()))
        confirmed = set(sent)
        failed = [row.id for row in rows if row.id not in confirmed]
        if failed:
            conn.execute(update(outbox).where(outbox.c.id.in_(failed)).values(
                attempts=outbox.c.attempts + 1, last_error=self._last_error))

    def drain(self) -> int:
        """Publish until nothing is pending or the broker refuses."""
        total = 0
        while True:
            count = self.publish_pending()
            total += count
            if count < self.batch_size or not self.broker_ok:
                return total

    # -- the loop -----------------------------------------------------------------
    def wake(self):
        self._wake.set()

    def stop(self):
        self._stopping.set()
        self._wake.set()

    def run(self):
        backoff = 0.0
        while not self._stopping.is_set():
            self._wake.wait(timeout=max(self.sweep_interval, backoff))
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self.drain()
                backoff = 0.0 if self.broker_ok else min(backoff * 2 or 0.5, 15)
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the relay
                log.exception("outbox relay failed; retrying")
                backoff = min(backoff * 2 or 1.0, 30)
                time.sleep(0.1)
        self._drop_connection()
