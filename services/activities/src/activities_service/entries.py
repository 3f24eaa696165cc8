"""Entries typed by users: notes, meetings, calls, e-mails and tasks (plain Python).

Every entry has a title and a body. What only one type has lives in the entry's `details`
(stored in `data`), except what is queried: a meeting's times, an e-mail's Message-ID and
a task's assignee, status and due moment are columns.
"""
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_common.events import to_utc
from crm_common.text import fold

from .domain import EMPTY, TYPE_TITLES, USER_SOURCE, TimelineEntry, render_value

TYPED = ("note", "meeting", "call", "email", "task")
# what each type keeps in `data`
DETAILS = {
    "note": (),
    "meeting": ("place", "attendees", "outcome", "follow_up"),
    "call": ("direction", "phone", "duration_seconds", "outcome"),
    "email": ("direction", "from", "to", "cc"),
    "task": (),
}
# what each type keeps in columns of its own (besides title, body, occurred_at)
COLUMNS = {
    "note": (),
    "meeting": ("starts_at", "ends_at"),
    "call": (),
    "email": ("message_id",),
    "task": ("assignee_id", "due_date", "due_at", "priority", "status"),
}
COMMON = ("title", "body", "occurred_at", "deal_id", "contact_ids")
TASK_STATES = ("open", "done")
PRIORITIES = ("low", "normal", "high")
CALL_OUTCOMES = ("connected", "no_answer", "busy", "voicemail", "wrong_number")
DIRECTIONS = ("inbound", "outbound")


