import json

import pytest
from sqlalchemy import func, select

from activities_service import handlers
from activities_service.orm import timeline_entries
from crm_common.errors import ValidationFailed
from crm_common.messaging import inbox, outbox
from crm_common.nameko_glue import handle_event

CLIENT = {"id": "c-1", "name": "Superfaktura", "ico": "01569651"}
CONSUMER = "activities.timeline"


def _count(uow_factory, table, *where):
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(table).where(*where))


def test_same_event_twice_gives_one_entry(uow_factory, make_event):
    event = make_event("client.created", {"client": CLIENT})
    handle_event(handlers.record_event, uow_factory, CONSUMER, event)
    handle_event(handlers.record_event, uow_factory, CONSUMER, event)
    assert _count(uow_factory, timeline_entries) == 1
    assert _count(uow_factory, inbox) == 1


def test_same_event_twice_without_the_inbox_gives_one_entry(uow_factory, make_event):
    event = make_event("client.created", {"client": CLIENT})
    for _ in range(2):
        with uow_factory() as uow:
            handlers.record_event(uow, event)
            uow.commit()
    assert _count(uow_factory, timeline_entries) == 1


def test_out_of_order_delivery_orders_by_occurred_at(uow_factory, make_event):
    created = make_event("client.created", {"client": CLIENT}, time="2026-01-10T10:00:00Z")
    updated = make_event("client.updated", {
        "client": CLIENT, "source": "ares",
        "changes": {"name": {"before": "IČO 01569651", "after": "Superfaktura s.r.o."},
                    "registry": {"before": None, "after": {
                        "source": "ares", "status": "ok",
                        "fetched_at": "2026-01-10T10:00:01Z"}}}},
        time="2026-01-10T10:00:02Z")
    handle_event(handlers.record_event, uow_factory, CONSUMER, updated)
    handle_event(handlers.record_event, uow_factory, CONSUMER, created)
    with uow_factory() as uow:
        page = handlers.timeline(uow, client_id="c-1")
    assert [item["title"] for item in page["items"]] == ["Data loaded from ARES",
                                                         "Client created"]
    assert page["items"][1]["occurred_at"] == "2026-01-10T10:00:00Z"
    assert page["next_cursor"] is None


def test_skipped_event_is_still_marked_seen(uow_factory, make_event):
    event = make_event("client.updated", {"client": CLIENT, "source": "ares", "changes": {
        "registry": {"before": None, "after": {"source": "ares", "status": "not_found",
                                               "fetched_at": None}}}})
    handle_event(handlers.record_event, uow_factory, CONSUMER, event)
    assert _count(uow_factory, timeline_entries) == 0
    assert _count(uow_factory, inbox) == 1


DETAILS_OF_MEETING = ("starts_at", "ends_at", "place", "attendees", "outcome", "follow_up")


def test_add_note_stores_and_emits_one_event(uow_factory):
    with uow_factory(actor="jana") as uow:
        resource = handlers.add_note(uow, {
            "client_id": "c-1", "deal_id": "d-1", "type": "meeting", "title": "Kick-off",
            "body": "Agreed on a pilot.", "occurred_at": "2026-01-09T15:30:00+01:00"})
    assert set(resource) == {"id", "type", "title", "body", "occurred_at", "author",
                             "source", "client_id", "deal_id", "contact_ids", "data",
                             "version", "created_at", "updated_at", "updated_by",
                             # a meeting's own fields (none given through the notes call)
                             "starts_at", "ends_at", "place", "attendees", "outcome",
                             "follow_up"}
    assert resource["type"] == "meeting" and resource["source"] == "user"
    assert resource["author"] == "jana"  # the caller, when no author is given
    assert resource["occurred_at"] == "2026-01-09T14:30:00Z"
    with uow_factory() as uow:
        rows = uow.session.execute(select(outbox)).all()
        assert uow.session.scalar(select(func.count()).select_from(timeline_entries)) == 1
    assert len(rows) == 1 and rows[0].event_type == "activity.created"
    event = json.loads(rows[0].payload)
    assert event["subject"] == resource["id"]
    # the event's own contract: the common fields, the type's own under `details`
    common = {k: v for k, v in resource.items() if k not in DETAILS_OF_MEETING
              and k not in ("updated_at", "updated_by")}
    assert event["data"] == {"activity": dict(common, details={
        name: resource[name] for name in DETAILS_OF_MEETING})}
    with uow_factory() as uow:
        page = handlers.timeline(uow, deal_id="d-1")
    assert page["items"] == [resource]


