"""Use cases of typed entries and tasks: create, read, edit, delete, complete, announce due.

The gateway has checked the client (and the deal) the entry belongs to against the caller;
an entry's own id is checked here and, for its client, by the gateway again."""
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_common.concurrency import concurrent_writes
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.events import to_utc, utcnow
from crm_common.fields import load
from crm_common.pagination import cursor_offset, offset_cursor

from . import entries
from .domain import USER_SOURCE, TimelineEntry
from .entries import COLUMNS, DETAILS, EntryError, as_json
from .entry_schemas import EntryCreateSchema, EntryFieldsSchema, TaskQuerySchema
from .repository import Entries

CREATE, UPDATE, DELETE = "activities.create", "activities.update", "activities.delete"
COMPLETE, REOPEN = "activities.complete_task", "activities.reopen_task"
DEFAULT_ZONE = "Europe/Prague"
_create_schema = EntryCreateSchema()
_fields_schema = EntryFieldsSchema()
_task_query_schema = TaskQuerySchema()


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed({"time_zone": [f"Unknown time zone {name!r}."]}) from exc


# -- what callers get ------------------------------------------------------------------


def resource(entry: TimelineEntry) -> dict:
    """The REST resource: the common fields, then its type's own at the top level."""
    typed = entry.source == USER_SOURCE and entry.type in DETAILS
    found = {"id": entry.id, "type": entry.type, "title": entry.title, "body": entry.body,
             "occurred_at": as_json(entry.occurred_at), "author": entry.author,
             "source": entry.source, "client_id": entry.client_id, "deal_id": entry.deal_id,
             "contact_ids": list((entry.data or {}).get("contact_ids") or []) if typed
             else sorted(entries.linked_contacts(entry)),
             "data": {} if typed else (entry.data or {}),
             "version": entry.version or 1, "created_at": as_json(entry.created_at),
             "updated_at": as_json(entry.updated_at), "updated_by": entry.updated_by}
    if typed:
        found.update(details(entry))
    return found


def details(entry: TimelineEntry) -> dict:
    """A typed entry's own fields (none of a system entry)."""
    found = {name: (entry.data or {}).get(name) for name in DETAILS[entry.type]}
    found.update({name: as_json(getattr(entry, name)) for name in COLUMNS[entry.type]})
    if entry.type == "task":
        found.update(completed_at=as_json(entry.completed_at), completed_by=entry.completed_by,
                     plan_run_id=entry.plan_run_id)
    if entry.type in ("call", "meeting", "email"):
        for name in ("attendees", "to", "cc"):
            if name in found and found[name] is None:
                found[name] = []
    return found


def event_activity(entry: TimelineEntry) -> dict:
    """The entry as events carry it (docs/events/activity.created.v1.json)."""
    return {"id": entry.id, "type": entry.type, "title": entry.title, "body": entry.body,
            "occurred_at": as_json(entry.occurred_at), "author": entry.author,
            "source": entry.source, "client_id": entry.client_id, "deal_id": entry.deal_id,
            "contact_ids": sorted(entries.linked_contacts(entry)),
            "version": entry.version or 1, "data": {},
            "details": details(entry) if entry.type in DETAILS else {},
            "created_at": as_json(entry.created_at)}


# -- entries ---------------------------------------------------------------------------


def create(uow, payload: dict, idempotency_key: str | None = None,
           time_zone: str | None = None) -> dict:
    """A typed entry; `activity.created`. An e-mail whose Message-ID is logged on this
    client already is that entry (`created: false`)."""
    replayed = uow.replay(CREATE, idempotency_key, payload)
    if replayed is not None:
        return replayed
    data = load(_create_schema, payload)
    type_, client_id = data.pop("type"), data.pop("client_id")
    author = data.pop("author", None) or uow.context.actor
    repo, now = Entries(uow.session), utcnow()
    if type_ == "email" and data.get("message_id"):
        logged = repo.by_message_id(client_id, data["message_id"].strip())
        if logged is not None:
            return uow.commit_once(CREATE, idempotency_key, payload,
                                   {"activity": resource(logged), "created": False})
    with _entry_rules():
        entry = entries.new_entry(type_, data, client_id=client_id, author=author, now=now,
                                  zone=zone_of(time_zone))
    with concurrent_writes("This e-mail was logged at the same moment; log it again."):
        repo.add(entry)
    repo.audit(entry, "created", author, now, entries.snapshot(entry))
    uow.emit("activity.created", entry.id, {"activity": event_activity(entry)})
    return uow.commit_once(CREATE, idempotency_key, payload,
                           {"activity": resource(entry), "created": True})


