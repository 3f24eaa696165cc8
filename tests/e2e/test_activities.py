"""Timeline entries, tasks and activity plans through the real gateway and services, on
both databases (on PostgreSQL with two replicas of the activities service): each entry type, the client
timeline with its deals' entries, edits with If-Match and the audit trail, who may change
what, tasks by due date, `task.due` exactly once (also after a restart), plans, the
record-level rule, and every event valid against docs/events."""
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import requests

from crm_common.testing import (TEST_ADMIN_TOKEN, EventTap, database_env, start_stack,
                                wait_until)

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"
PASSWORD = "Heslo-pro-testy-2026"
PRAGUE = ZoneInfo("Europe/Prague")


class Person:
    def __init__(self, base: str, token: str):
        self.base, self.http = base + "/api/v1", requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method, path, status=None, **kwargs):
        answer = self.http.request(method, self.base + path, timeout=30,
                                   allow_redirects=False, **kwargs)
        if status is not None:
            assert answer.status_code == status, (answer.status_code, answer.text)
            return answer.json() if answer.content else None
        return answer


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crm(request, amqp_uri, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"activities-{request.param}")
    make_pg = request.getfixturevalue("make_postgres_db") if request.param == "postgresql" \
        else None
    stack = start_stack(tmp, amqp_uri, database_env(request.param, tmp, make_pg),
                        services=("clients", "activities", "deals"), fake_ares=False,
                        # SQLite takes one process per database; PostgreSQL runs replicas
                        replicas={"activities": 2 if request.param == "postgresql" else 1},
                        extra_env={"ARES_BASE_URL": "http://127.0.0.1:9/nothing",
                                   "ACTIVITIES_DUE_CHECK_SECONDS": "0.5",
                                   "SETTINGS_CACHE_SECONDS": "0", "AUTH_CACHE_SECONDS": "0"})
    tap = EventTap(amqp_uri, [("activities.events", "#")])
    admin = Person(stack.url, TEST_ADMIN_TOKEN)
    people = {"admin": admin}
    for name, role in (("anna", "sales"), ("bob", "sales")):
        user = admin("POST", "/users", 201, json={
            "email": f"{name}@firma.cz", "name": name.title(), "role": role,
            "password": PASSWORD})
        token = admin("POST", "/tokens", 201, json={
            "name": "e2e", "user_id": user["id"], "scopes": ["write"]})
        people[name] = Person(stack.url, token["token"])
        people[name].user = user
    people["tap"], people["stack"] = tap, stack
    yield people
    tap.close()
    stack.stop()


def _client_with_contact(person, name):
    client = person("POST", "/clients", 201, json={"name": name})
    contact = person("POST", f"/clients/{client['id']}/contacts", 201,
                     json={"first_name": "Jan", "last_name": "Dvořák"})
    return client, contact


def test_every_entry_type_on_the_client_and_its_deals_timeline(crm):
    anna, bob = crm["anna"], crm["bob"]
    client, contact = _client_with_contact(anna, "Žluťoučký kůň s.r.o.")
    deal = anna("POST", "/deals", 201, json={"title": "Koně 2027", "client_id": client["id"]})
    base = f"/clients/{client['id']}/activities"
    note = anna("POST", base, 201, json={"type": "note", "title": "Zavolat zpět"})
    meeting = anna("POST", f"/deals/{deal['id']}/activities", 201, json={
        "type": "meeting", "title": "Kick-off", "body": "Zápis: dohodnut pilot.",
        "starts_at": "2026-03-02T10:00:00+01:00", "ends_at": "2026-03-02T11:00:00+01:00",
        "place": "Praha", "attendees": [{"kind": "contact", "id": contact["id"]},
                                        {"kind": "user", "id": bob.user["id"]}]})
    call = anna("POST", base, 201, json={"type": "call", "direction": "outbound",
                                         "phone": "603 111 222", "duration_seconds": 60,
                                         "outcome": "connected",
                                         "contact_ids": [contact["id"]]})
    email = {"type": "email", "subject": "Nabídka", "body": "Posíláme nabídku.",
             "from": "anna@firma.cz", "to": ["jan@kun.cz"], "message_id": "<n1@firma.cz>"}
    first = anna("POST", base, 201, json=email)
    again = anna("POST", base, 200, json=email)  # logged twice: one entry
    assert again["id"] == first["id"]
    task = anna("POST", base, 201, json={"type": "task", "title": "Poslat smlouvu",
                                         "assignee_id": bob.user["id"],
                                         "due_date": "2026-12-01", "priority": "high"})
    assert meeting["deal_id"] == deal["id"] and meeting["starts_at"] == "2026-03-02T09:00:00Z"
    assert call["phone"] == "+420603111222" and task["status"] == "open"

    typed = {note["id"], meeting["id"], call["id"], first["id"], task["id"]}

    def client_timeline():
        items = anna("GET", f"/clients/{client['id']}/timeline", 200)["items"]
        return items if typed <= {i["id"] for i in items} and any(
            i["title"] == "Deal created" for i in items) else None
    items = wait_until(client_timeline, timeout=20, what="the client's timeline")
    assert [i["type"] for i in items if i["id"] in typed].count("email") == 1
    deal_items = anna("GET", f"/deals/{deal['id']}/timeline", 200)["items"]
    assert {i["title"] for i in deal_items} >= {"Kick-off", "Deal created"}
    contact_items = anna("GET", f"/contacts/{contact['id']}/timeline", 200)["items"]
    assert {i["id"] for i in contact_items} >= {meeting["id"], call["id"]}
    found = anna("GET", f"/clients/{client['id']}/timeline", 200,
                 params={"q": "ZAPIS pilot", "types": "meeting,note"})["items"]
    assert [i["id"] for i in found] == [meeting["id"]]
    assert anna("GET", f"/clients/{client['id']}/timeline", 200,
                params={"author": "me", "types": "task"})["items"][0]["id"] == task["id"]
    bad = anna("POST", base, json={"type": "call", "direction": "inbound", "place": "x"})
    assert bad.status_code == 422 and "place" in bad.json()["fields"]
    for day in ("0001-01-01", "9999-12-31"):  # no day a calendar could not hold
        bad = anna("POST", base, json={"type": "task", "title": "t", "due_date": day})
        assert bad.status_code == 422 and "due_date" in bad.json()["fields"]
    other, _ = _client_with_contact(anna, "Jiný klient a.s.")
    wrong = anna("POST", f"/clients/{other['id']}/activities",
                 json={"type": "note", "title": "x", "contact_ids": [contact["id"]]})
    assert wrong.status_code == 422 and "contact_ids" in wrong.json()["fields"]


