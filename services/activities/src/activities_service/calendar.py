"""One user's calendar feed (GET /api/v1/calendar.ics): their meetings and open tasks as
iCalendar text, which Outlook, Google Calendar and the like fetch whole every few hours.

- Meetings the user wrote (author `user:<id>`) or attends (an `entry_links` row of kind
  `user`), starting `WINDOW` before now or later: the apps fetch the whole feed each time,
  so the past is cut short; the future is all there.
- Open tasks assigned to the user or written by them. Google Calendar and Outlook ignore
  VTODO in a subscribed calendar, so by default (`tasks="events"`) a task due on a day is an
  all-day VEVENT that day, a task due at a time a short VEVENT then, and a task without a
  due date is left out (a calendar has no place for it). `tasks="todos"` gives every open
  task as a VTODO instead (Thunderbird and Evolution show those); `"none"`, no tasks.
- Times are UTC; the calendar names Europe/Prague (VTIMEZONE, X-WR-TIMEZONE) as the zone to
  show them in. A due date is a date, in no zone.
"""
from datetime import date, datetime, timedelta, timezone

from icalendar import Calendar, Event, Timezone, Todo, vCalAddress
from sqlalchemy import or_, select

from crm_common.errors import ValidationFailed

from .orm import entry_links, timeline_entries

TIME_ZONE = "Europe/Prague"
WINDOW = timedelta(days=90)  # how far back meetings go
TASK_EVENT_LENGTH = timedelta(minutes=30)  # a task due at a time, as a VEVENT
TASK_MODES = ("events", "todos", "none")
MAX_ITEMS = 5000  # of each kind: the RPC answer stays bounded whatever the data holds
PRIORITIES = {"high": 1, "normal": 5, "low": 9}  # RFC 5545: 1 highest, 9 lowest
PRODID = "-//CRM//Calendar feed//EN"


def calendar_feed(uow, user_id: str, now: datetime, tasks: str = "events") -> str:
    """The ICS text of `user_id`'s feed at `now` (UTC)."""
    if tasks not in TASK_MODES:
        raise ValidationFailed({"tasks": [f"One of {', '.join(TASK_MODES)}."]})
    feed = Calendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("x-wr-calname", "CRM")
    feed.add("x-wr-timezone", TIME_ZONE)
    # how often to fetch again: REFRESH-INTERVAL (RFC 7986) and Outlook's own property
    feed.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    feed.add("x-published-ttl", "PT1H")
    feed.add_component(Timezone.from_tzid(TIME_ZONE, first_date=date(now.year - 1, 1, 1),
                                          last_date=date(now.year + 5, 1, 1)))
    for row in _meetings(uow.session, user_id, now - WINDOW):
        feed.add_component(_meeting(row, now))
    if tasks != "none":
        for row in _open_tasks(uow.session, user_id):
            component = _task_todo(row, now) if tasks == "todos" else _task_event(row, now)
            if component is not None:
                feed.add_component(component)
    return feed.to_ical().decode("utf-8")


# -- what the feed holds -------------------------------------------------------------------

def _meetings(session, user_id: str, since: datetime):
    columns = timeline_entries.c
    attended = select(entry_links.c.entry_id).where(entry_links.c.kind == "user",
                                                    entry_links.c.ref_id == user_id)
    return session.execute(select(timeline_entries).where(
        columns.type == "meeting", columns.deleted_at.is_(None),
        columns.starts_at.is_not(None), columns.starts_at >= since,
        or_(columns.author == f"user:{user_id}", columns.id.in_(attended)))
        .order_by(columns.starts_at, columns.id).limit(MAX_ITEMS)).all()


def _open_tasks(session, user_id: str):
    columns = timeline_entries.c
    return session.execute(select(timeline_entries).where(
        columns.type == "task", columns.status == "open", columns.deleted_at.is_(None),
        or_(columns.assignee_id == user_id, columns.author == f"user:{user_id}"))
        .order_by(columns.due_at, columns.id).limit(MAX_ITEMS)).all()


# -- components ----------------------------------------------------------------------------

def _meeting(row, now: datetime) -> Event:
    event = _component(Event(), row, now, row.title or "Meeting", "Meeting")
    data = row.data or {}
    event.add("description", _minutes(row.body, data))
    if data.get("place"):
        event.add("location", str(data["place"]))
    event.add("dtstart", _utc(row.starts_at))
    ends_at = _utc(row.ends_at)
    if ends_at is not None and ends_at > _utc(row.starts_at):
        event.add("dtend", ends_at)
    event.add("status", "CONFIRMED")
    for attendee in data.get("attendees") or []:
        if isinstance(attendee, dict) and attendee.get("id"):
            event.add("attendee", _attendee(attendee))
    return event


def _minutes(body: str | None, data: dict) -> str:
    parts = [body or ""]
    for label, key in (("Outcome", "outcome"), ("Follow-up", "follow_up")):
        if isinstance(data.get(key), str) and data[key].strip():
            parts.append(f"{label}: {data[key]}")
    return "\n\n".join(part for part in parts if part)


def _attendee(attendee: dict) -> vCalAddress:
    # no e-mail addresses are known: the person's id, and their name where the entry has it
    address = vCalAddress(f"urn:uuid:{attendee['id']}")
    address.params["CUTYPE"] = "INDIVIDUAL"
    if attendee.get("name"):
        address.params["CN"] = str(attendee["name"])
    return address


def _task_event(row, now: datetime) -> Event | None:
    if row.due_date is None and row.due_at is None:
        return None
    event = _component(Event(), row, now, f"Task: {row.title}", "Task")
    if row.body:
        event.add("description", row.body)
    if row.due_date is not None:  # all day; due_at is then only the day's start in Prague
        event.add("dtstart", row.due_date)
        event.add("dtend", row.due_date + timedelta(days=1))
    else:
        event.add("dtstart", _utc(row.due_at))
        event.add("dtend", _utc(row.due_at) + TASK_EVENT_LENGTH)
    event.add("transp", "TRANSPARENT")  # a reminder, not time taken: free/busy stays free
    _priority(event, row)
    return event


def _task_todo(row, now: datetime) -> Todo:
    todo = _component(Todo(), row, now, row.title, "Task")
    if row.body:
        todo.add("description", row.body)
    if row.due_date is not None or row.due_at is not None:
        todo.add("due", row.due_date if row.due_date is not None else _utc(row.due_at))
    todo.add("status", "NEEDS-ACTION")
    _priority(todo, row)
    return todo


def _component(component, row, now: datetime, summary: str, category: str):
    """What every component has: the entry's stable UID, its version as SEQUENCE, when it
    was written and changed, its client and deal."""
    modified = _utc(row.updated_at) or _utc(row.created_at) or now
    component.add("uid", f"{row.id}@crm")
    # no METHOD in the feed: DTSTAMP is then when the entry was last changed (RFC 5545)
    component.add("dtstamp", modified)
    if row.created_at is not None:
        component.add("created", _utc(row.created_at))
    component.add("last-modified", modified)
    component.add("sequence", row.version or 0)
    component.add("summary", summary)
    component.add("categories", [category])
    if row.client_id:
        component.add("x-crm-client-id", row.client_id)
    if row.deal_id:
        component.add("x-crm-deal-id", row.deal_id)
    return component


def _priority(component, row) -> None:
    if row.priority in PRIORITIES:
        component.add("priority", PRIORITIES[row.priority])


def _utc(moment: datetime | None) -> datetime | None:
    """Stored times are UTC; SQLite gives them back without their zone."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