def get(uow, activity_id: str) -> dict:
    return resource(Entries(uow.session).get(activity_id))


def update(uow, activity_id: str, payload: dict, if_match: int | None = None,
           idempotency_key: str | None = None, time_zone: str | None = None) -> dict:
    """A user's change of their entry (If-Match); `activity.updated`, the audit trail.
    A task's `status` completes or reopens it as the dedicated calls do."""
    request = {"activity_id": activity_id, "changes": payload, "if_match": if_match}
    replayed = uow.replay(UPDATE, idempotency_key, request)
    if replayed is not None:
        return replayed
    answer = _change(uow, activity_id, load(_fields_schema, payload), if_match, time_zone)
    return uow.commit_once(UPDATE, idempotency_key, request, answer)


def _change(uow, activity_id: str, data: dict, if_match: int | None,
            time_zone: str | None = None, only_type: str | None = None) -> dict:
    repo, now, actor = Entries(uow.session), utcnow(), uow.context.actor
    entry = _editable(repo, activity_id, if_match, only_type)
    status = data.pop("status", None) if entry.type == "task" else None
    with _entry_rules():
        changes = entries.apply_values(entry, data, now=now, zone=zone_of(time_zone))
    if "due_at" in changes and entry.due_at and to_utc(entry.due_at) > now:
        entry.due_sent_at = None  # moved into the future: due again when it comes
    completed = False
    if status == "done":
        changes.update(entries.complete(entry, actor, now))
        completed = bool(changes.get("status"))
    elif status == "open":
        changes.update(entries.reopen(entry, now))
    if changes:
        _save(repo, entry, "updated", actor, now, changes)
        uow.emit("activity.updated", entry.id, {"activity": event_activity(entry),
                                                "changes": changes})
        if completed:
            uow.emit("task.completed", entry.id, {"task": event_activity(entry)})
    return resource(entry)


def delete(uow, activity_id: str, if_match: int | None = None,
           idempotency_key: str | None = None) -> dict:
    """Gone from every timeline; the audit trail keeps what it said. `activity.deleted`."""
    request = {"activity_id": activity_id, "if_match": if_match}
    replayed = uow.replay(DELETE, idempotency_key, request)
    if replayed is not None:
        return replayed
    repo, now, actor = Entries(uow.session), utcnow(), uow.context.actor
    entry = _editable(repo, activity_id, if_match)
    last = entries.snapshot(entry)
    entry.deleted_at, entry.message_id = now, None  # the e-mail may be logged again
    _save(repo, entry, "deleted", actor, now, last)
    uow.emit("activity.deleted", entry.id, {"activity": {
        "id": entry.id, "type": entry.type, "client_id": entry.client_id,
        "deal_id": entry.deal_id, "version": entry.version}})
    return uow.commit_once(DELETE, idempotency_key, request, {"id": entry.id})


def history(uow, activity_id: str) -> dict:
    """The audit trail: who created, changed (from what to what) or deleted it; a deleted
    entry's too."""
    repo = Entries(uow.session)
    entry = repo.get(activity_id, deleted=True)
    items = [{"action": row["action"], "actor": row["actor"], "at": as_json(row["at"]),
              "version": row["version"], "changes": row["changes"]}
             for row in repo.trail(entry.id)]
    return {"activity_id": entry.id, "items": items}


def target(uow, activity_id: str, deleted: bool = False) -> dict:
    """The client and deal an entry belongs to (for the gateway's access check);
    `deleted`: a deleted entry's too (its history)."""
    entry = Entries(uow.session).get(activity_id, deleted=deleted)
    return {"client_id": entry.client_id, "deal_id": entry.deal_id, "type": entry.type}


