"""The outbox relay: publishes committed outbox rows with publisher confirms, marks them sent.

A batch goes out as a whole and its confirms are awaited once (a window), so the relay runs
at the broker's pace, not one round trip per event; only confirmed rows are marked sent.

Woken right after a commit (low latency) and on a periodic sweep (rows left by a crash or
a broker outage). Safe with several replicas: on PostgreSQL one relay at a time publishes
a batch (a transaction-level advisory lock), so batches go out one after the other in commit
order; SQLite has one process per database (a file lock enforces it).

Every broker operation is bounded (`AMQP_TIMEOUT`), so a silent broker costs one timeout,
not a relay that hangs with its batch locked; the connection is long-lived, kept alive with
heartbeats between batches, and dropped without the close handshake when anything fails.
"""
import logging
import threading
import time

from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine

from .amqp import events_exchange
from .events import CONTENT_TYPE, utcnow
from .messaging import outbox
from .publisher import Publisher

log = logging.getLogger(__name__)
# PostgreSQL: the turn to publish, held until the batch's transaction ends (not waited for)
_TAKE_TURN = text("SELECT pg_try_advisory_xact_lock(hashtext(:name))")


class OutboxRelay:
    def __init__(self, engine: Engine, service: str, amqp_uri: str, batch_size: int = 500,
                 sweep_interval: float = 2.0, publish_timeout: float | None = None,
                 heartbeat: int | None = None):
        self.engine = engine
        self.service = service
        self.batch_size = batch_size
        self.sweep_interval = sweep_interval
        self.publisher = Publisher(amqp_uri, timeout=publish_timeout, heartbeat=heartbeat,
                                   name=f"{service} outbox relay")
        self._last_error = None
        self.exchange = events_exchange(service)
        self._turn = f"outbox relay:{service}"  # the advisory lock's name (PostgreSQL)
        self.broker_ok = True
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.stopped = threading.Event()
        self.stop_drain_seconds = 10.0

    # -- publishing ---------------------------------------------------------------

    def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many went out."""
        if self.engine.dialect.name == "sqlite":
            return self._publish_unlocked()
        return self._publish_locked()

    def _publish_locked(self) -> int:
        # PostgreSQL: one relay at a time publishes a batch, under an advisory lock held to
        # the end of its transaction; another replica's relay finds it taken and leaves the
        # batch to the holder. So no row goes out twice, and with replicas too the events
        # go out in the order they were committed (batches one after the other). Locking
        # the rows instead (FOR UPDATE SKIP LOCKED) let two replicas publish two batches
        # at once, out of order, and writes a WAL record per row: half the select's time.
        # The lock does not block the service's writers.
        with self.engine.begin() as conn:
            if not conn.execute(_TAKE_TURN, {"name": self._turn}).scalar():
                return 0  # another relay is publishing
            rows = conn.execute(self._pending()).all()
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
        """Publish the batch in order, wait once for its confirms (a window); returns the
        ids the broker confirmed, from the start of the batch up to the first it did not."""
        if not rows:
            return []
        self.broker_ok = True
        try:
            self.publisher.declare(self.exchange)
        except Exception as exc:  # noqa: BLE001 - broker down or refusing: later
            return self._unavailable(0, rows, exc)
        confirmed, error = self.publisher.publish_many([
            {"body": row.payload, "exchange": self.exchange.name,
             "routing_key": row.event_type, "content_type": CONTENT_TYPE,
             "content_encoding": "utf-8", "delivery_mode": 2, "message_id": row.event_id}
            for row in rows])
        if error is not None:  # broker down, refused or silent: keep the rest for later
            return self._unavailable(confirmed, rows, error)
        return [row.id for row in rows]

    def _unavailable(self, confirmed: int, rows, exc) -> list[int]:
        self.broker_ok = False
        log.warning("outbox: broker unavailable after %d of %d events: %s",
                    confirmed, len(rows), exc)
        self._last_error = str(exc)[:500]
        return [row.id for row in rows[:confirmed]]

    def _record(self, conn, rows, sent: list[int]) -> None:
        if sent:
            conn.execute(update(outbox).where(outbox.c.id.in_(sent)).values(sent_at=utcnow()))
        confirmed = set(sent)
        failed = [row.id for row in rows if row.id not in confirmed]
        if failed:
            conn.execute(update(outbox).where(outbox.c.id.in_(failed)).values(
                attempts=outbox.c.attempts + 1, last_error=self._last_error))

    def drain(self, seconds: float | None = None) -> int:
        """Publish until nothing is pending or the broker refuses (or `seconds` are up)."""
        total = 0
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            count = self.publish_pending()
            total += count
            if count < self.batch_size or not self.broker_ok:
                return total
            if deadline is not None and time.monotonic() > deadline:
                return total

    # -- the loop -----------------------------------------------------------------
    def wake(self):
        self._wake.set()

    def stop(self):
        self._stopping.set()
        self._wake.set()

    def run(self):
        backoff = 0.0
        try:
            while not self._stopping.is_set():
                # at most a quarter of the heartbeat: the idle connection must answer the
                # broker's heartbeats or the broker closes it
                self._wake.wait(timeout=min(max(self.sweep_interval, backoff),
                                            self._keep_alive_interval))
                self._wake.clear()
                if self._stopping.is_set():
                    break
                self.publisher.keep_alive()
                backoff = self._cycle(backoff)
            # what committed before stop() still goes out; a big backlog is left to the
            # next start (or another replica) instead of holding up the shutdown
            self._cycle(0.0, seconds=self.stop_drain_seconds)
        finally:
            self.publisher.close()
            self.stopped.set()

    def _cycle(self, backoff: float, seconds: float | None = None) -> float:
        """One drain; returns the wait before the next one."""
        try:
            self.drain(seconds)
        except Exception:  # noqa: BLE001 - a database hiccup must not kill the relay
            log.exception("outbox relay failed; retrying")
            time.sleep(0.1)
            return min(backoff * 2 or 1.0, 30)
        return 0.0 if self.broker_ok else min(backoff * 2 or 0.5, self._keep_alive_interval)

    @property
    def _keep_alive_interval(self) -> float:
        heartbeat = self.publisher.heartbeat
        return min(15.0, heartbeat / 4) if heartbeat else 15.0
