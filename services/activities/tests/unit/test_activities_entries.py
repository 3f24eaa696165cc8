"""Typed entries, tasks, the due scheduler and activity plans, on SQLite and PostgreSQL."""
import json
import threading
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from activities_service import entry_handlers as eh, handlers, plan_handlers
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.messaging import outbox

JANA, PETR = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
CLIENT, OTHER = "c-1", "c-2"
CONTACT = "33333333-3333-3333-3333-333333333333"


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def db(units):
    """`db(actor)`: a unit of work (SQLite, then PostgreSQL), Jana's by default."""
    return lambda actor=f"user:{JANA}": units(actor)


def create(db, actor=f"user:{JANA}", **payload):
    payload.setdefault("client_id", CLIENT)
    with db(actor) as uow:
        return eh.create(uow, payload)


def events(db, event_type=None):
    with db() as uow:
        rows = uow.session.execute(select(outbox).order_by(outbox.c.id)).all()
    found = [json.loads(row.payload) for row in rows]
    return [event for event in found if event_type in (None, event["type"])]


# -- each type ---------------------------------------------------------------------------


def test_a_note_needs_only_a_title(db):
    answer = create(db, type="note", title="Zavolat zpět")
    note = answer["activity"]
    assert answer["created"] and note["body"] == "Zavolat zpět" and note["version"] == 1
    assert note["author"] == f"user:{JANA}" and note["source"] == "user"
    [event] = events(db, "activity.created")
    assert event["data"]["activity"]["id"] == note["id"]


def test_a_meeting_keeps_its_times_place_attendees_and_minutes(db):
    meeting = create(db, type="meeting", title="Kick-off", body="Dohodli jsme pilot.",
                     starts_at="2026-03-02T10:00:00+01:00", ends_at="2026-03-02T11:30:00+01:00",
                     place="Praha, Karlín", outcome="Pilot", follow_up="Poslat nabídku",
                     attendees=[{"kind": "contact", "id": CONTACT, "name": "Jan Dvořák"},
                                {"kind": "user", "id": PETR}])["activity"]
    assert meeting["starts_at"] == "2026-03-02T09:00:00Z"
    assert meeting["occurred_at"] == meeting["starts_at"]  # on the timeline when it was
    assert meeting["ends_at"] == "2026-03-02T10:30:00Z" and meeting["place"] == "Praha, Karlín"
    assert [a["id"] for a in meeting["attendees"]] == [CONTACT, PETR]
    with db() as uow:  # on the attending contact person's timeline
        page = handlers.timeline(uow, contact_id=CONTACT)
    assert [item["id"] for item in page["items"]] == [meeting["id"]]
    with pytest.raises(ValidationFailed) as error:
        create(db, type="meeting", title="Backwards", starts_at="2026-03-02T10:00:00Z",
               ends_at="2026-03-02T09:00:00Z")
    assert "ends_at" in error.value.errors
    with pytest.raises(ValidationFailed) as error:
        create(db, type="meeting", title="When?")
    assert "starts_at" in error.value.errors


def test_a_call_is_summarised_when_nothing_was_written(db):
    call = create(db, type="call", direction="outbound", phone="603 111 222",
                  duration_seconds=185, outcome="connected")["activity"]
    assert call["phone"] == "+420603111222" and call["title"] == "Call +420603111222"
    assert call["body"] == "outbound, connected, 3 min 5 s"
    for wrong, field in (({"direction": "sideways"}, "direction"),
                         ({"direction": "inbound", "phone": "123"}, "phone"),
                         ({"direction": "inbound", "outcome": "great"}, "outcome"),
                         ({}, "direction"),
                         ({"direction": "inbound", "duration_seconds": -1}, "duration_seconds")):
        with pytest.raises(ValidationFailed) as error:
            create(db, type="call", **wrong)
        assert field in error.value.errors, wrong


