"""Use cases of the timeline. Each runs in one unit of work and stages its events."""

from sqlalchemy import Text, cast, or_, select, update

from crm_common.db import take_turns
from crm_common.errors import ValidationFailed
from crm_common.events import utcnow
from crm_common.fields import load
from crm_common.pagination import newest_first
from crm_common.uow import insert_ignoring_duplicates

from . import attachments
from .domain import (TimelineEntry, entries_from_events, mentioned_records, new_note,
                     redacted)
from .entries import linked_contacts, snapshot
from .entry_handlers import event_activity, resource
from .orm import client_merges, entry_links, entry_row, erasures, timeline_entries
from .repository import Entries
from .schemas import NoteCreateSchema, TimelineQuerySchema

ADD_NOTE = "activities.add_note"  # the scope of its Idempotency-Keys
_note_schema = NoteCreateSchema()
_query_schema = TimelineQuerySchema()


def to_resource(entry: TimelineEntry) -> dict:
    return resource(entry)


def add_note(uow, payload: dict, idempotency_key: str | None = None) -> dict:
    """A note, meeting, call or e-mail typed by a user; emits `activity.created`."""
    replayed = uow.replay(ADD_NOTE, idempotency_key, payload)
    if replayed is not None:
        return replayed
    data = load(_note_schema, payload)
    client_id = _merge_targets(uow, {data["client_id"]}).get(data["client_id"],
                                                            data["client_id"])
    entry = new_note(body=data.get("body"), client_id=client_id, now=utcnow(),
                     type=data["type"], title=data.get("title"), deal_id=data.get("deal_id"),
                     author=data.get("author") or uow.context.actor,
                     occurred_at=data.get("occurred_at"))
    repo = Entries(uow.session)
    repo.add(entry)
    repo.audit(entry, "created", entry.author, entry.created_at, snapshot(entry))
    uow.emit("activity.created", entry.id, {"activity": event_activity(entry)})
    return uow.commit_once(ADD_NOTE, idempotency_key, payload, resource(entry))


def record_event(uow, event: dict) -> None:
    """On another service's event: write the timeline entry it stands for, once.

    The inbox (see `handle_event`) skips redeliveries; the unique event_id is the second
    line, so the same event never makes two entries even without it.
    """
    record_events(uow, [event])


def record_events(uow, events: list[dict]) -> None:
    """`record_event` for a batch (see `handle_events`): one bulk insert, in which an
    event that already has an entry (its unique event_id) is skipped."""
    entries = entries_from_events(events, utcnow())
    targets = _merge_targets(uow, {entry.client_id for entry in entries if entry.client_id})
    for entry in entries:  # about a client merged into another one: that one's
        entry.client_id = targets.get(entry.client_id, entry.client_id)
    _erasure_lock(uow, shared=True)
    mentions = [mentioned_records(entry) for entry in entries]
    erased = _erased(uow, set().union(*mentions))
    entries = [redacted(entry) if about & erased else entry
               for entry, about in zip(entries, mentions)]
    if entries:
        # RETURNING makes SQLAlchemy send multi-row VALUES; without it an ON CONFLICT
        # insert goes row by row on psycopg2
        statement = insert_ignoring_duplicates(uow.session, timeline_entries) \
            .returning(timeline_entries.c.id)
        written = set(uow.session.scalars(statement,
                                          [entry_row(entry) for entry in entries]).all())
        links = [{"entry_id": entry.id, "kind": "contact", "ref_id": contact_id}
                 for entry in entries if entry.id in written
                 for contact_id in sorted(linked_contacts(entry))]
        if links:  # a contact person's system entries are on their timeline too
            uow.session.execute(insert_ignoring_duplicates(uow.session, entry_links), links)


def merge_clients(uow, events: list[dict]) -> None:
    """On `client.merged`: the source's entries move to the target, entries about the
    source that arrive later go there too (see `record_events`), and the target's timeline
    says so. Merges arriving in any order end on the last client of a chain."""
    now, merges = utcnow(), []
    for event in events:
        data = event.get("data") or {}
        if data.get("source_id") and data.get("target_id") and \
                data["source_id"] != data["target_id"]:
            merges.append({"source_id": data["source_id"], "target_id": data["target_id"],
                           "merged_at": now})
    if merges:
        uow.session.execute(insert_ignoring_duplicates(uow.session, client_merges), merges)
        sources = {merge["source_id"] for merge in merges}
        moved = set(sources)  # and whatever was merged into them before
        moved |= set(uow.session.scalars(select(client_merges.c.source_id).where(
            client_merges.c.target_id.in_(sources))))
        targets = _merge_targets(uow, moved)
        columns = timeline_entries.c
        for source_id, target_id in targets.items():
            # an e-mail both had logged: the moved copy is no longer "the" entry of it
            on_target = select(columns.message_id).where(
                columns.client_id == target_id, columns.message_id.is_not(None)) \
                .scalar_subquery()
            uow.session.execute(update(timeline_entries).where(
                columns.client_id == source_id, columns.message_id.in_(on_target))
                .values(message_id=None))
            uow.session.execute(update(timeline_entries).where(
                columns.client_id == source_id).values(client_id=target_id))
        attachments.follow_merges(uow, targets)
    record_events(uow, events)


