from gateway_support import AUTH, CLIENT, MISSING_ID

from crm_common.rpc import RemoteError, RpcTimeout

ENTRY = {"id": "e1", "type": "note", "title": "Schůzka", "body": "Probrali jsme ceník.",
         "occurred_at": "2025-01-03T09:00:00+00:00", "author": "admin:bootstrap",
         "source": "gateway", "client_id": CLIENT["id"], "deal_id": None, "data": {},
         "created_at": "2025-01-03T09:01:00+00:00"}


def test_timeline_of_a_missing_client_is_404_without_asking_activities(client, rpc):
    rpc.answers[("clients", "get")] = RemoteError("NotFound", "no such client", [])
    response = client.get(f"/api/v1/clients/{MISSING_ID}/timeline", headers=AUTH)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert rpc.called("activities", "timeline") == []


def test_timeline(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    rpc.answers[("activities", "timeline")] = {"items": [ENTRY], "next_cursor": "n1"}
    response = client.get(f"/api/v1/clients/{CLIENT['id']}/timeline?limit=10&types=note,call",
                          headers=AUTH)
    assert response.status_code == 200
    assert response.json["items"] == [ENTRY]
    [(_, _, kwargs, _)] = rpc.called("activities", "timeline")
    assert kwargs == {"client_id": CLIENT["id"], "limit": 10, "cursor": None,
                      "types": ["note", "call"]}
    assert 'rel="next"' in response.headers["Link"]


def test_timeline_without_types_sends_only_the_basic_arguments(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    rpc.answers[("activities", "timeline")] = {"items": [], "next_cursor": None}
    client.get(f"/api/v1/clients/{CLIENT['id']}/timeline?cursor=c", headers=AUTH)
    [(_, _, kwargs, _)] = rpc.called("activities", "timeline")
    assert kwargs == {"client_id": CLIENT["id"], "limit": 50, "cursor": "c"}


def test_note_is_written_with_author_and_client(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    rpc.answers[("activities", "add_note")] = ENTRY
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/notes", headers=AUTH, json={
        "title": "Schůzka", "body": "Probrali jsme ceník.", "type": "meeting",
        "occurred_at": "2025-01-03T09:00:00+00:00"})
    assert response.status_code == 201
    assert response.json["id"] == "e1"
    [(_, _, kwargs, context)] = rpc.called("activities", "add_note")
    assert kwargs == {"payload": {
        "title": "Schůzka", "body": "Probrali jsme ceník.", "type": "meeting",
        "occurred_at": "2025-01-03T09:00:00+00:00", "client_id": CLIENT["id"],
        "author": "admin:bootstrap"}, "idempotency_key": kwargs["idempotency_key"]}
    assert kwargs["idempotency_key"].startswith("auto-")
    assert context["actor"] == "admin:bootstrap"


def test_a_note_timeout_names_the_key_even_when_the_lookup_timed_out(client, rpc):
    rpc.answers[("clients", "get")] = RpcTimeout("clients.get did not answer")
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/notes", headers={
        **AUTH, "Idempotency-Key": "note-1"}, json={"body": "x"})
    assert response.status_code == 504
    assert response.json["idempotency_key"] == "note-1"
    assert rpc.called("activities", "add_note") == []


def test_a_note_keeps_the_callers_key(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    rpc.answers[("activities", "add_note")] = ENTRY
    client.post(f"/api/v1/clients/{CLIENT['id']}/notes", headers={
        **AUTH, "Idempotency-Key": "note-2"}, json={"body": "x"})
    [(_, _, kwargs, _)] = rpc.called("activities", "add_note")
    assert kwargs["idempotency_key"] == "note-2"


def test_note_for_a_missing_client_is_404(client, rpc):
    rpc.answers[("clients", "get")] = RemoteError("NotFound", "no such client", [])
    response = client.post(f"/api/v1/clients/{MISSING_ID}/notes", headers=AUTH,
                           json={"body": "x"})
    assert response.status_code == 404
    assert rpc.called("activities", "add_note") == []


def test_a_title_alone_is_a_note(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    rpc.answers[("activities", "add_note")] = ENTRY
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/notes", headers=AUTH,
                           json={"title": "Zavolat zpět"})
    assert response.status_code == 201
    [(_, _, kwargs, _)] = rpc.called("activities", "add_note")
    assert kwargs["payload"]["title"] == "Zavolat zpět" and "body" not in kwargs["payload"]


def test_note_validation(client, rpc):
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/notes", headers=AUTH,
                           json={"type": "fax", "author": "someone else"})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json["errors"]}
    assert {"type", "author"} <= fields
    assert rpc.calls == []