def test_an_email_logged_twice_is_one_entry(db):
    email = {"type": "email", "subject": "Nabídka", "body": "Dobrý den, posíláme nabídku.",
             "from": "jana@firma.cz", "to": ["jan@zakaznik.cz"], "cc": ["petr@firma.cz"],
             "message_id": "<abc@mail.firma.cz>"}
    first = create(db, **email)
    again = create(db, **email)
    assert first["created"] and not again["created"]
    assert again["activity"]["id"] == first["activity"]["id"]
    assert first["activity"]["title"] == "Nabídka" and first["activity"]["to"] == [
        "jan@zakaznik.cz"]
    assert len(events(db, "activity.created")) == 1
    # another client's copy of the same e-mail is that client's entry
    theirs = create(db, **dict(email, client_id=OTHER))
    assert theirs["created"] and theirs["activity"]["id"] != first["activity"]["id"]
    # merged, the two copies live on one client
    with db(None) as uow:
        handlers.merge_clients(uow, [{"id": "m-1", "type": "client.merged",
                                      "data": {"source_id": OTHER, "target_id": CLIENT}}])
        uow.commit()
    with db() as uow:
        assert len(handlers.timeline(uow, client_id=CLIENT, types=["email"])["items"]) == 2
    with pytest.raises(ValidationFailed) as error:
        create(db, **dict(email, to=[], message_id=None))
    assert "to" in error.value.errors
    with pytest.raises(ValidationFailed) as error:  # a field another type has
        create(db, **dict(email, message_id="<x@y>", place="Brno"))
    assert "place" in error.value.errors


def test_a_task_is_the_authors_open_task_due_at_the_start_of_its_day_in_prague(db):
    task = create(db, type="task", title="Poslat smlouvu", due_date="2026-07-01")["activity"]
    assert task["status"] == "open" and task["priority"] == "normal"
    assert task["assignee_id"] == JANA
    assert task["due_date"] == "2026-07-01" and task["due_at"] == "2026-06-30T22:00:00Z"
    winter = create(db, type="task", title="Zimní", due_date="2026-01-15")["activity"]
    assert winter["due_at"] == "2026-01-14T23:00:00Z"
    with pytest.raises(ValidationFailed):
        create(db, type="task", title="Both", due_date="2026-07-01",
               due_at="2026-07-01T10:00:00Z")
    with pytest.raises(ValidationFailed):
        create(db, type="task", body="no title")


# -- editing, deleting, the audit trail ---------------------------------------------------


def test_edits_need_the_current_version_and_leave_a_trail(db):
    note = create(db, type="note", title="Schůzka", body="Původní text")["activity"]
    with db(f"user:{PETR}") as uow:
        changed = eh.update(uow, note["id"], {"body": "Opravený text"}, if_match=1)
    assert changed["version"] == 2 and changed["updated_by"] == f"user:{PETR}"
    with db() as uow, pytest.raises(PreconditionFailed):
        eh.update(uow, note["id"], {"body": "Stale"}, if_match=1)
    with db() as uow, pytest.raises(ValidationFailed):
        eh.update(uow, note["id"], {"direction": "inbound"})  # not a note's
    with db() as uow:
        trail = eh.history(uow, note["id"])["items"]
    assert [row["action"] for row in trail] == ["created", "updated"]
    assert trail[1]["changes"] == {"body": {"before": "Původní text",
                                            "after": "Opravený text"}}
    [event] = events(db, "activity.updated")
    assert event["data"]["changes"]["body"]["after"] == "Opravený text"


