"""The calendar feed through the real gateway and activities service, on both databases:
a user makes a feed URL, a calendar app fetches it with nothing but that URL and parses it
back; a replaced or revoked URL is refused, and the token is in no log.

The meetings and tasks are written straight into the activities database (as the entries'
own use cases would store them): this test is about the feed, not about making entries."""
import uuid
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from icalendar import Calendar

from activities_service.orm import entry_links, timeline_entries
from crm_common.testing import TEST_ADMIN_TOKEN

PRAGUE = ZoneInfo("Europe/Prague")
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crm(request, small_stack):
    stack = small_stack(request.param, ("activities",), {"AUTH_CACHE_SECONDS": "0"})
    people = {}
    for name in ("anna", "bob"):
        user = requests.post(stack.url + "/api/v1/users", headers=ADMIN, timeout=30, json={
            "email": f"{name}@firma.cz", "name": name.title(), "role": "sales"})
        assert user.status_code == 201, user.text
        token = requests.post(stack.url + "/api/v1/tokens", headers=ADMIN, timeout=30, json={
            "name": "e2e", "user_id": user.json()["id"], "scopes": ["write"]})
        assert token.status_code == 201, token.text
        bearer = {"Authorization": f"Bearer {token.json()['token']}"}
        people[name] = (user.json()["id"], bearer)
    engine = sa.create_engine(stack.env["ACTIVITIES_DATABASE_URL"])
    yield stack, people, engine
    engine.dispose()
    stack.stop()


def _write(engine, links=(), **values) -> str:
    entry_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    row = {"id": entry_id, "title": "", "body": "", "occurred_at": now, "source": "user",
           "client_id": str(uuid.uuid4()), "data": {}, "created_at": now, "version": 1,
           **values}
    row = {name: value.astimezone(timezone.utc) if isinstance(value, datetime) else value
           for name, value in row.items()}  # stored in UTC, as the service stores them
    with engine.begin() as connection:
        connection.execute(timeline_entries.insert().values(row))
        for user_id in links:
            connection.execute(entry_links.insert().values(entry_id=entry_id, kind="user",
                                                           ref_id=user_id))
    return entry_id


def test_a_calendar_app_subscribes_with_the_url_alone(crm):
    stack, people, engine = crm
    (anna, anna_auth), (bob, _) = people["anna"], people["bob"]
    year = datetime.now(PRAGUE).year + 1
    winter = _write(engine, type="meeting", title="Schůzka u Dvořáků", author=f"user:{anna}",
                    body="Probrali jsme ceník, příští týden pošleme nabídku.",
                    starts_at=datetime(year, 1, 15, 10, tzinfo=PRAGUE),
                    ends_at=datetime(year, 1, 15, 11, tzinfo=PRAGUE),
                    data={"place": "Brno, Údolní 5", "attendees": [
                        {"kind": "user", "id": bob, "name": "Bob"}]}, links=[bob])
    summer = _write(engine, type="meeting", title="Kontrolní den", author=f"user:{bob}",
                    starts_at=datetime(year, 7, 15, 10, tzinfo=PRAGUE),
                    ends_at=datetime(year, 7, 15, 12, tzinfo=PRAGUE), links=[anna, bob])
    bobs = _write(engine, type="meeting", title="Bobova schůzka", author=f"user:{bob}",
                  starts_at=datetime(year, 2, 1, 9, tzinfo=PRAGUE))
    task = _write(engine, type="task", title="Poslat nabídku", author=f"user:{bob}",
                  assignee_id=anna, status="open", priority="high",
                  due_date=date(year, 1, 20), due_at=datetime(year, 1, 20, tzinfo=PRAGUE))
    done = _write(engine, type="task", title="Hotovo", author=f"user:{anna}",
                  assignee_id=anna, status="done", due_date=date(year, 1, 21))

    made = requests.post(stack.url + "/api/v1/calendar/feed", headers=anna_auth, timeout=30)
    assert made.status_code == 201, made.text
    url, token = made.json()["url"], made.json()["token"]
    assert url.startswith(stack.url + "/api/v1/calendar.ics?token=")

    fetched = requests.get(url, timeout=30)  # what a calendar app sends: no headers
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["Content-Type"] == "text/calendar; charset=utf-8"
    feed = Calendar.from_ical(fetched.content.decode("utf-8"))
    events = {str(c["UID"]): c for c in feed.walk("VEVENT")}
    assert set(events) == {f"{winter}@crm", f"{summer}@crm", f"{task}@crm"}
    assert bobs and done
    meeting = events[f"{winter}@crm"]
    assert str(meeting["SUMMARY"]) == "Schůzka u Dvořáků"
    assert str(meeting["LOCATION"]) == "Brno, Údolní 5"
    assert meeting.decoded("DTSTART") == datetime(year, 1, 15, 9, tzinfo=timezone.utc)
    assert events[f"{summer}@crm"].decoded("DTSTART") == datetime(year, 7, 15, 8,
                                                                   tzinfo=timezone.utc)
    assert events[f"{task}@crm"].decoded("DTSTART") == date(year, 1, 20)
    assert [str(zone["TZID"]) for zone in feed.walk("VTIMEZONE")] == ["Europe/Prague"]
    todos = requests.get(url + "&tasks=todos", timeout=30)
    assert [str(c["UID"]) for c in Calendar.from_ical(todos.text).walk("VTODO")] == [
        f"{task}@crm"]

    status = requests.get(stack.url + "/api/v1/calendar/feed", headers=anna_auth, timeout=30)
    assert status.json()["active"] and status.json()["last_used_at"]
    replaced = requests.post(stack.url + "/api/v1/calendar/feed", headers=anna_auth,
                             timeout=30).json()
    refused = requests.get(url, timeout=30)
    assert refused.status_code == 401
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert requests.get(replaced["url"], timeout=30).status_code == 200
    assert requests.delete(stack.url + "/api/v1/calendar/feed", headers=anna_auth,
                           timeout=30).status_code == 204
    assert requests.get(replaced["url"], timeout=30).status_code == 401
    gateway_log = stack.log_path("gateway").read_text(encoding="utf-8", errors="replace")
    assert "/api/v1/calendar.ics" in gateway_log  # the access lines are there...
    assert token not in gateway_log and replaced["token"] not in gateway_log  # ...no token
