"""The audit log: every write through the API (who, which resource and action, when, from
which address and token, with what outcome), kept for `AUDIT_RETENTION_DAYS`."""
from datetime import timedelta

from sqlalchemy import delete, select

from crm_common.events import rfc3339, utcnow

from .orm import audit_log
from .store import aware

FILTERS = ("user_id", "resource", "action", "record_id", "status", "token_id")


def record(connection, entry: dict) -> None:
    connection.execute(audit_log.insert().values(at=utcnow(), **entry))


def to_resource(row) -> dict:
    return {"id": row.id, "at": rfc3339(aware(row.at)), "actor": row.actor,
            "user_id": row.user_id, "token_id": row.token_id, "ip": row.ip,
            "method": row.method, "path": row.path, "resource": row.resource,
            "action": row.action, "record_id": row.record_id, "status": row.status,
            "correlation_id": row.correlation_id}


def page(connection, limit: int, before_id: int | None, filters: dict) -> tuple[list, bool]:
    """Newest first; the cursor is the last id seen (ids only grow)."""
    columns = audit_log.c
    query = select(audit_log).order_by(columns.id.desc())
    if before_id is not None:
        query = query.where(columns.id < before_id)
    for name in FILTERS:
        if filters.get(name) is not None:
            query = query.where(getattr(columns, name) == filters[name])
    if filters.get("since") is not None:
        query = query.where(columns.at >= filters["since"])
    if filters.get("until") is not None:
        query = query.where(columns.at < filters["until"])
    rows = connection.execute(query.limit(limit + 1)).all()
    return [to_resource(row) for row in rows[:limit]], len(rows) > limit


def prune(connection, retention_days: float) -> int:
    return connection.execute(delete(audit_log).where(
        audit_log.c.at < utcnow() - timedelta(days=retention_days))).rowcount
