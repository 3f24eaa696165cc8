"""Retention: every service prunes its own `outbox`, `inbox` and `idempotency_keys`.

What may go, and when (`RetentionPolicy.from_env`):

* outbox: rows SENT more than `OUTBOX_RETENTION_HOURS` (168) ago. A pending row is never
  deleted, however old: it is an event not yet published.
* inbox: rows older than `INBOX_RETENTION_DAYS` (30). An event whose inbox row is gone is
  handled again if it arrives again, so this must exceed the longest time a message may
  wait before it comes back: the retry delays plus the time a parked message may wait in
  `<queue>.parking` before an operator replays it.
* idempotency_keys: rows older than `IDEMPOTENCY_KEY_RETENTION_HOURS` (48); a client
  retrying with the same key later than that creates a second record.

A retention of 0 keeps that table's rows forever. Rows are deleted in batches of
`RETENTION_BATCH_SIZE`, each its own short transaction: no long lock, SQLite's single
connection is free between batches, and on PostgreSQL replicas pruning at the same time
skip each other's rows (`FOR UPDATE SKIP LOCKED`) instead of waiting.
"""
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Table, delete, select, tuple_
from sqlalchemy.engine import Engine

from .events import utcnow
from .messaging import idempotency_keys, inbox, outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    outbox_sent: timedelta | None = timedelta(hours=168)  # None: keep forever
    inbox: timedelta | None = timedelta(days=30)
    idempotency_keys: timedelta | None = timedelta(hours=48)
    interval: float = 3600.0  # seconds between runs
    batch_size: int = 1000

    @classmethod
    def from_env(cls, environ=None) -> "RetentionPolicy":
        env = os.environ if environ is None else environ

        def age(name: str, default: float, unit: str) -> timedelta | None:
            value = float(env.get(name) or default)
            if value < 0:
                raise ValueError(f"{name} must be 0 (keep forever) or more, not {value:g}")
            return timedelta(**{unit: value}) if value else None

        return cls(outbox_sent=age("OUTBOX_RETENTION_HOURS", 168, "hours"),
                   inbox=age("INBOX_RETENTION_DAYS", 30, "days"),
                   idempotency_keys=age("IDEMPOTENCY_KEY_RETENTION_HOURS", 48, "hours"),
                   interval=float(env.get("RETENTION_INTERVAL_SECONDS") or 3600),
                   batch_size=int(env.get("RETENTION_BATCH_SIZE") or 1000))


# table -> (its key columns, the condition that makes a row old enough to go)
def _targets(policy: RetentionPolicy, now: datetime):
    if policy.outbox_sent is not None:
        yield outbox, (outbox.c.id,), outbox.c.sent_at < now - policy.outbox_sent
    if policy.inbox is not None:
        yield inbox, (inbox.c.consumer, inbox.c.event_id), \
            inbox.c.processed_at < now - policy.inbox
    if policy.idempotency_keys is not None:
        yield idempotency_keys, (idempotency_keys.c.scope, idempotency_keys.c.key), \
            idempotency_keys.c.created_at < now - policy.idempotency_keys


def prune(engine: Engine, policy: RetentionPolicy, now: datetime | None = None,
          stopping: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Delete what `policy` lets go; returns the rows deleted per table."""
    now = now or utcnow()
    deleted = {}
    for table, keys, old in _targets(policy, now):
        deleted[table.name] = 0
        while not stopping():
            count = _delete_batch(engine, table, keys, old, policy.batch_size)
            deleted[table.name] += count
            if count < policy.batch_size:
                break
            time.sleep(0)  # let the service's other (green) threads have the database
    return deleted


def _delete_batch(engine: Engine, table: Table, keys: tuple, old, limit: int) -> int:
    batch = select(*keys).where(old).limit(limit).with_for_update(skip_locked=True)
    key = keys[0] if len(keys) == 1 else tuple_(*keys)
    with engine.begin() as conn:
        return conn.execute(delete(table).where(key.in_(batch))).rowcount


class RetentionLoop:
    """Runs `prune` every `policy.interval` seconds (with jitter, so replicas drift apart),
    the first time shortly after start. A failing run is logged and tried again later."""

    def __init__(self, engine: Engine, policy: RetentionPolicy | None = None,
                 first_delay: float | None = None):
        self.engine = engine
        self.policy = policy or RetentionPolicy.from_env()
        self.first_delay = first_delay if first_delay is not None else \
            random.uniform(10, 60)  # after start-up, not during it
        self._stopping = threading.Event()

    def run_once(self) -> dict[str, int]:
        deleted = prune(self.engine, self.policy, stopping=self._stopping.is_set)
        if any(deleted.values()):
            log.info("retention: deleted %s", ", ".join(
                f"{count} {table}" for table, count in deleted.items()))
        return deleted

    def run(self):
        delay = min(self.first_delay, self.policy.interval)
        while True:
            self._stopping.wait(delay)
            if self._stopping.is_set():
                return
            try:
                self.run_once()
                delay = self.policy.interval * random.uniform(0.9, 1.1)
            except Exception:  # noqa: BLE001 - a database hiccup must not end retention
                log.exception("retention failed; trying again later")
                delay = min(self.policy.interval, 300) * random.uniform(0.9, 1.1)

    def stop(self):
        self._stopping.set()
