"""Registry lookups: cache first, then ARES; every outcome becomes an event.

The HTTP call happens outside any database transaction (ARES may take seconds); the
outcome, its event and the inbox row then commit together.
"""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from crm_common.events import EventContext, rfc3339, to_utc, utcnow
from crm_common.errors import ValidationFailed
from crm_common.messaging import outbox

from .client import FOUND, NOT_FOUND, UNAVAILABLE, LookupResult, is_valid_ico, \
    normalize_ico
from .orm import lookup_cache, refresh_queue

CONSUMER = "ares.lookup"


@dataclass(frozen=True)
class Settings:
    cache_ttl: timedelta = timedelta(hours=24)
    not_found_ttl: timedelta = timedelta(hours=1)
    retry_base: timedelta = timedelta(seconds=10)
    retry_cap: timedelta = timedelta(hours=1)
    # a claimed retry is not taken by another replica: the lease covers a whole claimed
    # batch even when every lookup runs into the read timeout
    lease: timedelta = timedelta(minutes=5)

    def backoff(self, attempt: int) -> timedelta:
        return min(self.retry_base * (3 ** max(attempt - 1, 0)), self.retry_cap)



@dataclass(frozen=True)
class Outcome:
    result: LookupResult
    fetched_at: datetime
    cached: bool = False


def cached_outcome(uow, ico: str, now: datetime) -> Outcome | None:
    row = uow.session.execute(select(lookup_cache).where(lookup_cache.c.ico == ico)).first()
    if row is None or to_utc(row.expires_at) <= now:
        return None
    return Outcome(LookupResult(row.status, ico, row.record, row.raw, row.detail),
                   to_utc(row.fetched_at), cached=True)


def fetch(uow_factory, ares, ico: str, use_cache: bool = True) -> Outcome:
    if use_cache:
        with uow_factory() as uow:
            cached = cached_outcome(uow, ico, utcnow())
        if cached:
            return cached
    return Outcome(ares.lookup(ico), utcnow())


def look_up_client(uow_factory, ares, settings: Settings, event: dict) -> None:
    """A client with an IČO, new or given another one (client.created, client.updated):
    look it up once per event."""
    client = event["data"]["client"]
    if not client.get("ico"):
        return
    with uow_factory() as uow:
        if uow.handled(CONSUMER, event):
            return
    outcome = fetch(uow_factory, ares, client["ico"])
    with uow_factory() as uow:
        if uow.seen(CONSUMER, event):
            return
        record_outcome(uow, settings, outcome, client["id"], attempt=1)
        uow.commit()


def forget_client(uow, event: dict) -> None:
    """On `client.erased` (GDPR): no more lookups for the person, and nothing kept that
    names them: their queued retries, the register's answers for their IČO (found through
    the queue and the lookups this service published for them) and its messaging rows."""
    client_id = event["data"]["client_id"]
    icos = set(uow.session.scalars(select(refresh_queue.c.ico).where(
        refresh_queue.c.client_id == client_id)))
    for (payload,) in uow.session.execute(select(outbox.c.payload).where(
            outbox.c.payload.like(f"%{client_id}%"))):
        ico = (json.loads(payload).get("data") or {}).get("ico")
        if ico:
            icos.add(ico)
    uow.session.execute(delete(refresh_queue).where(refresh_queue.c.client_id == client_id))
    if icos:
        uow.session.execute(delete(lookup_cache).where(lookup_cache.c.ico.in_(icos)))
    uow.forget([client_id, *sorted(icos)])


def record_outcome(uow, settings: Settings, outcome: Outcome, client_id: str,
                   attempt: int) -> None:
    result, now = outcome.result, utcnow()
    ico = result.ico
    remember(uow, settings, outcome)
    if result.status == UNAVAILABLE:
        next_at = now + settings.backoff(attempt)
        _schedule_retry(uow, ico, client_id, attempt, next_at, result.detail)
        if attempt == 1:  # one timeline entry per outage, not one per retry
            _emit_failed(uow, client_id, ico, UNAVAILABLE, result.detail, attempt, next_at)
        return
    uow.session.execute(delete(refresh_queue).where(refresh_queue.c.ico == ico,
                                                    refresh_queue.c.client_id == client_id))
    if result.status == FOUND:
        uow.emit("ares.lookup_succeeded", ico, {
            "client_id": client_id, "ico": ico, "fetched_at": rfc3339(outcome.fetched_at),
            "cached": outcome.cached, "attempt": attempt, "record": result.record})
    else:
        _emit_failed(uow, client_id, ico, result.status, result.detail, attempt, None)


