"""The foundation's user flows 1-6, through the gateway, with every service running."""
import json
import socket
import time
from pathlib import Path

import jsonschema

from ares_service.fake import FakeAres
from crm_common.testing import wait_until

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


def load_schema(event_type: str) -> dict:
    return json.loads((SCHEMAS / f"{event_type}.v1.json").read_text())

SAD = "25063677"        # s.r.o., VAT payer
GONE = "25596641"       # dissolved in 2009: ARES answers 404
CVUT = "68407700"       # public university in Prague 6


def _client_when(system, client_id, predicate, timeout=20):
    def check():
        body = system.api.get(f"/api/v1/clients/{client_id}").json()
        return body if predicate(body) else None
    return wait_until(check, timeout=timeout, what=f"client {client_id} state")


def _timeline(system, client_id):
    response = system.api.get(f"/api/v1/clients/{client_id}/timeline")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _timeline_when(system, client_id, predicate, timeout=20):
    def check():
        timeline = _timeline(system, client_id)
        return timeline if predicate(timeline) else None
    return wait_until(check, timeout=timeout, what=f"timeline of {client_id}")


def test_create_answers_at_once_then_registry_data_arrives(system):
    started = time.monotonic()
    system.free_ico(SAD)
    response = system.api.post("/api/v1/clients", json={"name": "Sad", "ico": SAD},
                                headers={"X-Correlation-ID": "e2e-flow-1"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["registry"]["status"] == "pending"  # nobody waited for ARES
    assert response.headers["Location"].endswith(created["id"])
    assert response.headers["X-Correlation-ID"] == "e2e-flow-1"

    client = _client_when(system, created["id"], lambda c: c["registry"]["status"] == "ok")
    assert time.monotonic() - started < 20
    assert client["name"] == "SAD s.r.o."
    assert client["dic"] == "CZ25063677" and client["vat_payer"] is True
    assert client["legal_form"] == "112" and "471" in client["nace"]
    assert client["registered_address"] == {
        "street": "Daminěves 35", "city": "Cítov", "postal_code": "27704",
        "country_code": "CZ", "text": "Daminěves 35, 27704 Cítov"}
    assert client["registry"]["source"] == "ares" and client["registry"]["fetched_at"]

    timeline = _timeline_when(system, created["id"], lambda t: len(t) >= 2)
    assert [e["title"] for e in timeline[:2]] == ["Data loaded from ARES", "Client created"]
    loaded = timeline[0]
    assert loaded["type"] == "system" and loaded["source"] == "ares"
    assert "name" in loaded["data"]["changes"] and "SAD s.r.o." in loaded["body"]
    assert timeline[0]["occurred_at"] >= timeline[1]["occurred_at"]

    # the whole chain carries the request's correlation id
    system.tap.poll()
    chain = [e for e in system.tap.events if e.get("correlationid") == "e2e-flow-1"]
    assert {e["type"] for e in chain} >= {"client.created", "ares.lookup_succeeded",
                                          "client.updated"}


def test_unknown_ico_leaves_the_client_as_entered(system):
    system.free_ico(GONE)
    created = system.api.post("/api/v1/clients", json={"name": "Zaniklá", "ico": GONE}).json()
    timeline = _timeline_when(system, created["id"],
                              lambda t: any(e["source"] == "ares" for e in t))
    entry = next(e for e in timeline if e["source"] == "ares")
    assert entry["title"] == "IČO not found in ARES"
    client = _client_when(system, created["id"],
                          lambda c: c["registry"]["status"] == "not_found")
    assert client["name"] == "Zaniklá" and client["dic"] is None


def test_wrong_check_digit_is_refused_and_nothing_happens(system):
    before = len(system.tap.of_type("client.created"))
    response = system.api.post("/api/v1/clients", json={"name": "Typo", "ico": "25063678"})
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert [e["field"] for e in problem["errors"]] == ["ico"]
    listed = system.api.get("/api/v1/clients", params={"ico": "25063678"})
    assert listed.status_code == 200 and listed.json()["items"] == []
    marker = system.api.post("/api/v1/clients", json={"name": "marker"}).json()
    system.tap.wait_for(lambda e: e["subject"] == marker["id"])
    names = [e["data"]["client"]["name"] for e in system.tap.of_type("client.created")[before:]]
    assert names == ["marker"]


def test_ares_unreachable_is_retried_not_dropped(system):
    port = int(system.fake.url.split(":")[2].split("/")[0])
    system.fake.stop()  # ARES is gone: connections are refused
    try:
        system.free_ico(CVUT)
        created = system.api.post("/api/v1/clients", json={"name": "ČVUT", "ico": CVUT}).json()
        timeline = _timeline_when(system, created["id"],
                                  lambda t: any(e["source"] == "ares" for e in t))
        assert [e["title"] for e in timeline if e["source"] == "ares"] == \
            ["ARES unavailable, will retry"]
        assert _client_when(system, created["id"], lambda c: c["registry"]["status"] ==
                            "unavailable")["name"] == "ČVUT"
    finally:
        system.fake = FakeAres(port=port).start()  # ARES is back on the same address
    client = _client_when(system, created["id"], lambda c: c["registry"]["status"] == "ok",
                          timeout=40)
    assert client["name"] == "České vysoké učení technické v Praze"
    assert client["registered_address"]["city"] == "Praha 6"
    titles = [e["title"] for e in _timeline_when(
        system, created["id"], lambda t: t[0]["title"] == "Data loaded from ARES")]
    assert titles.count("ARES unavailable, will retry") == 1


def test_a_retried_post_with_an_idempotency_key_creates_one_client(system):
    headers = {"Idempotency-Key": "e2e-retry-1"}
    first = system.api.post("/api/v1/clients", json={"name": "Opakovaná"}, headers=headers)
    again = system.api.post("/api/v1/clients", json={"name": "Opakovaná"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    reused = system.api.post("/api/v1/clients", json={"name": "Jiná"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


def test_notes_join_the_timeline(system):
    created = system.api.post("/api/v1/clients", json={"name": "Poznámková s.r.o."}).json()
    response = system.api.post(f"/api/v1/clients/{created['id']}/notes",
                               json={"title": "Schůzka", "body": "Probrali jsme nabídku."})
    assert response.status_code == 201, response.text
    note = response.json()
    assert note["type"] == "note" and note["client_id"] == created["id"]
    assert note["author"]
    timeline = _timeline_when(system, created["id"], lambda t: len(t) >= 2)
    assert timeline[0]["id"] == note["id"] and timeline[0]["body"] == "Probrali jsme nabídku."
    missing = system.api.post("/api/v1/clients/does-not-exist/notes", json={"body": "x"})
    assert missing.status_code == 404


def test_external_subscriber_gets_cloudevents(system):
    """Flow 6: a program bound to clients.events with `client.*` (pika, not nameko/kombu)."""
    from crm_common.testing import EventTap
    tap = EventTap(system.amqp_uri, [("clients.events", "client.*")])
    try:
        system.free_ico(SAD)
        created = system.api.post("/api/v1/clients", json={"name": "x", "ico": SAD}).json()
        got = tap.wait_for(lambda e: e["subject"] == created["id"]
                           and e["type"] == "client.updated")
        first = tap.wait_for(lambda e: e["subject"] == created["id"]
                             and e["type"] == "client.created")
    finally:
        tap.close()
    for event in (first, got):
        assert event["specversion"] == "1.0" and event["source"] == "/crm/clients"
        assert event["datacontenttype"] == "application/json"
    method, properties, _ = next(r for r in tap.raw if b'"client.updated"' in r[2])
    assert properties.content_type == "application/cloudevents+json"  # structured mode
    assert properties.delivery_mode == 2  # persistent
    assert got["data"]["changes"]["registry"]["after"]["status"] == "ok"


def test_every_event_seen_matches_its_schema(system):
    """Contract: whatever the services emitted in these flows validates against docs/events."""
    system.tap.poll()
    assert system.tap.events, "the flows above emitted no events"
    seen = set()
    for event in system.tap.events:
        schema = load_schema(event["type"])
        jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())
        seen.add(event["type"])
    assert seen >= {"client.created", "client.updated", "ares.lookup_succeeded",
                    "ares.lookup_failed", "activity.created"}


def test_duplicate_delivery_makes_one_timeline_entry(system):
    from crm_common.testing import publish_event
    created = system.api.post("/api/v1/clients", json={"name": "Dvojče"}).json()
    event = system.tap.wait_for(lambda e: e["subject"] == created["id"]
                                and e["type"] == "client.created")
    publish_event(system.amqp_uri, "clients", event)  # the broker redelivers it
    publish_event(system.amqp_uri, "clients", event)
    marker = system.api.post(f"/api/v1/clients/{created['id']}/notes", json={"body": "po"})
    assert marker.status_code == 201
    time.sleep(1)
    timeline = _timeline_when(system, created["id"], lambda t: len(t) >= 2)
    assert [e["title"] for e in timeline].count("Client created") == 1


def test_a_batch_creates_each_valid_client_once_with_its_timeline_and_enrichment(system):
    items = [{"name": f"Dávka {i}"} for i in range(150)]
    items[7] = {"name": "Chybné IČO", "ico": "25063678"}      # refused by the gateway
    items[9] = {"name": "Sad z dávky", "ico": SAD}            # enriched from ARES
    items[11] = {"name": "Cizí pole", "colour": "red"}       # refused by the gateway
    system.free_ico(SAD)
    key = {"Idempotency-Key": "e2e-batch-1"}
    response = system.api.post("/api/v1/clients/batch", json={"items": items}, headers=key)
    assert response.status_code == 200, response.text
    results = response.json()["items"]
    assert [r["status"] for r in results] == [422 if i in (7, 11) else 201
                                              for i in range(150)]
    assert results[7]["errors"][0]["field"] == "ico"
    assert results[11]["errors"] == [{"field": "colour", "message": "Unknown field."}]
    assert [r["client"]["name"] for r in results if r["status"] == 201] == \
        [item["name"] for i, item in enumerate(items) if i not in (7, 11)]
    again = system.api.post("/api/v1/clients/batch", json={"items": items}, headers=key)
    assert again.json() == response.json()  # sent again: the same answers, nothing new
    created = [r["client"]["id"] for r in results if r["status"] == 201]
    for client_id in (created[0], created[-1]):
        timeline = _timeline_when(system, client_id, lambda t: t)
        assert [e["title"] for e in timeline] == ["Client created"]
    sad = results[9]["client"]["id"]
    assert _client_when(system, sad, lambda c: c["registry"]["status"] == "ok")["name"] == \
        "SAD s.r.o."
    names = {c["name"] for c in system.api.get("/api/v1/clients?limit=500").json()["items"]}
    assert sum(1 for n in names if n.startswith("Dávka ")) == 147


def _raw(url: str, request: bytes) -> tuple[int, dict, dict]:
    """Send `request` as written (no HTTP client would send it) and read the answer."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def test_requests_refused_before_the_api_are_problem_details_too(system):
    """gunicorn refuses a malformed request before the app sees it: still problem+json."""
    status, headers, body = _raw(system.stack.url, b"GET /api/v1/pipelines HTTP/1.1\r\n"
                                 b"Host: crm\r\nContent-Length: um\r\n\r\n")
    assert (status, headers["content-type"]) == (400, "application/problem+json")
    assert body["status"] == 400 and "CONTENT-LENGTH" in body["detail"]

    status, headers, body = _raw(system.stack.url, b"GET /api/v1/clients?q=" + b"x" * 9000
                                 + b" HTTP/1.1\r\nHost: crm\r\n\r\n")
    assert (status, headers["content-type"]) == (414, "application/problem+json")
    assert body["title"] == "URI Too Long"
