"""Refresh jobs (POST /registry-refresh): the clients asked for are queued as lookups that
bypass the cache; each answer counts for the jobs waiting for that client."""
from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import delete, func, insert, select, update

from crm_common.errors import NotFound, ValidationFailed
from crm_common.events import rfc3339, utcnow

from .client import normalize_ico
from .orm import refresh_job_items as items, refresh_jobs as jobs
from .queue import LookupQueue

MAX_TARGETS = 200_000
START = "start_refresh"  # the operation Idempotency-Keys are kept for
FAILED = ("not_found", "invalid")


def start(uow, targets, skipped=None) -> dict:
    """A job over `targets` ([{"client_id", "ico"}], each client once); `skipped`: the
    clients asked for that will not be looked up, and why (kept with the job)."""
    targets, skipped = _checked(targets), _checked_skipped(skipped)
    caller, now = uow.context.caller, utcnow()
    job_id = str(uuid.uuid4())
    uow.session.execute(insert(jobs).values(
        id=job_id, status="running" if targets else "completed", total=len(targets),
        done=0, changed=0, unchanged=0, failed=0, skipped=skipped[:1000],
        requested_by=uow.context.actor, caller_id=caller.user_id, created_at=now,
        finished_at=None if targets else now))
    for start_at in range(0, len(targets), 1000):
        chunk = targets[start_at:start_at + 1000]
        uow.session.execute(insert(items), [{"job_id": job_id, **t} for t in chunk])
    LookupQueue(uow.session).add([
        {**t, "reason": "refresh", "bypass_cache": True, "quiet": True,
         "correlation_id": uow.context.correlation_id} for t in targets], now)
    job = get(uow, job_id)
    uow.emit("ares.refresh_started", job_id, _event_data(job))
    if not targets:
        uow.emit("ares.refresh_completed", job_id, _event_data(job))
    return job


def _checked(targets) -> list[dict]:
    if not isinstance(targets, list) or len(targets) > MAX_TARGETS:
        raise ValidationFailed({"targets": [f"A list of at most {MAX_TARGETS} clients."]})
    seen, checked = set(), []
    for target in targets:
        if not (isinstance(target, dict) and isinstance(target.get("client_id"), str)
                and isinstance(target.get("ico"), str) and len(target["ico"]) <= 8
                and 0 < len(target["client_id"]) <= 36):
            raise ValidationFailed({"targets": ["Each target is {client_id, ico}."]})
        if target["client_id"] not in seen:
            seen.add(target["client_id"])
            # the queue and the register's answers use the compact IČO ("1603094" ->
            # "01603094"); one failing the check digit is answered "invalid", never sent
            checked.append({"client_id": target["client_id"],
                            "ico": normalize_ico(target["ico"])})
    return checked


def _checked_skipped(skipped) -> list[dict]:
    if skipped is None:
        return []
    if not isinstance(skipped, list) or not all(
            isinstance(s, dict) and isinstance(s.get("client_id"), str)
            and isinstance(s.get("reason"), str) for s in skipped):
        raise ValidationFailed({"skipped": ["A list of {client_id, reason}."]})
    return [{"client_id": s["client_id"], "reason": s["reason"]} for s in skipped]


def get(uow, job_id) -> dict:
    caller = uow.context.caller
    query = select(jobs).where(jobs.c.id == str(job_id))
    if not caller.oversees:
        query = query.where(jobs.c.caller_id == caller.user_id)
    row = uow.session.execute(query).first()
    if row is None:
        raise NotFound(f"registry refresh {job_id} not found")
    return _resource(row)


def _resource(row) -> dict:
    return {"id": row.id, "status": row.status, "total": row.total, "done": row.done,
            "changed": row.changed, "unchanged": row.unchanged, "failed": row.failed,
            "skipped": row.skipped or [], "requested_by": row.requested_by,
            "created_at": rfc3339(row.created_at),
            "finished_at": rfc3339(row.finished_at) if row.finished_at else None}


def _event_data(job: dict) -> dict:
    return {"job_id": job["id"], **{k: job[k] for k in (
        "status", "total", "done", "changed", "unchanged", "failed", "requested_by")},
        "skipped": len(job["skipped"])}


def record(uow, answers: list[tuple[str, str, str]]) -> None:
    """`answers`: (client_id, ico, outcome) of lookups just answered; outcome changed |
    unchanged | not_found | invalid. Counts them for the jobs waiting for them and
    completes the jobs with nothing left."""
    if not answers:
        return
    outcome_of = {(client_id, ico): outcome for client_id, ico, outcome in answers}
    waiting = uow.session.execute(select(items.c.job_id, items.c.client_id, items.c.ico).where(
        items.c.client_id.in_({client_id for client_id, _, _ in answers}),
        items.c.outcome.is_(None))).all()
    counted = set()
    for job_id, client_id, ico in waiting:
        outcome = outcome_of.get((client_id, ico))
        if outcome:
            uow.session.execute(update(items).where(
                items.c.job_id == job_id, items.c.client_id == client_id)
                .values(outcome=outcome))
            counted.add(job_id)
    for job_id in sorted(counted):
        _recount(uow, job_id)


def _recount(uow, job_id: str) -> None:
    # the job's row locked first: a replica recording the job's other last answers at
    # the same time has committed them when this one counts (READ COMMITTED sees them)
    row = uow.session.execute(select(jobs).where(jobs.c.id == job_id)
                              .with_for_update()).first()
    counts = Counter(dict(uow.session.execute(
        select(items.c.outcome, func.count()).where(items.c.job_id == job_id)
        .group_by(items.c.outcome)).all()))
    done = sum(n for outcome, n in counts.items() if outcome is not None)
    finished = done >= row.total and row.status != "completed"
    uow.session.execute(update(jobs).where(jobs.c.id == job_id).values(
        done=done, changed=counts["changed"], unchanged=counts["unchanged"],
        failed=sum(counts[o] for o in FAILED),
        **({"status": "completed", "finished_at": utcnow()} if finished else {})))
    if finished:
        uow.emit("ares.refresh_completed", job_id, _event_data(get_any(uow, job_id)))


def get_any(uow, job_id: str) -> dict:
    return _resource(uow.session.execute(select(jobs).where(jobs.c.id == job_id)).first())


def icos_of(uow, client_id: str) -> set[str]:
    return set(uow.session.scalars(select(items.c.ico).where(
        items.c.client_id == client_id, items.c.ico != "")))


def forget_client(uow, client_id: str) -> None:
    """Erasure: the jobs keep their counts, not who was in them; one still waiting for
    the client no longer does."""
    pending = list(uow.session.scalars(select(items.c.job_id).where(
        items.c.client_id == client_id, items.c.outcome.is_(None))))
    uow.session.execute(delete(items).where(items.c.client_id == client_id,
                                            items.c.outcome.is_(None)))
    uow.session.execute(update(items).where(items.c.client_id == client_id)
                        .values(ico=""))  # a sole trader's IČO names the person
    for job_id in sorted(set(pending)):
        uow.session.execute(update(jobs).where(jobs.c.id == job_id)
                            .values(total=jobs.c.total - 1))
        _recount(uow, job_id)