def _emit_failed(uow, client_id, ico, reason, detail, attempt, next_at):
    uow.emit("ares.lookup_failed", ico, {
        "client_id": client_id, "ico": ico, "reason": reason, "detail": detail,
        "will_retry": next_at is not None, "attempt": attempt,
        "next_attempt_at": rfc3339(next_at) if next_at else None})


def remember(uow, settings: Settings, outcome: Outcome) -> None:
    """Cache what the register answered (found or not found); never a failure."""
    result = outcome.result
    if result.status not in (FOUND, NOT_FOUND) or outcome.cached:
        return
    ttl = settings.cache_ttl if result.status == FOUND else settings.not_found_ttl
    _store_cache(uow, result, outcome.fetched_at, outcome.fetched_at + ttl)


def _store_cache(uow, result: LookupResult, fetched_at: datetime, expires_at: datetime):
    values = dict(status=result.status, record=result.record, raw=result.raw,
                  detail=result.detail, fetched_at=fetched_at, expires_at=expires_at)
    updated = uow.session.execute(update(lookup_cache).where(
        lookup_cache.c.ico == result.ico).values(**values)).rowcount
    if not updated:
        uow.session.execute(insert(lookup_cache).values(ico=result.ico, **values))


def _schedule_retry(uow, ico, client_id, attempt, next_at, error):
    where = (refresh_queue.c.ico == ico, refresh_queue.c.client_id == client_id)
    values = dict(attempts=attempt, next_attempt_at=next_at, last_error=error)
    if not uow.session.execute(update(refresh_queue).where(*where).values(**values)).rowcount:
        uow.session.execute(insert(refresh_queue).values(
            ico=ico, client_id=client_id, created_at=utcnow(),
            correlation_id=uow.context.correlation_id, **values))


def retry_due(uow_factory, ares, settings: Settings, limit: int = 5) -> int:
    """Retry lookups whose ARES call failed; returns how many were tried."""
    now = utcnow()
    with uow_factory() as uow:
        rows = uow.session.execute(
            select(refresh_queue).where(refresh_queue.c.next_attempt_at <= now)
            .order_by(refresh_queue.c.next_attempt_at).limit(limit)
            .with_for_update(skip_locked=True)).all()
        if not rows:
            return 0
        uow.session.execute(update(refresh_queue).where(
            refresh_queue.c.id.in_([r.id for r in rows])).values(
                next_attempt_at=now + settings.lease))
        uow.commit()
    for row in rows:
        outcome = Outcome(ares.lookup(row.ico), utcnow())
        context = EventContext(correlation_id=row.correlation_id or EventContext().correlation_id,
                               actor="system:ares")
        with uow_factory(context) as uow:
            current = uow.session.execute(
                select(refresh_queue.c.attempts).where(refresh_queue.c.id == row.id)).first()
            if current is None:  # handled meanwhile (e.g. a manual refresh)
                continue
            record_outcome(uow, settings, outcome, row.client_id, current.attempts + 1)
            uow.commit()
    return len(rows)


def checked_ico(value) -> str:
    ico = normalize_ico(value)
    if not is_valid_ico(ico):
        raise ValidationFailed({"ico": ["Not a valid IČO (8 digits with a correct check digit)."]})
    return ico


def lookup(uow_factory, ares, settings: Settings, ico) -> dict:
    """A preview for the UI: what the register says about an IČO (no events)."""
    outcome = fetch(uow_factory, ares, checked_ico(ico))
    with uow_factory() as uow:
        remember(uow, settings, outcome)
        uow.commit()
    return _answer(outcome)


def refresh(uow_factory, ares, settings: Settings, client_id: str, ico) -> dict:
    """Fetch fresh data for a client now (bypassing the cache) and publish the outcome."""
    outcome = fetch(uow_factory, ares, checked_ico(ico), use_cache=False)
    with uow_factory() as uow:
        record_outcome(uow, settings, outcome, client_id, attempt=1)
        uow.commit()
    return _answer(outcome)


def _answer(outcome: Outcome) -> dict:
    result = outcome.result
    return {"status": result.status, "ico": result.ico, "record": result.record,
            "detail": result.detail, "fetched_at": rfc3339(outcome.fetched_at),
            "cached": outcome.cached}
