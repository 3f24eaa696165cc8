"""People, tokens and the record-level rule through the real gateway and services: a sales
rep who may see only their own clients gets 404 for everyone else's, on every endpoint,
because the clients service answers them so (the caller travels with every RPC)."""
import time

import pytest
import requests

from crm_common.testing import TEST_ADMIN_TOKEN

PASSWORD = "Heslo-pro-testy-2026"


class Person:
    def __init__(self, base: str, headers: dict):
        self.base, self.http = base, requests.Session()
        self.http.headers.update(headers)

    def __getattr__(self, method):
        def call(path, **kwargs):
            kwargs.setdefault("timeout", 30)
            return self.http.request(method.upper(), self.base + path, **kwargs)
        return call


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crm(request, small_stack):
    stack = small_stack(request.param, ("clients", "activities"),
                        {"SETTINGS_CACHE_SECONDS": "0", "AUTH_CACHE_SECONDS": "0"})
    admin = Person(stack.url, {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"})
    people = {"admin": admin}
    for name, role in (("anna", "sales"), ("bob", "sales"), ("marie", "manager")):
        user = admin.post("/api/v1/users", json={
            "email": f"{name}@firma.cz", "name": name.title(), "role": role,
            "password": PASSWORD})
        assert user.status_code == 201, user.text
        token = admin.post("/api/v1/tokens", json={
            "name": "e2e", "user_id": user.json()["id"], "scopes": ["write"]})
        assert token.status_code == 201, token.text
        people[name] = Person(stack.url, {"Authorization": f"Bearer {token.json()['token']}"})
        people[name].user = user.json()
    yield stack, people
    stack.stop()


def _set_rule(admin, on: bool):
    answer = admin.patch("/api/v1/settings", json={"sales_see_own_only": on})
    assert answer.status_code == 200 and answer.json()["sales_see_own_only"] is on


def test_sales_reps_see_only_their_own_clients_when_the_rule_is_on(crm):
    _, people = crm
    admin, anna, bob, marie = (people[n] for n in ("admin", "anna", "bob", "marie"))
    _set_rule(admin, False)
    mine = anna.post("/api/v1/clients", json={"name": "Annina firma s.r.o."})
    assert mine.status_code == 201 and mine.json()["owner_id"] == anna.user["id"]
    client_id = mine.json()["id"]
    contact = anna.post(f"/api/v1/clients/{client_id}/contacts",
                        json={"first_name": "Petr", "last_name": "Dvořák"})
    assert contact.status_code == 201, contact.text
    contact_id = contact.json()["id"]
    assert anna.post(f"/api/v1/clients/{client_id}/notes", json={
        "type": "note", "title": "Schůzka", "body": "Domluveno"}).status_code == 201
    bobs = bob.post("/api/v1/clients", json={"name": "Bobova firma a.s."}).json()
    assert bob.get(f"/api/v1/clients/{client_id}").status_code == 200  # rule still off

    _set_rule(admin, True)
    hidden = [
        ("get", f"/api/v1/clients/{client_id}", {}),
        ("patch", f"/api/v1/clients/{client_id}", {"json": {"name": "Moje!"}}),
        ("post", f"/api/v1/clients/{client_id}/archive", {}),
        ("get", f"/api/v1/clients/{client_id}/card", {}),
        ("get", f"/api/v1/clients/{client_id}/history", {}),
        ("get", f"/api/v1/clients/{client_id}/timeline", {}),
        ("post", f"/api/v1/clients/{client_id}/notes", {"json": {"type": "note",
                                                                  "title": "x"}}),
        ("get", f"/api/v1/clients/{client_id}/contacts", {}),
        ("get", f"/api/v1/clients/{client_id}/contacts/vcard", {}),
        ("get", f"/api/v1/clients/{client_id}/subsidiaries", {}),
        ("get", f"/api/v1/contacts/{contact_id}", {}),
        ("get", f"/api/v1/contacts/{contact_id}/vcard", {}),
        ("patch", f"/api/v1/contacts/{contact_id}", {"json": {"position": "CEO"}}),
        ("delete", f"/api/v1/contacts/{contact_id}", {}),
    ]
    for method, path, kwargs in hidden:
        answer = getattr(bob, method)(path, **kwargs)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
        assert answer.json()["status"] == 404
    nobody = bob.get("/api/v1/clients/00000000-0000-4000-8000-000000000000")
    assert nobody.json()["detail"].replace("00000000-0000-4000-8000-000000000000", "X") == \
        bob.get(f"/api/v1/clients/{client_id}").json()["detail"].replace(client_id, "X")
    listed = {c["id"] for c in bob.get("/api/v1/clients?limit=500").json()["items"]}
    assert bobs["id"] in listed and client_id not in listed
    exported = bob.get("/api/v1/clients/export", params={"columns": ["name"]}).text
    assert "Bobova firma a.s." in exported and "Annina firma" not in exported
    assert bob.get("/api/v1/clients/duplicates").status_code == 200
    parent = bob.patch(f"/api/v1/clients/{bobs['id']}", json={"parent_id": client_id})
    assert parent.status_code == 422 and "parent_id" in parent.json()["fields"]

    # the owner and a manager see it all; the record is untouched by Bob's attempts
    assert anna.get(f"/api/v1/clients/{client_id}").json()["name"] == "Annina firma s.r.o."
    assert anna.get(f"/api/v1/contacts/{contact_id}").status_code == 200
    everyone = {c["id"] for c in marie.get("/api/v1/clients?limit=500").json()["items"]}
    assert {client_id, bobs["id"]} <= everyone
    card = marie.get(f"/api/v1/clients/{client_id}/card").json()
    assert card["contacts"]["items"][0]["id"] == contact_id

    # handing the client over hands over the sight of it
    moved = anna.patch(f"/api/v1/clients/{client_id}", json={"owner_id": bob.user["id"]})
    assert moved.status_code == 200
    assert bob.get(f"/api/v1/clients/{client_id}").status_code == 200
    assert anna.get(f"/api/v1/clients/{client_id}").status_code == 404
    _set_rule(admin, False)
    assert anna.get(f"/api/v1/clients/{client_id}").status_code == 200


def test_a_person_logs_in_with_a_cookie_and_writes_with_the_csrf_token(crm):
    stack, people = crm
    browser = requests.Session()
    wrong = browser.post(stack.url + "/api/v1/auth/login",
                         json={"email": "anna@firma.cz", "password": "nope"}, timeout=30)
    assert wrong.status_code == 401
    login = browser.post(stack.url + "/api/v1/auth/login",
                         json={"email": "Anna@Firma.cz", "password": PASSWORD}, timeout=30)
    assert login.status_code == 200 and browser.cookies.get("crm_session")
    no_csrf = browser.post(stack.url + "/api/v1/clients", json={"name": "Bez CSRF"},
                           timeout=30)
    assert no_csrf.status_code == 403
    made = browser.post(stack.url + "/api/v1/clients", json={"name": "S CSRF s.r.o."},
                        headers={"X-CSRF-Token": login.json()["csrf_token"]}, timeout=30)
    assert made.status_code == 201 and made.json()["owner_id"] == people["anna"].user["id"]
    assert made.json()["created_by"] == f"user:{people['anna'].user['id']}"
    audit = people["admin"].get("/api/v1/audit", params={"record_id": None,
                                                         "action": "create_client"})
    entry = next(e for e in audit.json()["items"] if e["status"] == 201 and
                 e["user_id"] == people["anna"].user["id"] and e["token_id"] is None)
    assert entry["ip"] == "127.0.0.1" and entry["resource"] == "clients"
    browser.post(stack.url + "/api/v1/auth/logout", timeout=30)
    assert browser.get(stack.url + "/api/v1/clients", timeout=30).status_code == 401


def test_the_card_comes_back_with_a_stopped_service_marked_unavailable(crm):
    """(Last in this module: it stops the activities service.)"""
    stack, people = crm
    admin = people["admin"]
    client = admin.post("/api/v1/clients", json={"name": "Karta bez časové osy"}).json()
    assert admin.get(f"/api/v1/clients/{client['id']}/card").json()["timeline"][
        "status"] == "ok"
    stack.stop_service("activities")
    started = time.monotonic()
    card = admin.get(f"/api/v1/clients/{client['id']}/card")
    assert card.status_code == 200
    assert card.json()["client"]["id"] == client["id"]
    # the activities service's sections are unavailable; the clients service's are there
    assert card.json()["timeline"] == card.json()["open_tasks"] == {"status": "unavailable"}
    assert card.json()["contacts"]["status"] == card.json()["subsidiaries"]["status"] == "ok"
    assert time.monotonic() - started < 10  # CARD_TIMEOUT, not RPC_TIMEOUT
