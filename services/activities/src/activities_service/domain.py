"""The timeline's domain: plain Python, no framework.

A `TimelineEntry` is either typed by a user (note, meeting, call, e-mail) or written by the
system from another service's event. The rules below turn an event into at most one entry;
they never look at the database, so they are the same whatever order events arrive in.
"""
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from crm_common.events import parse_time as _parse_time, to_utc
from crm_common.text import fold

TYPES = ("note", "meeting", "call", "email", "task", "system")
USER_TYPES = ("note", "meeting", "call", "email")
USER_SOURCE = "user"
TYPE_TITLES = {"note": "Note", "meeting": "Meeting", "call": "Call", "email": "E-mail",
               "task": "Task", "system": "System"}

# Entries written from events get an id derived from the event's id: the same event
# always describes the same entry (the unique event_id column is what enforces it).
_ENTRY_NAMESPACE = uuid.UUID("6f1c9a52-6a1e-4c55-9d59-3b1f0f3c8a7e")


@dataclass
class TimelineEntry:
    id: str
    type: str
    title: str
    body: str
    occurred_at: datetime
    source: str
    author: str | None = None
    client_id: str | None = None
    deal_id: str | None = None
    data: dict = field(default_factory=dict)
    event_id: str | None = None  # the event it was written from (unique); None when typed
    created_at: datetime | None = None
    version: int = 1
    updated_at: datetime | None = None
    updated_by: str | None = None
    deleted_at: datetime | None = None
    search_text: str | None = None  # title, body and details folded: the timeline's `q`
    message_id: str | None = None  # an e-mail's
    starts_at: datetime | None = None  # a meeting's
    ends_at: datetime | None = None
    assignee_id: str | None = None  # a task's, from here on
    status: str | None = None
    priority: str | None = None
    due_date: date | None = None
    due_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    due_sent_at: datetime | None = None
    plan_run_id: str | None = None


# -- time ---------------------------------------------------------------------------


# Stored times are always UTC so that ordering by occurred_at is right on every dialect
# (SQLite drops the offset).
def parse_time(value: str | None) -> datetime | None:
    return _parse_time(value) if value else None


# -- readable rendering of values and changes ---------------------------------------

EMPTY = "—"


