"""The calendar feed, parsed back with icalendar: whose meetings and tasks are in it, and
their times in UTC on both sides of a daylight-saving change, on SQLite and PostgreSQL."""
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from activities_service.calendar import WINDOW, calendar_feed
from activities_service.orm import entry_links, timeline_entries
from crm_common.errors import ValidationFailed

PRAGUE = ZoneInfo("Europe/Prague")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
ME, COLLEAGUE = str(uuid.uuid4()), str(uuid.uuid4())
CLIENT = str(uuid.uuid4())


@pytest.fixture
def uow(units):
    return units


def _insert(uow, links=(), **values) -> str:
    """A row as the other use cases write it (entries come from their code, not this one's)."""
    entry_id = str(uuid.uuid4())
    row = {"id": entry_id, "type": "note", "title": "", "body": "", "occurred_at": NOW,
           "author": f"user:{ME}", "source": "user", "client_id": CLIENT, "deal_id": None,
           "data": {}, "created_at": NOW - timedelta(days=200), "version": 1}
    row.update(values)
    # stored in UTC, as every writer stores them (SQLite would keep a Prague clock reading)
    row = {name: value.astimezone(timezone.utc) if isinstance(value, datetime) else value
           for name, value in row.items()}
    with uow() as unit:
        unit.session.execute(timeline_entries.insert().values(row))
        for user_id in links:
            unit.session.execute(entry_links.insert().values(
                entry_id=entry_id, kind="user", ref_id=user_id))
        unit.commit()
    return entry_id


def _meeting(uow, starts_at: datetime, hours: float = 1, links=(), **values) -> str:
    return _insert(uow, links, type="meeting", title=values.pop("title", "Schůzka"),
                   starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours),
                   occurred_at=starts_at, **values)


def _task(uow, **values) -> str:
    return _insert(uow, **{"type": "task", "title": "Zavolat", "status": "open",
                           "priority": "normal", **values})


def _feed(uow, user_id=ME, tasks="events") -> Calendar:
    with uow() as unit:
        text = calendar_feed(unit, user_id, NOW, tasks)
    assert isinstance(text, str)
    return Calendar.from_ical(text)


def _by_uid(feed: Calendar, kind: str = "VEVENT") -> dict:
    return {str(c["UID"]).removesuffix("@crm"): c for c in feed.walk(kind)}


def _prague(year, month, day, hour) -> datetime:
    return datetime(year, month, day, hour, tzinfo=PRAGUE)


def test_my_meetings_are_in_mine_only(uow):
    mine = _meeting(uow, _prague(2026, 3, 10, 10))
    attended = _meeting(uow, _prague(2026, 3, 11, 9), author=f"user:{COLLEAGUE}",
                        links=[ME, COLLEAGUE])
    theirs = _meeting(uow, _prague(2026, 3, 12, 9), author=f"user:{COLLEAGUE}",
                      links=[COLLEAGUE])
    deleted = _meeting(uow, _prague(2026, 3, 13, 9), deleted_at=NOW)
    long_ago = _meeting(uow, NOW - WINDOW - timedelta(hours=1))
    just_in = _meeting(uow, NOW - WINDOW + timedelta(hours=1))
    _insert(uow, type="note", title="Poznámka")  # not a meeting, not a task
    assert set(_by_uid(_feed(uow))) == {mine, attended, just_in}
    assert set(_by_uid(_feed(uow, COLLEAGUE))) == {attended, theirs}
    assert deleted not in _by_uid(_feed(uow, COLLEAGUE)) and long_ago


def test_times_are_utc_on_both_sides_of_a_daylight_saving_change(uow):
    winter = _meeting(uow, _prague(2026, 1, 15, 10), hours=1.5)
    summer = _meeting(uow, _prague(2026, 7, 15, 10), hours=1.5)
    feed = _feed(uow)
    events = _by_uid(feed)
    for entry_id, utc_hour in ((winter, 9), (summer, 8)):
        start, end = events[entry_id].decoded("DTSTART"), events[entry_id].decoded("DTEND")
        assert start.utcoffset() == timedelta(0) and start.hour == utc_hour
        assert start.astimezone(PRAGUE).hour == 10  # what the calendar app shows
        assert end - start == timedelta(minutes=90)
    text = feed.to_ical().decode()
    assert "DTSTART:20260115T090000Z" in text and "DTSTART:20260715T080000Z" in text
    zones = feed.walk("VTIMEZONE")
    assert [str(zone["TZID"]) for zone in zones] == ["Europe/Prague"]
    assert {c.name for c in zones[0].subcomponents} == {"STANDARD", "DAYLIGHT"}
    assert str(feed["X-WR-TIMEZONE"]) == "Europe/Prague"


