"""Use cases of the timeline. Each runs in one unit of work and stages its events."""
import base64
from datetime import datetime, timezone

from marshmallow import ValidationError
from sqlalchemy import select, tuple_

from crm_common.errors import ValidationFailed

from .domain import TimelineEntry, entry_from_event, new_note, to_utc
from .orm import timeline_entries
from .schemas import NoteCreateSchema, TimelineEntrySchema, TimelineQuerySchema

_note_schema = NoteCreateSchema()
_query_schema = TimelineQuerySchema()
_entry_schema = TimelineEntrySchema()


def now() -> datetime:
    return datetime.now(timezone.utc)


def to_resource(entry: TimelineEntry) -> dict:
    return _entry_schema.dump(entry)


def add_note(uow, payload: dict) -> dict:
    """A note, meeting, call or e-mail typed by a user; emits `activity.created`."""
    try:
        data = _note_schema.load(payload or {})
    except ValidationError as exc:
        raise ValidationFailed(exc.messages) from exc
    entry = new_note(body=data["body"], client_id=data["client_id"], now=now(),
                     type=data["type"], title=data.get("title"), deal_id=data.get("deal_id"),
                     author=data.get("author") or uow.context.actor,
                     occurred_at=data.get("occurred_at"))
    uow.session.add(entry)
    uow.session.flush()
    resource = to_resource(entry)
    uow.emit("activity.created", entry.id, {"activity": resource})
    uow.commit()
    return resource


def record_event(uow, event: dict) -> None:
    """On another service's event: write the timeline entry it stands for, once.

    The inbox (see `handle_event`) skips redeliveries; the unique event_id is the second
    line, so the same event never makes two entries even without it.
    """
    entry = entry_from_event(event, now())
    if entry is None:
        return
    exists = uow.session.execute(select(timeline_entries.c.id).where(
        timeline_entries.c.event_id == entry.event_id)).first()
    if exists:
        return
    uow.session.add(entry)
    uow.session.flush()


def timeline(uow, client_id: str | None = None, deal_id: str | None = None,
             limit: int = 50, cursor: str | None = None, types=None) -> dict:
    """Newest first by occurred_at (never by arrival), keyset-paginated.

    client_id and deal_id filter together (a deal's entries of one client when both given).
    """
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    try:
        query_args = _query_schema.load({"client_id": client_id, "deal_id": deal_id,
                                         "limit": limit, "cursor": cursor, "types": types})
    except ValidationError as exc:
        raise ValidationFailed(exc.messages) from exc
    client_id, deal_id = query_args.get("client_id"), query_args.get("deal_id")
    if not client_id and not deal_id:
        raise ValidationFailed({"client_id": ["Give client_id or deal_id (or both)."]})
    limit = max(1, min(query_args.get("limit") or 50, 500))
    columns = timeline_entries.c
    query = select(TimelineEntry).order_by(columns.occurred_at.desc(), columns.id.desc())
    if client_id:
        query = query.where(columns.client_id == client_id)
    if deal_id:
        query = query.where(columns.deal_id == deal_id)
    if query_args.get("types"):
        query = query.where(columns.type.in_(query_args["types"]))
    if query_args.get("cursor"):
        occurred, last_id = _decode_cursor(query_args["cursor"])
        query = query.where(tuple_(columns.occurred_at, columns.id) < (occurred, last_id))
    rows = uow.session.scalars(query.limit(limit + 1)).all()
    items = [to_resource(entry) for entry in rows[:limit]]
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def _encode_cursor(entry: TimelineEntry) -> str:
    raw = f"{to_utc(entry.occurred_at).isoformat()}|{entry.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str):
    try:
        occurred, last_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return to_utc(datetime.fromisoformat(occurred)), last_id
    except Exception as exc:  # noqa: BLE001 - any garbage is the caller's error
        raise ValidationFailed({"cursor": ["Not a valid cursor."]}) from exc
