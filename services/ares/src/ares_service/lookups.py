"""What becomes of an answer of the register: the cache, the events, the queue, the jobs.

Every answer is recorded in one transaction with its events; the HTTP call that got it
ran outside any transaction (ARES may take seconds).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from crm_common.events import EventContext, rfc3339, to_utc, utcnow
from crm_common.uow import dialect_insert

from . import metrics, refresh_jobs, schedule
from .client import FOUND, NOT_FOUND, UNAVAILABLE, LookupResult
from .orm import lookup_cache
from .queue import LookupQueue, Pending, backoff

ACTOR = "system:ares"
# what may differ between two answers without the company having changed
_VOLATILE = ("updated_in_registry_on",)


@dataclass(frozen=True)
class Settings:
    cache_ttl: timedelta = timedelta(hours=24)
    not_found_ttl: timedelta = timedelta(hours=1)
    retry_base: timedelta = timedelta(seconds=2)
    retry_cap: timedelta = timedelta(minutes=10)
    # claimed lookups are not taken by another replica for this long: a whole call with
    # its retries fits; a killed replica's lookups come back after it
    lease: timedelta = timedelta(minutes=2)
    refresh_period: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class Answer:
    result: LookupResult
    fetched_at: datetime
    cached: bool = False


def cached_answers(session, icos, now: datetime) -> dict[str, Answer]:
    """The cache's answers for these IČOs that may still be reused."""
    if not icos:
        return {}
    rows = session.execute(select(lookup_cache).where(lookup_cache.c.ico.in_(list(icos))))
    return {row.ico: Answer(LookupResult(row.status, row.ico, row.record, row.raw, row.detail),
                            to_utc(row.fetched_at), cached=True)
            for row in rows if to_utc(row.expires_at) > now}


def remember(session, settings: Settings, answers: dict[str, Answer]) -> None:
    """Cache what the register answered (found or not found, never a failure)."""
    for ico, answer in sorted(answers.items()):
        result = answer.result
        if answer.cached or result.status not in (FOUND, NOT_FOUND):
            continue
        ttl = settings.cache_ttl if result.status == FOUND else settings.not_found_ttl
        values = dict(status=result.status, record=result.record, raw=result.raw,
                      detail=result.detail, fetched_at=answer.fetched_at,
                      expires_at=answer.fetched_at + ttl)
        statement = dialect_insert(session, lookup_cache).values(ico=ico, **values)
        session.execute(statement.on_conflict_do_update(  # a replica may cache it too
            index_elements=[lookup_cache.c.ico], set_=values))


def fingerprint(result: LookupResult) -> str:
    """The answer as a client sees it: what may differ without the company having
    changed (`updated_in_registry_on`) left out."""
    record = {k: v for k, v in (result.record or {}).items() if k not in _VOLATILE}
    text = json.dumps([result.status, record], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def record(uow, settings: Settings, answers: dict[str, Answer],
           lookups: list[Pending]) -> None:
    """Record the answers for the lookups waiting for them and still held by this claim:
    the cache, an event for each client (a quiet lookup only when the answer differs from
    what the client was last told), retries of what ARES did not answer, the jobs'
    counts and the scheduled refresh's watch list. A lookup whose row is gone (the client
    was erased, a refresh answered it) or was claimed again elsewhere is left alone."""
    now, queue = utcnow(), LookupQueue(uow.session)
    lookups = queue.held(lookups)
    remember(uow.session, settings, {ico: a for ico, a in answers.items()
                                     if any(p.ico == ico for p in lookups)})
    told = schedule.fingerprints(uow.session, [p.client_id for p in lookups])
    answered, job_answers, watched = [], [], []
    for lookup in lookups:
        answer = answers[lookup.ico]
        result = answer.result
        metrics.LOOKUPS.labels(result.status).inc()
        if answer.cached:
            metrics.CACHE_HITS.inc()
        uow.context = EventContext(
            correlation_id=lookup.correlation_id or EventContext().correlation_id,
            causation_id=lookup.causation_id, actor=ACTOR)
        if result.status == UNAVAILABLE:
            next_at = now + backoff(lookup.attempts + 1, settings.retry_base, settings.retry_cap)
            queue.retry_later(lookup, next_at, result.detail)
            if lookup.attempts == 0 and not lookup.quiet:  # one timeline entry per outage
                _emit_failed(uow, lookup, result, next_at)
            continue
        answered.append(lookup)
        print_ = fingerprint(result)
        is_new = told.get(lookup.client_id) != (lookup.ico, print_)
        if not lookup.quiet or is_new:
            if result.status == FOUND:
                uow.emit("ares.lookup_succeeded", lookup.ico, {
                    "client_id": lookup.client_id, "ico": lookup.ico,
                    "fetched_at": rfc3339(answer.fetched_at), "cached": answer.cached,
                    "attempt": lookup.attempts + 1, "record": result.record})
            else:
                _emit_failed(uow, lookup, result, None)
            if result.status in (FOUND, NOT_FOUND):  # an IČO the register may know later
                watched.append((lookup.client_id, lookup.ico, print_))
        outcome = ("changed" if is_new else "unchanged") if result.status == FOUND \
            else result.status
        job_answers.append((lookup.client_id, lookup.ico, outcome))
    queue.answered(answered)
    refresh_jobs.record(uow, job_answers)
    schedule.watch_clients(uow.session, watched, now, settings.refresh_period)


def _emit_failed(uow, lookup: Pending, result: LookupResult, next_at):
    uow.emit("ares.lookup_failed", lookup.ico, {
        "client_id": lookup.client_id, "ico": lookup.ico, "reason": result.status,
        "detail": result.detail, "will_retry": next_at is not None,
        "attempt": lookup.attempts + 1,
        "next_attempt_at": rfc3339(next_at) if next_at else None})


def unavailable(ico: str, detail: str) -> LookupResult:
    return LookupResult(UNAVAILABLE, ico, detail=detail)


def answer_resource(answer: Answer) -> dict:
    result = answer.result
    return {"status": result.status, "ico": result.ico, "record": result.record,
            "detail": result.detail, "fetched_at": rfc3339(answer.fetched_at),
            "cached": answer.cached}