def _editable(repo: Entries, activity_id: str, if_match: int | None,
              only_type: str | None = None) -> TimelineEntry:
    entry = repo.get(activity_id)
    if only_type and entry.type != only_type:
        raise NotFound(f"{only_type} {activity_id} not found")
    if entry.source != USER_SOURCE or entry.type not in DETAILS:
        raise Conflict("System entries are the record of what happened: they cannot be "
                       "changed or deleted.")
    if if_match is not None and (entry.version or 1) != if_match:
        raise PreconditionFailed(f"activity {activity_id} is at version {entry.version}, "
                                 f"not {if_match}: read it again and reapply your change")
    return entry


def _save(repo: Entries, entry: TimelineEntry, action: str, actor, now, changes) -> None:
    entry.version = (entry.version or 1) + 1
    entry.updated_at, entry.updated_by = now, actor
    with concurrent_writes(f"activity {entry.id} was changed by someone else at the same "
                           "time: read it again and reapply your change"):
        repo.session.flush()
    repo.link(entry)
    repo.audit(entry, action, actor, now, changes)


class _entry_rules:
    """A broken rule of the domain as the 422 the caller gets."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, _):
        if isinstance(exc, EntryError):
            raise ValidationFailed({exc.field: [exc.message]}) from exc
        return False


# -- tasks -----------------------------------------------------------------------------


def tasks(uow, query: dict, now: datetime | None = None) -> dict:
    """Tasks sorted by due moment; `due` (overdue, today, week) in the caller's time zone."""
    args = load(_task_query_schema, query)
    now = to_utc(now or utcnow())
    zone = zone_of(args.get("time_zone"))
    limit = max(1, min(int(args.get("limit") or 50), 500))
    offset = cursor_offset(args["cursor"], "t") if args.get("cursor") else 0
    window = {}
    if args.get("due") == "overdue":
        window["overdue_before"] = (to_utc(now).astimezone(zone).date(), now)
    elif args.get("due"):
        first, last = entries.due_window(args["due"], now, zone)
        window["due_days"] = (first, last)
        window["day_bounds"] = (entries.start_of_day(first, zone),
                                entries.start_of_day(last.fromordinal(last.toordinal() + 1),
                                                     zone))
    found = Entries(uow.session).tasks(
        offset=offset, count=limit + 1, assignee_ids=args.get("assignee_ids"),
        visible_to=args.get("visible_to"), status=args.get("status"),
        client_id=args.get("client_id"), deal_id=args.get("deal_id"), **window)
    return {"items": [resource(task) for task in found[:limit]],
            "next_cursor": offset_cursor(offset + limit, "t") if len(found) > limit else None}


def complete_task(uow, task_id: str, if_match: int | None = None,
                  idempotency_key: str | None = None) -> dict:
    return _set_status(uow, COMPLETE, task_id, "done", if_match, idempotency_key)


def reopen_task(uow, task_id: str, if_match: int | None = None,
                idempotency_key: str | None = None) -> dict:
    return _set_status(uow, REOPEN, task_id, "open", if_match, idempotency_key)


def _set_status(uow, operation, task_id, status, if_match, idempotency_key) -> dict:
    request = {"task_id": task_id, "if_match": if_match}
    replayed = uow.replay(operation, idempotency_key, request)
    if replayed is not None:
        return replayed
    answer = _change(uow, task_id, {"status": status}, if_match, only_type="task")
    return uow.commit_once(operation, idempotency_key, request, answer)


def announce_due(uow, now: datetime | None = None, limit: int = 500) -> int:
    """`task.due` for each open task whose moment has come, once: the row says it was sent
    in the same transaction as the outbox row (several replicas: PostgreSQL's SKIP LOCKED,
    SQLite's single writer; a restart finds what was sent in the table)."""
    now = to_utc(now or utcnow())
    due = Entries(uow.session).due_unannounced(now, limit)
    for task in due:
        task.due_sent_at = now
        uow.emit("task.due", task.id, {"task": event_activity(task)})
    uow.commit()
    return len(due)