def render_value(value) -> str:
    """A value as a person would read it: addresses by their text, lists joined."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(render_value(item) for item in value)
    if isinstance(value, dict):
        if value.get("text"):
            return str(value["text"])
        if "status" in value and set(value) <= {"source", "status", "fetched_at", "values"}:
            return str(value["status"])  # a registry state
        parts = [f"{key}: {render_value(item)}" for key, item in value.items()
                 if item not in (None, "", [], {})]
        return ", ".join(parts) or EMPTY
    return str(value)


def render_changes(changes: dict) -> str:
    """One line per field: `field: before → after`."""
    return "\n".join(f"{name}: {render_value(change.get('before'))} → "
                     f"{render_value(change.get('after'))}"
                     for name, change in changes.items())


# -- events -> entries -------------------------------------------------------------


def entry_from_event(event: dict, now: datetime) -> TimelineEntry | None:
    """The timeline entry an event stands for, or None when it needs none."""
    rule = RULES.get(event.get("type"))
    return rule(event, now) if rule else None


def entries_from_events(events: list[dict], now: datetime) -> list[TimelineEntry]:
    """The entries a batch of events stands for: at most one per event, in event order."""
    entries: dict[str, TimelineEntry] = {}
    for event in events:
        entry = entry_from_event(event, now)
        if entry is not None:
            entries.setdefault(entry.event_id, entry)
    return list(entries.values())


def _system_entry(event: dict, now: datetime, *, source: str, title: str, body: str,
                  client_id: str | None, data: dict, deal_id: str | None = None
                  ) -> TimelineEntry:
    return TimelineEntry(
        id=str(uuid.uuid5(_ENTRY_NAMESPACE, str(event["id"]))), type="system",
        title=title, body=body, occurred_at=parse_time(event.get("time")) or to_utc(now),
        # what the register did is not the work of the user whose request started it
        source=source, author="system:ares" if source == "ares" else event.get("actor"),
        client_id=client_id, deal_id=deal_id, search_text=fold(f"{title} {body}"),
        data=data, event_id=str(event["id"]), created_at=to_utc(now))


def client_created(event: dict, now: datetime) -> TimelineEntry | None:
    client = (event.get("data") or {}).get("client") or {}
    client_id = client.get("id") or event.get("subject")
    if not client_id:
        return None
    name = client.get("name") or EMPTY
    ico = client.get("ico")
    body = f"Client {name} was created" + (f" (IČO {ico})." if ico else ".")
    return _system_entry(event, now, source="clients", title="Client created", body=body,
                         client_id=client_id,
                         data={"client": {"id": client_id, "name": client.get("name"),
                                          "ico": ico}})


def client_updated(event: dict, now: datetime) -> TimelineEntry | None:
    data = event.get("data") or {}
    client = data.get("client") or {}
    client_id = client.get("id") or event.get("subject")
    changes = dict(data.get("changes") or {})
    if not client_id or not changes:
        return None
    if data.get("source") == "ares" and "registry" in changes:
        registry = (changes.pop("registry") or {}).get("after") or {}
        if registry.get("status") != "ok":
            # a failed lookup: the ares.lookup_failed entry says so, once
            return None if not changes else _client_changed(event, now, client_id, changes,
                                                            source="ares")
        body = render_changes(changes) if changes else \
            "The client's data already matched ARES; nothing changed."
        return _system_entry(event, now, source="ares", title=_ares_title(changes),
                             body=body, client_id=client_id,
                             data={"changes": changes,
                                   "fetched_at": registry.get("fetched_at")})
    return _client_changed(event, now, client_id, changes, source="clients")


def _ares_title(changes: dict) -> str:
    """A dissolution the register reports (no date before, one now) is what the entry is
    about: it takes the place of "Data loaded from ARES" (one entry per event, so one per
    dissolution), whose changes it still lists."""
    dissolved = changes.get("dissolved_on") or {}
    if dissolved.get("before") is None and dissolved.get("after"):
        return f"Company dissolved on {dissolved['after']}"
    return "Data loaded from ARES"


def _client_changed(event, now, client_id, changes, source) -> TimelineEntry:
    return _system_entry(event, now, source=source, title="Client updated",
                         body=render_changes(changes), client_id=client_id,
                         data={"changes": changes,
                               "update_source": (event.get("data") or {}).get("source")})


def lookup_failed(event: dict, now: datetime) -> TimelineEntry | None:
    data = event.get("data") or {}
    client_id = data.get("client_id")
    if not client_id:
        return None  # a lookup nobody's timeline asked for
    ico = data.get("ico") or EMPTY
    reason = data.get("reason")
    detail = data.get("detail")
    stays = "The client stays as entered."
    if reason == "not_found":
        title = "IČO not found in ARES"
        body = f"ARES has no subject with IČO {ico}. {stays}"
    elif reason == "invalid":
        title = "ARES refused the IČO"
        body = f"ARES refused IČO {ico} as invalid" + (f" ({detail})" if detail else "") + \
            f". {stays}"
    elif reason == "unavailable":
        reason_text = f" ({detail})" if detail else ""
        if data.get("will_retry"):
            title = "ARES unavailable, will retry"
            when = data.get("next_attempt_at")
            body = f"ARES did not answer the lookup of IČO {ico}{reason_text}. " + \
                (f"Next attempt at {when}." if when else "It will be tried again.")
        else:
            title = "ARES unavailable, gave up"
            body = f"ARES did not answer the lookup of IČO {ico}{reason_text}; " \
                   f"no more automatic attempts. {stays}"
        if data.get("attempt"):
            body += f" (attempt {data['attempt']})"
    else:
        title = "ARES lookup failed"
        body = f"The lookup of IČO {ico} failed" + (f": {detail}" if detail else "") + \
            f". {stays}"
    keys = ("ico", "reason", "detail", "will_retry", "next_attempt_at", "attempt")
    return _system_entry(event, now, source="ares", title=title, body=body,
                         client_id=client_id, data={k: data.get(k) for k in keys})


def client_archived_or_restored(event: dict, now: datetime) -> TimelineEntry | None:
    data = event.get("data") or {}
    client_id = data.get("client_id") or event.get("subject")
    if not client_id:
        return None
    name = data.get("name") or EMPTY
    if event.get("type") == "client.archived":
        title, body = "Client archived", f"Client {name} was archived."
    else:
        title, body = "Client restored", f"Client {name} was restored from the archive."
    return _system_entry(event, now, source="clients", title=title, body=body,
                         client_id=client_id, data={"version": data.get("version")})


def contact_added(event: dict, now: datetime) -> TimelineEntry | None:
    data = event.get("data") or {}
    contact = data.get("contact") or {}
    client_id = data.get("client_id")
    if not client_id or not contact.get("id"):
        return None
    link = next((link for link in contact.get("clients") or []
                 if link.get("client_id") == client_id), {})
    name = contact.get("name") or EMPTY
    position = link.get("position") or contact.get("position")
    body = f"{name}" + (f", {position}" if position else "") + " became a contact person" + \
        (" (primary)." if link.get("primary") else ".")
    return _system_entry(event, now, source="clients", title="Contact person added",
                         body=body, client_id=client_id,
                         data={"contact": {"id": contact["id"], "name": contact.get("name")}})


def client_erased(event: dict, now: datetime) -> TimelineEntry | None:
    client_id = (event.get("data") or {}).get("client_id") or event.get("subject")
    if not client_id:
        return None
    return _system_entry(event, now, source="clients", title="Personal data erased",
                         body="The person's data was erased on request (GDPR).",
                         client_id=client_id, data={})


def client_merged(event: dict, now: datetime) -> TimelineEntry | None:
    data = event.get("data") or {}
    target_id, source_id = data.get("target_id"), data.get("source_id")
    if not target_id or not source_id:
        return None
    source = data.get("source") or {}
    name, ico = source.get("name") or EMPTY, source.get("ico")
    moved = [f"{len(data[key])} {what}" for key, what in (
        ("contact_ids", "contact person(s)"), ("subsidiary_ids", "subsidiary(ies)"))
        if data.get(key)]
    body = f"Client {name}" + (f" (IČO {ico})" if ico else "") + \
        " was merged into this client; its timeline is here now" + \
        (f", and so are its {' and '.join(moved)}." if moved else ".")
    return _system_entry(event, now, source="clients", title="Clients merged", body=body,
                         client_id=target_id,
                         data={"source": {"id": source_id, "name": source.get("name"),
                                          "ico": ico}})


def deal_changed(event: dict, now: datetime) -> TimelineEntry | None:
    """A deal created, moved, won or lost: on its client's timeline and its own."""
    data = event.get("data") or {}
    deal = data.get("deal") or {}
    if not deal.get("id") or not deal.get("client_id"):
        return None
    title = deal.get("title") or EMPTY
    amount = f" ({deal['value']} {deal.get('currency')})" if deal.get("value") else ""
    kind = event.get("type")
    if kind == "deal.created":
        heading, body = "Deal created", f"Deal {title}{amount} was created in stage " \
            f"{deal.get('stage_name') or EMPTY}."
    elif kind == "deal.stage_changed":
        before = (data.get("from_stage") or {}).get("name") or EMPTY
        after = (data.get("to_stage") or {}).get("name") or EMPTY
        heading, body = "Deal moved", f"Deal {title} moved from {before} to {after}."
    elif kind == "deal.won":
        heading, body = "Deal won", f"Deal {title}{amount} was won."
    else:
        reason = data.get("reason")
        heading, body = "Deal lost", f"Deal {title}{amount} was lost" + \
            (f": {reason}." if reason else ".") + \
            (f"\n{data['note']}" if data.get("note") else "")
    return _system_entry(event, now, source="deals", title=heading, body=body,
                         client_id=deal["client_id"], deal_id=deal["id"],
                         data={"deal": {"id": deal["id"], "title": deal.get("title")},
                               **({"from_stage": data.get("from_stage"),
                                   "to_stage": data.get("to_stage")}
                                  if kind == "deal.stage_changed" else {}),
                               **({"reason": data.get("reason")} if kind == "deal.lost"
                                  else {})})