def test_add_note_defaults(uow_factory):
    with uow_factory() as uow:
        resource = handlers.add_note(uow, {"client_id": "c-1", "body": "Hi"})
    assert resource["type"] == "note" and resource["title"] == "Note"
    assert resource["deal_id"] is None and resource["author"] is None


def test_a_title_alone_is_a_note(uow_factory):
    # the API documents a note as a title, a body or both; a title alone was refused
    with uow_factory() as uow:
        resource = handlers.add_note(uow, {"client_id": "c-1", "title": "Zavolat zpět",
                                           "type": "call", "body": None})
    assert resource["title"] == "Zavolat zpět" and resource["type"] == "call"
    assert resource["body"] == "Zavolat zpět"  # every entry has a body (activity.created)
    with uow_factory() as uow:
        [row] = uow.session.execute(select(outbox)).all()
    assert json.loads(row.payload)["data"]["activity"]["body"] == "Zavolat zpět"


@pytest.mark.parametrize("payload, field", [
    ({"client_id": "c-1"}, "body"),
    ({"client_id": "c-1", "body": "   "}, "body"),
    ({"client_id": "c-1", "title": "  ", "body": None}, "body"),
    ({"client_id": "c-1", "title": "x" * 256}, "title"),
    ({"client_id": "c-1", "body": "x" * 20001}, "body"),
    ({"client_id": "c-1", "body": "x", "colour": "red"}, "colour"),
    ({"client_id": "c-1", "body": "x", "type": "system"}, "type"),
    ({"client_id": "c-1", "body": "x", "type": "fax"}, "type"),
    ({"client_id": "c-1", "body": "x", "occurred_at": "yesterday"}, "occurred_at"),
    ({"body": "x"}, "client_id"),
])
def test_add_note_validation(uow_factory, payload, field):
    with uow_factory() as uow, pytest.raises(ValidationFailed) as failed:
        handlers.add_note(uow, payload)
    assert field in failed.value.errors
    assert _count(uow_factory, timeline_entries) == 0
    assert _count(uow_factory, outbox) == 0


def test_cursor_walks_every_entry_once(uow_factory, make_event):
    # 23 entries, several sharing one occurred_at: the id breaks ties
    for i in range(23):
        event = make_event("client.updated", {
            "client": CLIENT, "source": "user",
            "changes": {"phone": {"before": str(i), "after": str(i + 1)}}},
            time=f"2026-01-{10 + i // 3:02d}T10:00:00Z")
        handle_event(handlers.record_event, uow_factory, CONSUMER, event)
    seen, cursor = [], None
    while True:
        with uow_factory() as uow:
            page = handlers.timeline(uow, client_id="c-1", limit=5, cursor=cursor)
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 23 and len({item["id"] for item in seen}) == 23
    keys = [(item["occurred_at"], item["id"]) for item in seen]
    assert keys == sorted(keys, reverse=True)


def test_timeline_filters_by_type(uow_factory, make_event):
    handle_event(handlers.record_event, uow_factory, CONSUMER,
                 make_event("client.created", {"client": CLIENT}))
    with uow_factory() as uow:
        handlers.add_note(uow, {"client_id": "c-1", "body": "x", "type": "call"})
    with uow_factory() as uow:
        assert [i["type"] for i in handlers.timeline(uow, "c-1", types=["call"])["items"]] \
            == ["call"]
        assert len(handlers.timeline(uow, "c-1", types="call,system")["items"]) == 2


@pytest.mark.parametrize("kwargs, field", [
    ({}, "client_id"),
    ({"client_id": "c-1", "cursor": "not-a-cursor"}, "cursor"),
    ({"client_id": "c-1", "types": ["fax"]}, "types"),
    ({"client_id": "c-1", "limit": "many"}, "limit"),
])
def test_timeline_validation(uow_factory, kwargs, field):
    with uow_factory() as uow, pytest.raises(ValidationFailed) as failed:
        handlers.timeline(uow, **kwargs)
    assert field in failed.value.errors
