"""Saved column mappings (`/api/v1/import-templates`): the organisation's, so a colleague's
monthly export is mapped once. Its creator, managers and administrators change them."""
import uuid

from sqlalchemy import select, update

from crm_common.errors import Forbidden, NotFound, PreconditionFailed
from crm_common.events import rfc3339, utcnow
from crm_common.pagination import newest_first

from .orm import templates
from .schemas import load_template

CREATE = "import.template"


def to_resource(row) -> dict:
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    return {"id": data["id"], "name": data["name"], "mapping": data["mapping"],
            "mode": data["mode"], "sheet": data["sheet"], "version": data["version"],
            "created_by": data["created_by"], "created_at": rfc3339(data["created_at"]),
            "updated_at": rfc3339(data["updated_at"])}


def _row(uow, template_id: str, lock: bool = False):
    query = select(templates).where(templates.c.id == template_id,
                                    templates.c.deleted_at.is_(None))
    row = uow.session.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"import template {template_id} not found")
    return row


def get(uow, template_id: str) -> dict:
    return to_resource(_row(uow, template_id))


def mapping_of(uow, template_id: str) -> dict:
    """What a job made with the template takes from it."""
    row = _row(uow, template_id)
    return {"mapping": row.mapping, "mode": row.mode, "sheet": row.sheet}


def list_templates(uow, limit: int = 50, cursor: str | None = None) -> dict:
    query = select(templates).where(templates.c.deleted_at.is_(None))
    return newest_first(uow.session, query, templates.c.created_at, templates.c.id, limit,
                        cursor, dump=to_resource, key=lambda row: (row.created_at, row.id),
                        rows=lambda q: uow.session.execute(q).all())


def create(uow, payload, idempotency_key: str | None = None) -> dict:
    replayed = uow.replay(CREATE, idempotency_key, {"template": payload})
    if replayed is not None:
        return replayed
    data, now = load_template(payload), utcnow()
    values = {"id": str(uuid.uuid4()), **data, "version": 1,
              "created_by": uow.context.actor, "creator_id": uow.context.caller.user_id,
              "created_at": now, "updated_at": now, "deleted_at": None}
    uow.session.execute(templates.insert().values(**values))
    return uow.commit_once(CREATE, idempotency_key, {"template": payload}, to_resource(values))


def change(uow, template_id: str, payload, if_match: int | None = None) -> dict:
    data = load_template(payload, partial=True)
    row = _changeable(uow, template_id, if_match)
    values = {**data, "version": row.version + 1, "updated_at": utcnow()}
    uow.session.execute(update(templates).where(templates.c.id == template_id).values(**values))
    uow.commit()
    return to_resource({**row._mapping, **values})


def delete(uow, template_id: str, if_match: int | None = None) -> None:
    row = _changeable(uow, template_id, if_match)
    uow.session.execute(update(templates).where(templates.c.id == template_id).values(
        deleted_at=utcnow(), version=row.version + 1))
    uow.commit()


def _changeable(uow, template_id: str, if_match):
    row = _row(uow, template_id, lock=True)
    caller = uow.context.caller
    if not caller.oversees and row.creator_id != caller.user_id:
        raise Forbidden("only its creator, a manager or an administrator changes a template")
    if if_match is not None and if_match != row.version:
        raise PreconditionFailed(f"import template {template_id} is at version {row.version}")
    return row