def test_deleted_entries_leave_every_timeline_but_not_the_trail(db):
    email = create(db, type="email", title="Re: cena", body="Text", to=["a@b.cz"],
                   message_id="<m1@x>")["activity"]
    with db() as uow:
        eh.delete(uow, email["id"], if_match=1)
    with db() as uow:
        assert handlers.timeline(uow, client_id=CLIENT)["items"] == []
        with pytest.raises(NotFound):
            eh.get(uow, email["id"])
    again = create(db, type="email", title="Re: cena", body="Text", to=["a@b.cz"],
                   message_id="<m1@x>")
    assert again["created"]  # the message may be logged again
    [deleted] = events(db, "activity.deleted")
    assert deleted["data"]["activity"]["id"] == email["id"]
    with db() as uow:  # the trail keeps what it said
        trail = eh.history(uow, email["id"])["items"]
    assert [row["action"] for row in trail] == ["created", "deleted"]
    assert trail[1]["changes"]["title"] == "Re: cena"


def test_system_entries_are_immutable(db, make_event):
    event = make_event("client.created", {"client": {"id": CLIENT, "name": "ACME"}})
    with db() as uow:
        handlers.record_events(uow, [event])
        uow.commit()
    with db() as uow:
        [entry] = handlers.timeline(uow, client_id=CLIENT)["items"]
    with db() as uow, pytest.raises(Conflict):
        eh.update(uow, entry["id"], {"title": "Changed"})
    with db() as uow, pytest.raises(Conflict):
        eh.delete(uow, entry["id"])


def test_timeline_filters(db):
    create(db, type="note", title="Žluťoučký kůň", body="Cena dohodnuta",
           occurred_at="2026-02-01T10:00:00Z")
    create(db, f"user:{PETR}", type="call", direction="inbound",
           occurred_at="2026-03-01T10:00:00Z", contact_ids=[CONTACT])
    create(db, type="note", title="Jiný klient", client_id=OTHER)
    with db() as uow:
        def titles(**filters):
            return [e["title"] for e in handlers.timeline(uow, **filters)["items"]]
        assert titles(client_id=CLIENT, q="zlutoucky KUN") == ["Žluťoučký kůň"]
        assert titles(client_id=CLIENT, q="dohod") == ["Žluťoučký kůň"]
        assert titles(client_id=CLIENT, q="kun 100%") == []
        assert titles(client_id=CLIENT, author=f"user:{PETR}") == ["Incoming call"]
        assert titles(client_id=CLIENT, types=["call"]) == ["Incoming call"]
        assert titles(client_id=CLIENT, since=utc(2026, 2, 15)) == ["Incoming call"]
        assert titles(client_id=CLIENT, until=utc(2026, 2, 15)) == ["Žluťoučký kůň"]
        assert titles(contact_id=CONTACT) == ["Incoming call"]
        assert titles(contact_id=CONTACT, client_ids=[OTHER]) == []  # a restricted caller
        with pytest.raises(ValidationFailed):
            handlers.timeline(uow)


# -- tasks -------------------------------------------------------------------------------


def test_today_and_overdue_follow_the_prague_calendar_day(db):
    create(db, type="task", title="Dnes", due_date="2026-03-28")
    create(db, type="task", title="Včera", due_date="2026-03-27")
    create(db, type="task", title="Ve 23:30 Prahy", due_at="2026-03-28T22:30:00Z")
    create(db, type="task", title="Po půlnoci", due_at="2026-03-28T23:30:00Z")
    create(db, type="task", title="Bez termínu")

    def titles(now, **query):
        with db() as uow:
            return [t["title"] for t in eh.tasks(uow, query, now=now)["items"]]
    # 23:10 in Prague on Saturday 28 March (UTC+1)
    late = utc(2026, 3, 28, 22, 10)
    assert titles(late, due="today") == ["Dnes", "Ve 23:30 Prahy"]
    assert titles(late, due="overdue") == ["Včera"]
    # 00:10 in Prague on Sunday 29 March, the night the clocks go forward
    after = utc(2026, 3, 28, 23, 10)
    assert titles(after, due="overdue") == ["Včera", "Dnes", "Ve 23:30 Prahy"]
    assert titles(after, due="today") == ["Po půlnoci"]
    # Monday 30 March, 00:30 summer time (22:30 UTC the day before): a new week
    assert titles(utc(2026, 3, 29, 22, 30), due="week") == []
    assert titles(late, due="week") == ["Včera", "Dnes", "Ve 23:30 Prahy", "Po půlnoci"]
    # in New York it is still 28 March at 00:10 Prague time
    assert titles(after, due="today", time_zone="America/New_York") == [
        "Dnes", "Ve 23:30 Prahy", "Po půlnoci"]
    # sorted by due moment, tasks without one last
    assert titles(late)[-1] == "Bez termínu"