class EntryError(ValueError):
    """A rule of an entry broken: (field, message)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def editable_fields(type_: str) -> tuple:
    return COMMON + DETAILS[type_] + COLUMNS[type_]


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first moment of `day` in `zone`, in UTC (a task due on a day falls due then)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))


def new_entry(type_: str, values: dict, *, client_id: str, author: str | None,
              now: datetime, zone: ZoneInfo) -> TimelineEntry:
    """An entry of `type_` from validated `values` (the fields of `editable_fields`)."""
    if type_ not in TYPED:
        raise EntryError("type", f"One of {', '.join(TYPED)}.")
    entry = TimelineEntry(
        id=str(uuid.uuid4()), type=type_, title="", body="", occurred_at=to_utc(now),
        source=USER_SOURCE, author=author, client_id=client_id, data={}, event_id=None,
        created_at=to_utc(now))
    if type_ == "task":
        entry.status, entry.priority = "open", "normal"
        entry.assignee_id = user_id_of(author)
    apply_values(entry, values, now=now, zone=zone)
    if type_ == "task" and entry.status == "done":
        entry.completed_at, entry.completed_by = to_utc(now), author
    return entry


def apply_values(entry: TimelineEntry, values: dict, *, now: datetime, zone: ZoneInfo
                 ) -> dict:
    """Set `values` on `entry` and make it whole again: {field: {before, after}}."""
    allowed = editable_fields(entry.type)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise EntryError(unknown[0], f"Not a field of a {entry.type} entry.")
    before = snapshot(entry)
    details = dict(entry.data or {})
    for name, value in values.items():
        if name in DETAILS[entry.type] or name == "contact_ids":
            details[name] = value
        elif name == "occurred_at":
            entry.occurred_at = to_utc(value or now)
        else:
            setattr(entry, name, value)
    entry.data = {key: value for key, value in details.items()
                  if value not in (None, [], "")}
    _complete(entry, values, zone)
    after = snapshot(entry)
    return {name: {"before": before.get(name), "after": after.get(name)}
            for name in after if before.get(name) != after.get(name)}


def _complete(entry: TimelineEntry, values: dict, zone: ZoneInfo) -> None:
    """Defaults and the rules between fields, whichever of them were just set."""
    details = entry.data
    if entry.type == "meeting":
        if entry.starts_at is None:
            raise EntryError("starts_at", "A meeting needs its start.")
        entry.starts_at = to_utc(entry.starts_at)
        entry.ends_at = to_utc(entry.ends_at) if entry.ends_at else None
        if entry.ends_at and entry.ends_at < entry.starts_at:
            raise EntryError("ends_at", "A meeting cannot end before it starts.")
        if "occurred_at" not in values:
            entry.occurred_at = entry.starts_at
    if entry.type == "call":
        if not details.get("direction"):
            raise EntryError("direction", "Say whether the call was inbound or outbound.")
        if details.get("outcome") and details["outcome"] not in CALL_OUTCOMES:
            raise EntryError("outcome", f"A call's outcome is one of "
                                        f"{', '.join(CALL_OUTCOMES)}.")
    if entry.type == "email":
        if not details.get("to"):
            raise EntryError("to", "An e-mail has at least one recipient.")
        entry.message_id = (entry.message_id or "").strip() or None
    if entry.type == "task":
        _task_due(entry, values, zone)
    entry.title = (entry.title or "").strip() or _default_title(entry)
    if not (entry.body or "").strip():
        entry.body = summary(entry)
    entry.search_text = fold(" ".join(
        [entry.title, entry.body, *(render_value(details.get(name))
                                    for name in DETAILS[entry.type] if name != "attendees"),
         *(person.get("name") or "" for person in details.get("attendees") or [])]))


def _task_due(entry: TimelineEntry, values: dict, zone: ZoneInfo) -> None:
    if values.get("due_date") is not None and values.get("due_at") is not None:
        raise EntryError("due_at", "Give due_date or due_at, not both.")
    if "due_date" in values and values["due_date"] is not None:
        entry.due_at = start_of_day(entry.due_date, zone)
    elif "due_at" in values:
        entry.due_date = None
        entry.due_at = to_utc(entry.due_at) if entry.due_at else None
    elif "due_date" in values:  # due_date: null alone takes the due date away
        entry.due_at = None
    if not entry.title or not entry.title.strip():
        raise EntryError("title", "A task needs a title.")


def _default_title(entry: TimelineEntry) -> str:
    details = entry.data
    if entry.type == "call":
        who = details.get("phone")
        word = "Incoming call" if details.get("direction") == "inbound" else "Call"
        return f"{word} {who}" if who else word
    if entry.type == "email":
        return "E-mail"
    return TYPE_TITLES[entry.type]


def summary(entry: TimelineEntry) -> str:
    """The body of an entry nothing was written in: what its details say."""
    details = entry.data
    if entry.type == "call":
        parts = [details.get("direction") or "", details.get("outcome") or ""]
        if details.get("duration_seconds"):
            minutes, seconds = divmod(int(details["duration_seconds"]), 60)
            parts.append(f"{minutes} min {seconds} s" if minutes else f"{seconds} s")
        return ", ".join(part.replace("_", " ") for part in parts if part) or entry.title
    if entry.type == "meeting":
        place = f" ({details['place']})" if details.get("place") else ""
        return f"{entry.title}{place}"
    return entry.title or EMPTY


def snapshot(entry: TimelineEntry) -> dict:
    """What a user may see changed: its fields as JSON values."""
    values = {"title": entry.title, "body": entry.body,
              "occurred_at": as_json(entry.occurred_at), "deal_id": entry.deal_id}
    for name in ("contact_ids", *DETAILS.get(entry.type, ())):
        values[name] = (entry.data or {}).get(name)
    for name in COLUMNS.get(entry.type, ()):
        values[name] = as_json(getattr(entry, name))
    if entry.type == "task":
        values["completed_at"] = as_json(entry.completed_at)
        values["completed_by"] = entry.completed_by
    return values


def as_json(value):
    if isinstance(value, datetime):
        return to_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def user_id_of(actor: str | None) -> str | None:
    return actor.split(":", 1)[1] if actor and actor.startswith("user:") else None


def complete(entry: TimelineEntry, actor: str | None, now: datetime) -> dict:
    """A task done: {field: change} (empty when it already was)."""
    if entry.status == "done":
        return {}
    before = snapshot(entry)
    entry.status, entry.completed_at, entry.completed_by = "done", to_utc(now), actor
    after = snapshot(entry)
    return {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}


def reopen(entry: TimelineEntry, now: datetime) -> dict:
    """A done task open again; if its due moment is still ahead, it will be announced due."""
    if entry.status == "open":
        return {}
    before = snapshot(entry)
    entry.status, entry.completed_at, entry.completed_by = "open", None, None
    if entry.due_at is not None and to_utc(entry.due_at) > to_utc(now):
        entry.due_sent_at = None
    after = snapshot(entry)
    return {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}


def linked_contacts(entry: TimelineEntry) -> set[str]:
    """The contact persons an entry is on the timeline of: linked, or attending."""
    data = entry.data or {}
    ids = set(data.get("contact_ids") or [])
    ids |= {person["id"] for person in data.get("attendees") or []
            if person.get("kind") == "contact" and person.get("id")}
    if isinstance(data.get("contact"), dict) and data["contact"].get("id"):
        ids.add(data["contact"]["id"])  # a system entry about a contact person
    return ids


def attending_users(entry: TimelineEntry) -> set[str]:
    return {person["id"] for person in (entry.data or {}).get("attendees") or []
            if person.get("kind") == "user" and person.get("id")}


def due_window(kind: str, now: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """The calendar days [first, last] of `today` or `week` (Monday to Sunday) in `zone`."""
    today = to_utc(now).astimezone(zone).date()
    if kind == "today":
        return today, today
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)