ERASED_BODY = "Erased (GDPR)."


def redacted(entry: TimelineEntry) -> TimelineEntry:
    """The entry without anything a person wrote or a record said: typed entries keep
    their type's title, system ones their title (which names no one)."""
    if entry.source == USER_SOURCE:
        entry.title = TYPE_TITLES.get(entry.type, entry.title)
    entry.body, entry.data = ERASED_BODY, {"erased": True}
    entry.message_id = None  # an e-mail's Message-ID may name its sender's mailbox
    entry.search_text = fold(f"{entry.title} {entry.body}")
    return entry


def mentioned_records(entry: TimelineEntry) -> set[str]:
    """The client and contact persons an entry is about (for erasure)."""
    ids = {entry.client_id} if entry.client_id else set()
    for key in ("contact", "source"):  # a contact person; a client merged into this one
        record = (entry.data or {}).get(key) or {}
        if isinstance(record, dict) and record.get("id"):
            ids.add(record["id"])
    return ids


RULES = {
    "client.created": client_created,
    "client.updated": client_updated,
    "client.archived": client_archived_or_restored,
    "client.restored": client_archived_or_restored,
    "contact.created": contact_added,
    "client.erased": client_erased,
    "client.merged": client_merged,
    "deal.created": deal_changed,
    "deal.stage_changed": deal_changed,
    "deal.won": deal_changed,
    "deal.lost": deal_changed,
    "ares.lookup_failed": lookup_failed,
}


# -- typed entries ------------------------------------------------------------------


def new_note(*, body: str | None, client_id: str | None, now: datetime, type: str = "note",
             title: str | None = None, deal_id: str | None = None,
             author: str | None = None, occurred_at: datetime | None = None
             ) -> TimelineEntry:
    """A note typed by a user: a title, a body or both. Without a title it gets its
    type's ("Note", "Call"); without a body, its title is the body too (what was written
    is the note: every entry has a body, as `activity.created` v1 promises)."""
    if type not in USER_TYPES:
        raise ValueError(f"type must be one of {', '.join(USER_TYPES)}")
    title = (title or "").strip()
    if not (body or "").strip():
        if not title:
            raise ValueError("a note needs a title or a body")
        body = title
    return TimelineEntry(
        id=str(uuid.uuid4()), type=type, title=title or TYPE_TITLES[type],
        body=body, occurred_at=to_utc(occurred_at or now), source=USER_SOURCE,
        author=author, client_id=client_id, deal_id=deal_id, data={}, event_id=None,
        created_at=to_utc(now), search_text=fold(f"{title} {body}"))