def test_task_lists_filter_by_assignee_status_and_record(db):
    mine = create(db, type="task", title="Moje")["activity"]
    create(db, type="task", title="Petrova", assignee_id=PETR, client_id=OTHER)
    create(db, f"user:{PETR}", type="task", title="Petr sobě", deal_id="d-1")
    with db() as uow:
        eh.complete_task(uow, mine["id"])

    def titles(**query):
        with db() as uow:
            return sorted(t["title"] for t in eh.tasks(uow, query)["items"])
    assert titles(assignee_ids=[PETR]) == ["Petr sobě", "Petrova"]
    assert titles(status="done") == ["Moje"]
    assert titles(client_id=OTHER) == ["Petrova"]
    assert titles(deal_id="d-1") == ["Petr sobě"]
    assert titles(visible_to=JANA) == ["Moje", "Petrova"]  # assigned to or written by her
    with db() as uow, pytest.raises(ValidationFailed):
        eh.tasks(uow, {"due": "someday"})
    with db() as uow, pytest.raises(ValidationFailed):
        eh.tasks(uow, {"time_zone": "Mars/Olympus"})


def test_completing_says_so_once_and_reopening_undoes_it(db):
    task = create(db, type="task", title="Zavolat", due_at="2030-01-01T09:00:00Z")["activity"]
    with db(f"user:{PETR}") as uow:
        done = eh.complete_task(uow, task["id"], if_match=1)
    assert done["status"] == "done" and done["completed_by"] == f"user:{PETR}"
    with db() as uow:
        assert eh.complete_task(uow, task["id"])["version"] == done["version"]  # no change
    assert len(events(db, "task.completed")) == 1
    with db() as uow:
        reopened = eh.reopen_task(uow, task["id"])
    assert reopened["status"] == "open" and reopened["completed_at"] is None
    note = create(db, type="note", title="Not a task")["activity"]
    with db() as uow, pytest.raises(NotFound):
        eh.complete_task(uow, note["id"])


def test_task_due_is_sent_once_even_with_concurrent_schedulers_and_a_restart(db):
    due = [create(db, type="task", title=f"Úkol {n}", due_at="2026-05-01T08:00:00Z")
           ["activity"]["id"] for n in range(20)]
    create(db, type="task", title="Later", due_at="2026-05-02T08:00:00Z")
    done = create(db, type="task", title="Done", due_at="2026-05-01T07:00:00Z")["activity"]
    with db() as uow:
        eh.complete_task(uow, done["id"])
    now, counts, errors = utc(2026, 5, 1, 9), [], []

    def scheduler():
        try:
            with db(None) as uow:
                counts.append(eh.announce_due(uow, now, limit=7))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    for _ in range(3):  # three rounds of two replicas at once
        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    with db(None) as uow:  # "after a restart": the table remembers
        eh.announce_due(uow, now)
    with db(None) as uow:
        assert eh.announce_due(uow, now) == 0
    sent = [event["subject"] for event in events(db, "task.due")]
    assert sorted(sent) == sorted(due)


# -- plans -------------------------------------------------------------------------------


