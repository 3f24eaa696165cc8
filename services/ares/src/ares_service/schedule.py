"""The scheduled refresh: every client with an IČO is looked up again once a period
(ARES_REFRESH_DAYS, 30 by default), each at its own moment of the period (by its id), so
the month's lookups are spread out instead of one burst. Its lookups bypass the cache and
are quiet: events only when the register's answer changed."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from crm_common.uow import dialect_insert

from .orm import registry_watch as watch
from .queue import LookupQueue



def spread(client_id: str, period: timedelta) -> timedelta:
    """Where in the period this client's refresh falls (the same on every replica)."""
    fraction = int(hashlib.sha256(client_id.encode()).hexdigest()[:8], 16) / 0x100000000
    return period * fraction


def watch_clients(session, told: list[tuple[str, str, str]], now: datetime,
                  period: timedelta) -> None:
    """Watch these clients: (client_id, ico, fingerprint of what it was told); a client
    given another IČO keeps its moment of the period."""
    if not told:
        return
    rows = [{"client_id": client_id, "ico": ico, "fingerprint": fingerprint,
             "next_refresh_at": now + spread(client_id, period)}
            for client_id, (ico, fingerprint) in
            {c: (i, f) for c, i, f in told}.items()]
    statement = dialect_insert(session, watch)
    session.execute(statement.on_conflict_do_update(
        index_elements=[watch.c.client_id],
        set_={"ico": statement.excluded.ico, "fingerprint": statement.excluded.fingerprint}),
        rows)


def fingerprints(session, client_ids) -> dict[str, tuple[str, str]]:
    """{client_id: (ico, fingerprint)} of what these clients were last told."""
    if not client_ids:
        return {}
    return {row.client_id: (row.ico, row.fingerprint) for row in session.execute(
        select(watch.c.client_id, watch.c.ico, watch.c.fingerprint)
        .where(watch.c.client_id.in_(set(client_ids))))}


def icos_of(session, client_id: str) -> set[str]:
    return set(session.scalars(select(watch.c.ico).where(watch.c.client_id == client_id)))


def unwatch(session, client_id: str) -> None:
    session.execute(delete(watch).where(watch.c.client_id == client_id))


def queue_due(session, now: datetime, period: timedelta, limit: int = 1000) -> int:
    """Queue the lookups of the clients whose moment came; their next one is a period on."""
    due = session.execute(select(watch.c.client_id, watch.c.ico)
                          .where(watch.c.next_refresh_at <= now)
                          .order_by(watch.c.next_refresh_at).limit(limit)
                          .with_for_update(skip_locked=True)).all()
    if not due:
        return 0
    LookupQueue(session).add([{"ico": ico, "client_id": client_id, "reason": "scheduled",
                               "quiet": True, "bypass_cache": True} for client_id, ico in due], now)
    session.execute(update(watch).where(watch.c.client_id.in_([c for c, _ in due]))
                    .values(next_refresh_at=now + period))
    return len(due)