def test_edits_deletes_and_who_may_make_them(crm):
    anna, bob, admin = crm["anna"], crm["bob"], crm["admin"]
    client, _ = _client_with_contact(anna, "Editační s.r.o.")
    note = anna("POST", f"/clients/{client['id']}/activities", 201,
                json={"type": "note", "title": "Cena", "body": "100 Kč"})
    path = f"/activities/{note['id']}"
    changed = anna("PATCH", path, 200, json={"body": "120 Kč"}, headers={"If-Match": 'W/"1"'})
    assert changed["version"] == 2
    stale = anna("PATCH", path, json={"body": "90 Kč"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert bob("PATCH", path, json={"body": "0 Kč"}).status_code == 403  # not his
    history = anna("GET", f"{path}/history", 200)["items"]
    assert [h["action"] for h in history] == ["created", "updated"]
    assert history[1]["changes"]["body"] == {"before": "100 Kč", "after": "120 Kč"}
    system = wait_until(lambda: next((i for i in anna(
        "GET", f"/clients/{client['id']}/timeline", 200)["items"] if i["source"] != "user"),
        None), what="a system entry")
    assert anna("PATCH", f"/activities/{system['id']}", json={"title": "x"}).status_code == 409
    admin("DELETE", path, 204, headers={"If-Match": 'W/"2"'})
    assert anna("GET", path).status_code == 404
    # its history stays
    assert [h["action"] for h in admin("GET", f"{path}/history", 200)["items"]] == [
        "created", "updated", "deleted"]


def test_tasks_by_due_date_completed_once_and_due_once_across_replicas(crm):
    anna, bob, tap, stack = crm["anna"], crm["bob"], crm["tap"], crm["stack"]
    client, _ = _client_with_contact(anna, "Úkolová s.r.o.")
    base = f"/clients/{client['id']}/activities"
    today = datetime.now(PRAGUE).date()
    for title, due in (("Dnes", today), ("Zítra", today + timedelta(days=1)),
                       ("Včera", today - timedelta(days=1))):
        anna("POST", base, 201, json={"type": "task", "title": title,
                                      "assignee_id": bob.user["id"],
                                      "due_date": due.isoformat()})
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    due_now = anna("POST", base, 201, json={"type": "task", "title": "Hned",
                                            "assignee_id": bob.user["id"], "due_at": past})
    mine = bob("GET", "/tasks", 200, params={"assignee": "me", "client_id": client["id"]})
    # by due moment: a date falls due at the start of its day
    assert [t["title"] for t in mine["items"]] == ["Včera", "Dnes", "Hned", "Zítra"]
    assert [t["title"] for t in bob("GET", "/tasks", 200, params={
        "assignee": "me", "due": "overdue", "client_id": client["id"]})["items"]] == [
        "Včera", "Hned"]
    assert [t["title"] for t in bob("GET", "/tasks", 200, params={
        "assignee": "me", "due": "today", "client_id": client["id"]})["items"] if
        t["title"] != "Hned"] == ["Dnes"]

    card = anna("GET", f"/clients/{client['id']}/card", 200)
    assert [t["title"] for t in card["open_tasks"]["items"]] == ["Včera", "Dnes", "Hned",
                                                                  "Zítra"]

    tap.wait_for(lambda e: e["type"] == "task.due" and e["subject"] == due_now["id"],
                 timeout=20, what="task.due")
    stack.stop_service("activities", replica=1)  # a restart of one replica
    stack.start_service("activities", replica=1)
    stack.wait_services(timeout=60)
    time.sleep(3)  # several scheduler rounds on both replicas
    tap.poll()
    assert [e["subject"] for e in tap.of_type("task.due")].count(due_now["id"]) == 1

    done = bob("POST", f"/tasks/{due_now['id']}/complete", 200)
    assert done["status"] == "done" and done["completed_by"] == f"user:{bob.user['id']}"
    bob("POST", f"/tasks/{due_now['id']}/complete", 200)
    tap.wait_for(lambda e: e["type"] == "task.completed", what="task.completed")
    time.sleep(1)
    tap.poll()
    assert len([e for e in tap.of_type("task.completed")
                if e["subject"] == due_now["id"]]) == 1
    assert bob("POST", f"/tasks/{due_now['id']}/reopen", 200)["status"] == "open"


def test_a_plan_applied_to_a_deal(crm):
    admin, anna, bob = crm["admin"], crm["anna"], crm["bob"]
    plan = admin("POST", "/activity-plans", 201, json={"name": "Onboarding", "steps": [
        {"title": "Úvodní schůzka", "due_in_days": 1},
        {"title": "Školení", "due_in_days": 7, "assignee": bob.user["id"]}]})
    assert anna("POST", "/activity-plans", json={"name": "x", "steps": [
        {"title": "y", "due_in_days": 1}]}).status_code == 403  # managers define plans
    for assignee in ("garbage", "00000000-0000-4000-8000-000000000000"):
        refused = admin("POST", "/activity-plans", json={"name": "x", "steps": [
            {"title": "y", "due_in_days": 1, "assignee": assignee}]})
        assert refused.status_code == 422 and "steps.0.assignee" in refused.json()["fields"]
    client, _ = _client_with_contact(anna, "Plánovací s.r.o.")
    deal = anna("POST", "/deals", 201, json={"title": "Onboarding", "client_id": client["id"]})
    run = anna("POST", f"/deals/{deal['id']}/plans", 201, json={"plan_id": plan["id"]})
    today = datetime.now(PRAGUE).date()
    assert [(t["title"], t["due_date"], t["assignee_id"]) for t in run["tasks"]] == [
        ("Úvodní schůzka", (today + timedelta(days=1)).isoformat(), anna.user["id"]),
        ("Školení", (today + timedelta(days=7)).isoformat(), bob.user["id"])]
    bob("POST", f"/tasks/{run['tasks'][1]['id']}/complete", 200)
    [found] = anna("GET", f"/deals/{deal['id']}/plans", 200)["items"]
    assert found["progress"] == {"done": 1, "total": 2}
    assert anna("GET", f"/clients/{client['id']}/plans", 200)["items"][0]["id"] == run["id"]


def test_the_record_level_rule_covers_entries_and_tasks(crm):
    admin, anna, bob = crm["admin"], crm["anna"], crm["bob"]
    client, contact = _client_with_contact(anna, "Annina tajná s.r.o.")
    note = anna("POST", f"/clients/{client['id']}/activities", 201,
                json={"type": "note", "title": "Jen pro Annu"})
    task = anna("POST", f"/clients/{client['id']}/activities", 201,
                json={"type": "task", "title": "Annin úkol"})
    for_bob = anna("POST", f"/clients/{client['id']}/activities", 201,
                   json={"type": "task", "title": "Pro Boba", "assignee_id": bob.user["id"]})
    admin("PATCH", "/settings", 200, json={"sales_see_own_only": True})
    try:
        for path in (f"/activities/{note['id']}", f"/activities/{note['id']}/history",
                     f"/clients/{client['id']}/timeline", f"/contacts/{contact['id']}/timeline"):
            assert bob("GET", path).status_code == 404, path
        assert bob("POST", f"/clients/{client['id']}/activities",
                   json={"type": "note", "title": "x"}).status_code == 404
        assert bob("POST", f"/tasks/{task['id']}/complete").status_code == 404
        hidden = bob("GET", f"/activities/{note['id']}/attachments")
        assert hidden.status_code == 404 and client["id"] not in hidden.text
        assert task["id"] not in {t["id"] for t in bob("GET", "/tasks", 200)["items"]}
        assert task["id"] in {t["id"] for t in anna("GET", "/tasks", 200)["items"]}
        # a task assigned to him is on his list, and he completes it
        assert for_bob["id"] in {t["id"] for t in bob("GET", "/tasks", 200)["items"]}
        assert bob("POST", f"/tasks/{for_bob['id']}/complete", 200)["status"] == "done"
        assert bob("GET", f"/activities/{for_bob['id']}").status_code == 404  # still hidden
    finally:
        admin("PATCH", "/settings", 200, json={"sales_see_own_only": False})


def test_every_activities_event_matches_its_schema(crm):
    tap = crm["tap"]
    tap.poll()
    seen = {}
    for event in tap.events:
        schema = json.loads((SCHEMAS / f"{event['type']}.v1.json").read_text())
        jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())
        seen[event["type"]] = seen.get(event["type"], 0) + 1
    assert {"activity.created", "activity.updated", "activity.deleted", "task.completed",
            "task.due", "activity_plan.created", "activity_plan.applied"} <= set(seen)
