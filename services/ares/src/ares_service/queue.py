"""The lookup queue's queries (refresh_queue): what is owed, claimed, answered, retried."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, not_, or_, select, update

from crm_common.events import utcnow
from crm_common.uow import dialect_insert

from .orm import refresh_queue as queue

BATCH_LIMIT = 100  # IČOs per POST /ekonomicke-subjekty/vyhledat


@dataclass(frozen=True)
class Pending:
    """One lookup owed to one client (a queue row, or a refresh asked for over RPC)."""
    ico: str
    client_id: str
    attempts: int = 0  # calls that ARES did not answer so far
    quiet: bool = False
    reason: str = "created"
    correlation_id: str | None = None
    causation_id: str | None = None
    id: int | None = None
    claim: str | None = None  # the claim that holds the row (None: a refresh over RPC)


class LookupQueue:
    def __init__(self, session):
        self.session = session

    def add(self, lookups: list[dict], now: datetime) -> None:
        """Owe these lookups (dicts of ico, client_id, reason, bypass_cache, quiet,
        correlation_id, causation_id). One already owed stays as it is (its retry
        schedule too), only asked for more: a bypass of the cache, or its events."""
        if not lookups:
            return
        unique = {(lookup["ico"], lookup["client_id"]): lookup for lookup in lookups}
        rows = [{"attempts": 0, "next_attempt_at": now, "created_at": now,
                 "bypass_cache": False, "quiet": False, "reason": "created",
                 "correlation_id": None, "causation_id": None, **lookup}
                for lookup in unique.values()]
        statement = dialect_insert(self.session, queue)
        statement = statement.on_conflict_do_update(
            index_elements=[queue.c.ico, queue.c.client_id],
            set_={"bypass_cache": or_(queue.c.bypass_cache, statement.excluded.bypass_cache),
                  "quiet": and_(queue.c.quiet, statement.excluded.quiet)})
        for start in range(0, len(rows), 1000):
            self.session.execute(statement, rows[start:start + 1000])

    def due_icos(self, now: datetime, limit: int = BATCH_LIMIT) -> list[str]:
        """The IČOs waiting longest, none of them in flight (a call running for one IČO
        answers every client waiting for it)."""
        in_flight = select(queue.c.ico).where(queue.c.lease_until > now)
        return list(self.session.scalars(
            select(queue.c.ico)
            .where(queue.c.next_attempt_at <= now, _free(now),
                   not_(queue.c.ico.in_(in_flight)))
            .group_by(queue.c.ico).order_by(func.min(queue.c.next_attempt_at))
            .limit(limit)))

    def bypassing(self, icos: list[str]) -> set[str]:
        """Of these IČOs, those a lookup wants fresh from ARES (a refresh)."""
        return set(self.session.scalars(select(queue.c.ico).distinct().where(
            queue.c.ico.in_(icos), queue.c.bypass_cache)))

    def claim(self, icos: list[str], now: datetime, lease: timedelta) -> list[Pending]:
        """Lease every lookup of these IČOs (those in backoff too: the answer serves them
        all). The WHERE is checked again under the row locks, so two replicas claiming
        at once never both get a row."""
        if not icos:
            return []
        claim = str(uuid.uuid4())
        rows = self.session.execute(
            update(queue).where(queue.c.ico.in_(icos), _free(now))
            .values(lease_until=now + lease, claimed_by=claim)
            .returning(queue.c.id, queue.c.ico, queue.c.client_id, queue.c.attempts,
                       queue.c.quiet, queue.c.reason, queue.c.correlation_id,
                       queue.c.causation_id)).all()
        return [Pending(ico=r.ico, client_id=r.client_id, attempts=r.attempts, quiet=r.quiet,
                        reason=r.reason, correlation_id=r.correlation_id,
                        causation_id=r.causation_id, id=r.id, claim=claim) for r in rows]

    def held(self, lookups: list[Pending]) -> list[Pending]:
        """Of claimed lookups, those whose rows this claim still holds (an erasure or a
        refresh may have taken a row meanwhile, or its lease ran out and another replica
        claimed it); lookups over RPC (no row) are always held."""
        claimed = [p for p in lookups if p.claim is not None]
        ids = set()
        if claimed:
            ids = set(self.session.scalars(select(queue.c.id).where(
                queue.c.id.in_([p.id for p in claimed]),
                queue.c.claimed_by.in_({p.claim for p in claimed})).with_for_update()))
        return [p for p in lookups if p.claim is None or p.id in ids]

    def answered(self, lookups: list[Pending]) -> None:
        ids = [p.id for p in lookups if p.id is not None]
        if ids:
            self.session.execute(delete(queue).where(queue.c.id.in_(ids)))
        loose = [p for p in lookups if p.id is None]  # a refresh over RPC
        for p in loose:  # what waits for it is answered; a row in flight is its holder's
            self.session.execute(delete(queue).where(
                queue.c.ico == p.ico, queue.c.client_id == p.client_id, _free(utcnow())))

    def retry_later(self, lookup: Pending, at: datetime, error: str | None) -> None:
        values = dict(attempts=lookup.attempts + 1, next_attempt_at=at, last_error=error,
                      lease_until=None, claimed_by=None)
        if lookup.id is not None:
            self.session.execute(update(queue).where(queue.c.id == lookup.id).values(**values))
        else:
            self.add([{"ico": lookup.ico, "client_id": lookup.client_id,
                       "reason": lookup.reason, "correlation_id": lookup.correlation_id,
                       "causation_id": lookup.causation_id}], at)
            self.session.execute(update(queue).where(
                queue.c.ico == lookup.ico, queue.c.client_id == lookup.client_id,
                _free(utcnow())).values(**values))

    def send_backlog_now(self, now: datetime) -> int:
        """ARES is back: what waits for a retry goes out now, not at its backoff time."""
        return self.session.execute(update(queue).where(
            queue.c.attempts > 0, queue.c.next_attempt_at > now,
            queue.c.lease_until.is_(None)).values(next_attempt_at=now)).rowcount

    def drop_client(self, client_id: str, keep_ico: str | None = None) -> None:
        condition = queue.c.client_id == client_id
        if keep_ico:
            condition = and_(condition, queue.c.ico != keep_ico)
        self.session.execute(delete(queue).where(condition))

    def icos_of(self, client_id: str) -> set[str]:
        return set(self.session.scalars(select(queue.c.ico).where(
            queue.c.client_id == client_id)))

    def depth(self) -> int:
        return self.session.scalar(select(func.count()).select_from(queue)) or 0


def _free(now: datetime):
    """A row no dispatcher holds."""
    return or_(queue.c.lease_until.is_(None), queue.c.lease_until <= now)


def backoff(attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential with full jitter (half to all of the step): replicas and clients that
    failed together do not all come back at the same moment."""
    step = min(base * (2 ** max(attempt - 1, 0)), cap)
    return step * random.uniform(0.5, 1.0)