def test_a_meeting_carries_its_minutes_place_attendees_and_version(uow):
    contact = str(uuid.uuid4())
    entry_id = _meeting(
        uow, _prague(2026, 3, 20, 14), title="Schůzka s panem Dvořákem",
        body="Probrali jsme ceník; příliš žluťoučký kůň úpěl ďábelské ódy.",
        data={"place": "Brno, Údolní 5", "outcome": "Pošleme nabídku", "follow_up": None,
              "attendees": [{"kind": "contact", "id": contact, "name": "Jiří Dvořák"},
                            {"kind": "user", "id": COLLEAGUE}]},
        links=[COLLEAGUE], version=4, updated_at=NOW - timedelta(days=1))
    feed = _feed(uow)
    assert str(feed["PRODID"]) and str(feed["VERSION"]) == "2.0"
    assert str(feed["X-WR-CALNAME"]) == "CRM"
    event = _by_uid(feed)[entry_id]
    assert str(event["UID"]) == f"{entry_id}@crm"
    assert str(event["SUMMARY"]) == "Schůzka s panem Dvořákem"
    assert str(event["LOCATION"]) == "Brno, Údolní 5"
    description = str(event["DESCRIPTION"])
    assert "žluťoučký kůň úpěl ďábelské ódy" in description
    assert "Outcome: Pošleme nabídku" in description
    assert event.decoded("SEQUENCE") == 4
    assert event.decoded("LAST-MODIFIED") == NOW - timedelta(days=1)
    assert event.decoded("DTSTAMP") == NOW - timedelta(days=1)
    attendees = {str(a): a.params.get("CN") for a in event["ATTENDEE"]}
    assert attendees == {f"urn:uuid:{contact}": "Jiří Dvořák", f"urn:uuid:{COLLEAGUE}": None}
    assert str(event["X-CRM-CLIENT-ID"]) == CLIENT


def test_open_tasks_are_all_day_or_short_events(uow):
    on_a_day = _task(uow, assignee_id=ME, due_date=date(2026, 3, 30),
                     due_at=_prague(2026, 3, 30, 0), priority="high", body="Nabídka na sklad")
    # written by me for a colleague
    at_a_time = _task(uow, assignee_id=COLLEAGUE, due_at=_prague(2026, 7, 1, 10))
    undated = _task(uow, assignee_id=ME)
    done = _task(uow, assignee_id=ME, due_date=date(2026, 3, 5), status="done")
    others = _task(uow, assignee_id=COLLEAGUE, author=f"user:{COLLEAGUE}",
                   due_date=date(2026, 3, 5))
    deleted = _task(uow, assignee_id=ME, due_date=date(2026, 3, 5), deleted_at=NOW)
    events = _by_uid(_feed(uow))
    assert set(events) == {on_a_day, at_a_time}
    all_day = events[on_a_day]
    assert all_day.decoded("DTSTART") == date(2026, 3, 30)
    assert all_day.decoded("DTEND") == date(2026, 3, 31)
    assert str(all_day["SUMMARY"]) == "Task: Zavolat"
    assert str(all_day["DESCRIPTION"]) == "Nabídka na sklad"
    assert all_day.decoded("PRIORITY") == 1 and str(all_day["TRANSP"]) == "TRANSPARENT"
    timed = events[at_a_time]
    assert timed.decoded("DTSTART") == datetime(2026, 7, 1, 8, tzinfo=timezone.utc)
    assert undated and done and others and deleted


def test_tasks_as_todos_or_none(uow):
    dated = _task(uow, assignee_id=ME, due_date=date(2026, 3, 30))
    timed = _task(uow, assignee_id=ME, due_at=_prague(2026, 1, 30, 10))
    undated = _task(uow, assignee_id=ME, priority="low")
    _task(uow, assignee_id=ME, status="done")
    meeting = _meeting(uow, _prague(2026, 3, 10, 10))
    feed = _feed(uow, tasks="todos")
    todos = _by_uid(feed, "VTODO")
    assert set(todos) == {dated, timed, undated}
    assert set(_by_uid(feed)) == {meeting}
    assert todos[dated].decoded("DUE") == date(2026, 3, 30)
    assert todos[timed].decoded("DUE") == datetime(2026, 1, 30, 9, tzinfo=timezone.utc)
    assert "DUE" not in todos[undated] and todos[undated].decoded("PRIORITY") == 9
    assert str(todos[undated]["STATUS"]) == "NEEDS-ACTION"
    quiet = _feed(uow, tasks="none")
    assert set(_by_uid(quiet)) == {meeting} and not quiet.walk("VTODO")
    with pytest.raises(ValidationFailed):
        _feed(uow, tasks="everything")


def test_an_empty_feed_is_a_valid_calendar(uow):
    feed = _feed(uow)
    assert feed.name == "VCALENDAR" and not feed.walk("VEVENT")
    assert feed.walk("VTIMEZONE")
