"""Saved views: a name, the list's filters and sort, the columns shown; a user's own or
shared with everyone. Only its owner (or an administrator) changes one."""
import uuid

from sqlalchemy import or_, select, update
from werkzeug.exceptions import NotFound, PreconditionFailed

from crm_common.events import rfc3339, utcnow

from .orm import views
from .store import aware


def to_resource(row) -> dict:
    return {"id": row.id, "owner_id": row.owner_id, "name": row.name,
            "resource": row.resource, "filters": row.filters, "sort": row.sort,
            "columns": list(row.columns), "shared": bool(row.shared),
            "created_at": rfc3339(aware(row.created_at)),
            "updated_at": rfc3339(aware(row.updated_at)), "version": row.version}


def visible(user_id: str | None):
    """A user's own views and the shared ones."""
    return or_(views.c.owner_id == user_id, views.c.shared.is_(True))


def page(connection, user_id, limit: int, offset: int) -> tuple[list, bool]:
    rows = connection.execute(select(views).where(visible(user_id))
                              .order_by(views.c.name, views.c.id)
                              .offset(offset).limit(limit + 1)).all()
    return [to_resource(row) for row in rows[:limit]], len(rows) > limit


def get_row(connection, view_id: str, user_id: str | None):
    row = connection.execute(select(views).where(views.c.id == view_id,
                                                 visible(user_id))).first()
    if row is None:
        raise NotFound(f"View {view_id} does not exist.")
    return row


def _stored(filters: dict) -> dict:
    """Filters as JSON keeps them (times as RFC 3339 text)."""
    return {name: value.isoformat() if hasattr(value, "isoformat") else value
            for name, value in filters.items()}


def create(connection, owner_id: str, data: dict) -> dict:
    now = utcnow()
    row = {"id": str(uuid.uuid4()), "owner_id": owner_id, "name": data["name"],
           "resource": data.get("resource", "clients"),
           "filters": _stored(data.get("filters", {})),
           "sort": data.get("sort"), "columns": data.get("columns", []),
           "shared": data.get("shared", False), "created_at": now, "updated_at": now,
           "version": 1}
    connection.execute(views.insert().values(row))
    return to_resource(get_row(connection, row["id"], owner_id))


def change(connection, row, changes: dict, if_match: int | None) -> dict:
    if if_match is not None and row.version != if_match:
        raise PreconditionFailed(f"View {row.id} is at version {row.version}, not "
                                 f"{if_match}: read it again and reapply your change.")
    if "filters" in changes:
        changes = dict(changes, filters=_stored(changes["filters"]))
    if changes:
        done = connection.execute(update(views).where(
            views.c.id == row.id, views.c.version == row.version).values(
            **changes, updated_at=utcnow(), version=row.version + 1))
        if done.rowcount != 1:
            raise PreconditionFailed(f"View {row.id} was changed by someone else at the "
                                     "same time: read it again.")
    return to_resource(connection.execute(select(views).where(views.c.id == row.id)).one())


def delete(connection, row) -> None:
    connection.execute(views.delete().where(views.c.id == row.id))