def test_a_plan_applied_makes_its_tasks_with_due_dates_and_assignees(db):
    with db() as uow:
        plan = plan_handlers.create_plan(uow, {"name": "Nový zákazník", "steps": [
            {"title": "Úvodní hovor", "due_in_days": 0},
            {"title": "Poslat nabídku", "due_in_days": 2, "assignee": "author"},
            {"title": "Kontrola", "due_in_days": 7, "assignee": PETR, "priority": "high"}]})
    # 21:30 UTC is 23:30 on 31 May in Prague: the plan's "today" is the 31st
    with db() as uow:
        run = plan_handlers.apply_plan(uow, plan["id"], CLIENT, "d-1", owner_id="owner-9",
                                       now=utc(2026, 5, 31, 21, 30))
    assert [(t["title"], t["due_date"], t["assignee_id"]) for t in run["tasks"]] == [
        ("Úvodní hovor", "2026-05-31", "owner-9"), ("Poslat nabídku", "2026-06-02", JANA),
        ("Kontrola", "2026-06-07", PETR)]
    assert run["progress"] == {"done": 0, "total": 3}
    with db() as uow:
        eh.complete_task(uow, run["tasks"][0]["id"])
    with db() as uow:
        [found] = plan_handlers.runs(uow, deal_id="d-1")["items"]
        assert found["progress"] == {"done": 1, "total": 3}
        assert plan_handlers.runs(uow, client_id=OTHER)["items"] == []
    with db() as uow:
        plan_handlers.update_plan(uow, plan["id"], {"active": False}, if_match=1)
    with db() as uow, pytest.raises(ValidationFailed):
        plan_handlers.apply_plan(uow, plan["id"], CLIENT)
    with db() as uow:
        assert plan_handlers.list_plans(uow)["items"] == []
        assert len(plan_handlers.list_plans(uow, include_inactive=True)["items"]) == 1
    with db() as uow, pytest.raises(ValidationFailed):
        plan_handlers.create_plan(uow, {"name": "Empty", "steps": []})
    assert len(events(db, "activity_plan.applied")) == 1


def test_erasing_a_contact_redacts_their_entries_and_trail(db, make_event):
    call = create(db, type="call", direction="inbound", body="Jan Dvořák chce slevu",
                  contact_ids=[CONTACT])["activity"]
    email = create(db, type="email", title="Sleva", to=["jan.dvorak@kun.cz"],
                   message_id="<jan.dvorak-1@kun.cz>", contact_ids=[CONTACT])["activity"]
    create(db, type="note", title="Nesouvisí")
    with db(None) as uow:
        handlers.erase_records(uow, [make_event("contact.erased", {"contact_id": CONTACT})])
        uow.commit()
    with db() as uow:
        entry = eh.get(uow, call["id"])
        trail = eh.history(uow, call["id"])["items"]
    assert "Dvořák" not in json.dumps(entry) and entry["body"] == "Erased (GDPR)."
    with db() as uow:
        assert "dvorak" not in json.dumps(eh.get(uow, email["id"]))
    assert trail[0]["changes"] == {"erased": True}
    with db() as uow:
        assert handlers.timeline(uow, client_id=CLIENT, q="dvorak")["items"] == []


def test_due_window_week_is_monday_to_sunday():
    from activities_service.entries import due_window
    from zoneinfo import ZoneInfo
    assert due_window("week", utc(2026, 3, 28, 12), ZoneInfo("Europe/Prague")) == (
        date(2026, 3, 23), date(2026, 3, 29))


def test_a_plans_new_steps_get_their_defaults(db):
    with db() as uow:
        plan = plan_handlers.create_plan(uow, {"name": "P", "steps": [
            {"title": "A", "due_in_days": 1}]})
    with db() as uow:
        changed = plan_handlers.update_plan(uow, plan["id"], {"steps": [
            {"title": "B", "due_in_days": 2}]})
    assert changed["steps"] == [{"title": "B", "due_in_days": 2, "assignee": "owner",
                                 "priority": "normal"}]
    with db() as uow:
        run = plan_handlers.apply_plan(uow, plan["id"], CLIENT, owner_id=PETR)
    assert run["tasks"][0]["assignee_id"] == PETR