MAX_MERGE_CHAIN = 20  # A into B, B into C, ...: far more than people do


def _merge_targets(uow, client_ids: set[str]) -> dict[str, str]:
    """{merged client: the client it lives on in}, following chains of merges."""
    merged_into: dict[str, str] = {}
    asked = {client_id for client_id in client_ids if client_id}
    for _ in range(MAX_MERGE_CHAIN):
        if not asked:
            break
        found = dict(uow.session.execute(select(
            client_merges.c.source_id, client_merges.c.target_id).where(
            client_merges.c.source_id.in_(asked))).all())
        merged_into.update(found)
        asked = set(found.values()) - set(merged_into)

    def last(client_id):
        seen = set()
        while client_id in merged_into and client_id not in seen:
            seen.add(client_id)
            client_id = merged_into[client_id]
        return client_id
    return {client_id: last(client_id) for client_id in client_ids
            if client_id in merged_into}


def erase_records(uow, events: list[dict]) -> None:
    """On `client.erased` / `contact.erased`: redact every entry about the person, remember
    the erasure (later events about them are written redacted), forget them in the
    messaging tables; an erased client's timeline then says the erasure happened."""
    now = utcnow()
    erased = []
    for event in events:
        data = event.get("data") or {}
        kind = "client" if event.get("type") == "client.erased" else "contact"
        record_id = data.get(f"{kind}_id") or event.get("subject")
        if record_id:
            erased.append({"record_id": record_id, "kind": kind, "erased_at": now})
    if not erased:
        return
    _erasure_lock(uow, shared=False)
    uow.session.execute(insert_ignoring_duplicates(uow.session, erasures), erased)
    columns, redacted_ids = timeline_entries.c, []
    for record in erased:
        mentioning = cast(columns.data, Text).like(f"%{record['record_id']}%")
        # a client's entries, and those naming it elsewhere (moved by a merge)
        where = or_(columns.client_id == record["record_id"], mentioning) \
            if record["kind"] == "client" else mentioning
        found = uow.session.scalars(select(TimelineEntry).where(where)).all()
        for entry in found:
            redacted(entry)
        redacted_ids += [entry.id for entry in found]
    Entries(uow.session).forget_trail(redacted_ids)
    uow.session.flush()
    attachments.erase_for(uow, erased, redacted_ids)
    uow.forget([record["record_id"] for record in erased])
    record_events(uow, events)


def _erasure_lock(uow, shared: bool) -> None:
    """Batches of new entries (shared) and erasures (exclusive) take turns: an entry
    committed while an erasure redacts would escape it, and an entry checked against the
    erasures just before one commits would too."""
    take_turns(uow.session, "activities:erasures", shared=shared)


def _erased(uow, record_ids: set[str]) -> set[str]:
    if not record_ids:
        return set()
    return set(uow.session.scalars(select(erasures.c.record_id).where(
        erasures.c.record_id.in_(record_ids))))


def timeline(uow, client_id: str | None = None, deal_id: str | None = None,
             limit: int = 50, cursor: str | None = None, types=None, **filters) -> dict:
    """Newest first by occurred_at (never by arrival), keyset-paginated.

    client_id, deal_id and contact_id filter together (a deal's entries of one client when
    both given); `filters`: contact_id, client_ids (those a restricted caller sees), author,
    since, until (occurred_at), q (every word, diacritics and case aside).
    """
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    args = load(_query_schema, {"client_id": client_id, "deal_id": deal_id, "limit": limit,
                                "cursor": cursor, "types": types, **filters})
    if not (args.get("client_id") or args.get("deal_id") or args.get("contact_id")):
        raise ValidationFailed({"client_id": ["Give client_id, deal_id or contact_id."]})
    columns = timeline_entries.c
    query = Entries(uow.session).timeline_query(
        client_id=args.get("client_id"), deal_id=args.get("deal_id"),
        contact_id=args.get("contact_id"), client_ids=args.get("client_ids"),
        types=args.get("types"), author=args.get("author"), since=args.get("since"),
        until=args.get("until"), q=args.get("q"))
    return newest_first(uow.session, query, columns.occurred_at, columns.id,
                        args.get("limit"), args.get("cursor"), resource,
                        key=lambda entry: (entry.occurred_at, entry.id))
