"""The business register (ARES) endpoints: refresh one client, refresh jobs, the statutory
body's people as contact persons (the clients and ares services faked at the RPC boundary)."""
import pytest
from gateway_support import AUTH, CLIENT, MISSING_ID, user_with_token

from crm_common.rpc import RemoteError

PROBLEM = "application/problem+json"
CID = CLIENT["id"]
OTHER = "6c1f3b0e-0000-4000-8000-000000000002"
NO_ICO = "6c1f3b0e-0000-4000-8000-000000000003"
JOB = {"id": "6c1f3b0e-0000-4000-8000-0000000000b1", "status": "running", "total": 1,
       "done": 0, "changed": 0, "unchanged": 0, "failed": 0, "skipped": [],
       "created_at": "2026-01-02T10:00:00Z", "finished_at": None,
       "requested_by": "admin:bootstrap"}
LOOKUP = {"status": "found", "ico": "25596641", "detail": None, "cached": False,
          "fetched_at": "2026-01-02T10:00:00Z",
          "record": {"name": "Firma s.r.o.", "established_on": "1996-07-08",
                     "registered_address": {"postal_code": "11000",
                                            "postal_code_formatted": "110 00"}}}
NOVAK = {"key": "p-novak", "kind": "person", "name": "Ing. Jan Novák, Ph.D.",
         "first_name": "Jan", "last_name": "Novák", "degree_before": "Ing.",
         "degree_after": "Ph.D.", "role": "jednatel", "body": "Statutární orgán",
         "since": "1996-07-08"}
HOLDING = {"key": "c-holding", "kind": "company", "name": "Holding a.s.", "first_name": None,
           "last_name": None, "degree_before": None, "degree_after": None,
           "role": "člen představenstva", "body": "Představenstvo", "since": None}
PEOPLE = {"status": "found", "people": [NOVAK, HOLDING], "detail": None,
          "fetched_at": "2026-01-02T10:00:00Z"}
NOT_FOUND = RemoteError("NotFound", f"client {CID} does not exist", [])
UNAVAILABLE = {"status": "unavailable", "people": [], "detail": "timeout", "fetched_at": None}


@pytest.fixture
def client_with_ico(rpc):
    rpc.answers[("clients", "get")] = CLIENT
    return CLIENT


def _problem(response, status):
    assert response.status_code == status, response.json
    assert response.mimetype == PROBLEM
    return response.json


def _ares_calls(rpc):
    return [call for call in rpc.calls if call[0] == "ares"]


# -- one client, now ----------------------------------------------------------------------

def test_refresh_answers_what_the_register_said(client, rpc, client_with_ico):
    rpc.answers[("ares", "refresh")] = LOOKUP
    response = client.post(f"/api/v1/clients/{CID}/registry-refresh", headers=AUTH)
    assert response.status_code == 200
    assert response.json == LOOKUP  # the record as the register gave it
    [(_, _, kwargs, context)] = rpc.called("ares", "refresh")
    assert kwargs == {"client_id": CID, "ico": "25596641"}
    assert context["caller_role"] == "admin"


def test_refresh_of_an_unanswered_lookup_is_its_outcome(client, rpc, client_with_ico):
    rpc.answers[("ares", "refresh")] = dict(LOOKUP, status="unavailable", record=None)
    response = client.post(f"/api/v1/clients/{CID}/registry-refresh", headers=AUTH)
    assert response.status_code == 200 and response.json["status"] == "unavailable"


@pytest.mark.parametrize("path, method", [
    ("registry-refresh", "post"), ("registry/people", "get"), ("registry/people", "post")])
def test_a_client_the_caller_may_not_see_is_404_and_ares_is_not_asked(client, rpc, path,
                                                                     method):
    rpc.answers[("clients", "get")] = NOT_FOUND
    body = {"json": {"keys": ["p-novak"]}} if method == "post" else {}
    response = getattr(client, method)(f"/api/v1/clients/{CID}/{path}", headers=AUTH,
                                       **body)
    _problem(response, 404)
    assert _ares_calls(rpc) == []


@pytest.mark.parametrize("path, method", [
    ("registry-refresh", "post"), ("registry/people", "get"), ("registry/people", "post")])
def test_a_client_without_an_ico_is_422(client, rpc, path, method):
    rpc.answers[("clients", "get")] = dict(CLIENT, ico=None)
    body = {"json": {"keys": ["p-novak"]}} if method == "post" else {}
    problem = _problem(getattr(client, method)(f"/api/v1/clients/{CID}/{path}",
                                               headers=AUTH, **body), 422)
    assert problem["errors"][0]["field"] == "ico"
    assert _ares_calls(rpc) == []


def test_a_merged_client_is_refreshed_where_it_went(client, rpc):
    rpc.answers[("clients", "get")] = dict(CLIENT, merged_into=OTHER, archived_at="x")
    problem = _problem(client.post(f"/api/v1/clients/{CID}/registry-refresh",
                                   headers=AUTH), 409)
    assert problem["existing_id"] == OTHER and _ares_calls(rpc) == []


# -- many clients, a job --------------------------------------------------------------------

def test_a_job_of_named_clients_skips_the_ones_it_may_not_refresh(client, rpc):
    def targets(client_ids, cursor, limit):
        assert cursor is None and limit == 1000
        return {"items": [{"client_id": CID, "ico": "25596641"}], "no_ico": [NO_ICO],
                "next_cursor": None}
    rpc.answers[("clients", "registry_targets")] = targets
    rpc.answers[("ares", "start_refresh")] = JOB
    response = client.post("/api/v1/registry-refresh", headers=AUTH,
                           json={"client_ids": [CID, MISSING_ID, NO_ICO, CID]})
    assert response.status_code == 202 and response.json == JOB
    assert response.headers["Location"] == f"/api/v1/registry-refresh/{JOB['id']}"
    [(_, _, asked, _)] = rpc.called("clients", "registry_targets")
    assert asked["client_ids"] == [CID, MISSING_ID, NO_ICO]  # each once
    [(_, _, started, _)] = rpc.called("ares", "start_refresh")
    assert started.pop("idempotency_key")  # a retry of the RPC starts no second job
    assert started == {"targets": [{"client_id": CID, "ico": "25596641"}],
                       "skipped": [{"client_id": MISSING_ID, "reason": "not_found"},
                                   {"client_id": NO_ICO, "reason": "no_ico"}]}


def test_many_named_clients_are_asked_for_a_thousand_at_a_time(client, rpc):
    ids = [f"6c1f3b0e-0000-4000-8000-{n:012x}" for n in range(2500)]
    rpc.answers[("clients", "registry_targets")] = lambda client_ids, cursor, limit: {
        "items": [{"client_id": i, "ico": "25596641"} for i in client_ids],
        "no_ico": [], "next_cursor": None}
    rpc.answers[("ares", "start_refresh")] = JOB
    assert client.post("/api/v1/registry-refresh", headers=AUTH,
                       json={"client_ids": ids}).status_code == 202
    assert [len(c[2]["client_ids"]) for c in rpc.called("clients", "registry_targets")] == \
        [1000, 1000, 500]
    [(_, _, started, _)] = rpc.called("ares", "start_refresh")
    assert len(started["targets"]) == 2500 and started["skipped"] == []


def test_all_pages_through_every_client_into_one_job(client, rpc):
    pages = {None: ([CID], "c1"), "c1": ([OTHER], None)}

    def targets(client_ids, cursor, limit):
        assert client_ids is None
        items, following = pages[cursor]
        return {"items": [{"client_id": i, "ico": "25596641"} for i in items],
                "next_cursor": following}
    rpc.answers[("clients", "registry_targets")] = targets
    rpc.answers[("ares", "start_refresh")] = dict(JOB, total=2)
    response = client.post("/api/v1/registry-refresh", headers=AUTH, json={"all": True})
    assert response.status_code == 202
    [(_, _, started, _)] = rpc.called("ares", "start_refresh")
    assert [t["client_id"] for t in started["targets"]] == [CID, OTHER]
    assert started["skipped"] == []


@pytest.mark.parametrize("body", [
    {}, {"all": True, "client_ids": [CID]}, {"all": False}, {"all": 1}, {"client_ids": []},
    {"client_ids": ["nope"]}, {"client_ids": [CID] * 10_001}, {"all": True, "x": 1}])
def test_a_job_names_clients_or_all_of_them(client, rpc, body):
    _problem(client.post("/api/v1/registry-refresh", headers=AUTH, json=body), 422)
    assert rpc.calls == []


def test_a_job_is_read_back_and_someone_else_s_is_404(client, rpc):
    rpc.answers[("ares", "refresh_job")] = dict(JOB, status="completed", done=1, changed=1)
    response = client.get(f"/api/v1/registry-refresh/{JOB['id']}", headers=AUTH)
    assert response.status_code == 200 and response.json["changed"] == 1
    assert rpc.called("ares", "refresh_job")[0][2] == {"job_id": JOB["id"]}
    rpc.answers[("ares", "refresh_job")] = RemoteError("NotFound", "job x", [])
    _problem(client.get(f"/api/v1/registry-refresh/{MISSING_ID}", headers=AUTH), 404)


def test_starting_a_job_is_in_the_audit_log_with_its_id(client, rpc):
    rpc.answers[("clients", "registry_targets")] = {"items": [], "next_cursor": None}
    rpc.answers[("ares", "start_refresh")] = JOB
    client.post("/api/v1/registry-refresh", headers=AUTH, json={"all": True})
    [entry] = client.get("/api/v1/audit", headers=AUTH).json["items"]
    assert entry["action"] == "start_refresh" and entry["resource"] == "clients"
    assert entry["record_id"] == JOB["id"] and entry["status"] == 202


# -- the statutory body's people ------------------------------------------------------------

def test_the_people_are_suggested(client, rpc, client_with_ico):
    rpc.answers[("ares", "statutory_people")] = PEOPLE
    response = client.get(f"/api/v1/clients/{CID}/registry/people", headers=AUTH)
    assert response.status_code == 200
    assert response.json == {"items": [NOVAK, HOLDING], "status": "found",
                             "fetched_at": PEOPLE["fetched_at"]}
    assert rpc.called("ares", "statutory_people")[0][2] == {"ico": "25596641"}


def test_a_sole_trader_has_no_people_in_the_register(client, rpc, client_with_ico):
    rpc.answers[("ares", "statutory_people")] = {"status": "not_found", "people": [],
                                                 "detail": None, "fetched_at": None}
    response = client.get(f"/api/v1/clients/{CID}/registry/people", headers=AUTH)
    assert response.status_code == 200
    assert response.json == {"items": [], "status": "not_found", "fetched_at": None}


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unanswering_register_is_503_with_retry_after(client, rpc, client_with_ico,
                                                         method):
    rpc.answers[("ares", "statutory_people")] = UNAVAILABLE
    body = {"json": {"keys": ["p-novak"]}} if method == "post" else {}
    response = getattr(client, method)(f"/api/v1/clients/{CID}/registry/people",
                                       headers=AUTH, **body)
    _problem(response, 503)
    assert response.headers["Retry-After"] and rpc.called("clients", "add_contact") == []


def _add(client, keys, key="k-1"):
    return client.post(f"/api/v1/clients/{CID}/registry/people", json={"keys": keys},
                       headers={**AUTH, "Idempotency-Key": key})


def test_chosen_people_become_contact_persons(client, rpc, client_with_ico):
    rpc.answers[("ares", "statutory_people")] = PEOPLE
    rpc.answers[("clients", "add_contact")] = lambda client_id, contact, idempotency_key, \
        unique_name: dict(contact, id="c-" + idempotency_key[-6:], name="x")
    response = _add(client, ["p-novak", "c-holding"])
    assert response.status_code == 201 and response.json["skipped"] == []
    calls = [c[2] for c in rpc.called("clients", "add_contact")]
    assert calls[0]["contact"] == {
        "first_name": "Jan", "last_name": "Novák", "degree": "Ing.", "position": "jednatel",
        "note": "Ze statutárního orgánu (obchodní rejstřík), od 1996-07-08; titul za "
                "jménem: Ph.D."}
    assert calls[1]["contact"] == {"last_name": "Holding a.s.",
                                   "position": "člen představenstva",
                                   "note": "Ze statutárního orgánu (obchodní rejstřík)"}
    assert all(c["client_id"] == CID and c["unique_name"] is True for c in calls)
    # one key per person, the same again for the same request
    keys = [c["idempotency_key"] for c in calls]
    assert len(set(keys)) == 2 and all(len(k) <= 200 for k in keys)
    _add(client, ["p-novak", "c-holding"])
    assert [c[2]["idempotency_key"] for c in rpc.called("clients", "add_contact")][2:] == keys
    assert [c.get("first_name") for c in response.json["created"]] == ["Jan", None]


def test_a_namesake_of_a_contact_is_skipped(client, rpc, client_with_ico):
    rpc.answers[("ares", "statutory_people")] = PEOPLE

    def add(client_id, contact, idempotency_key, unique_name):
        if contact.get("first_name") == "Jan":
            raise RemoteError("Conflict", "Jan Novák is already a contact of this client",
                              ["Jan Novák is ...", {"reason": "exists", "contact_id": "c1"}])
        return dict(contact, id="c2")
    rpc.answers[("clients", "add_contact")] = add
    response = _add(client, ["p-novak", "c-holding"])
    assert response.status_code == 201
    assert response.json["skipped"] == [{"key": "p-novak", "reason": "exists"}]
    assert [c["id"] for c in response.json["created"]] == ["c2"]


def test_another_conflict_is_no_namesake(client, rpc, client_with_ico):
    rpc.answers[("ares", "statutory_people")] = PEOPLE
    rpc.answers[("clients", "add_contact")] = RemoteError(
        "Conflict", "client was erased (GDPR)", ["client was erased (GDPR)"])
    _problem(_add(client, ["p-novak"]), 409)


def test_an_unknown_key_is_422_naming_it_and_nobody_is_added(client, rpc, client_with_ico):
    rpc.answers[("ares", "statutory_people")] = PEOPLE
    problem = _problem(_add(client, ["p-novak", "p-nobody"]), 422)
    assert problem["errors"][0]["field"] == "keys.1"
    assert "p-nobody" in problem["errors"][0]["message"]
    assert rpc.called("clients", "add_contact") == []


@pytest.mark.parametrize("body", [{}, {"keys": []}, {"keys": [""]}, {"keys": "p-novak"},
                                  {"keys": ["k"] * 51}, {"keys": ["k"], "all": True}])
def test_a_bad_choice_is_422_before_any_call(client, rpc, body):
    _problem(client.post(f"/api/v1/clients/{CID}/registry/people", json=body, headers=AUTH),
             422)
    assert rpc.calls == []


# -- roles ------------------------------------------------------------------------------

def test_readers_see_the_people_but_only_staff_refresh_and_add(app, client, rpc,
                                                              client_with_ico):
    rpc.answers[("ares", "statutory_people")] = PEOPLE
    rpc.answers[("ares", "refresh")] = LOOKUP
    _, reader = user_with_token(app, "readonly")
    _, rep = user_with_token(app, "sales")
    people = f"/api/v1/clients/{CID}/registry/people"
    assert client.get(people, headers=reader).status_code == 200
    for headers, allowed in ((reader, False), (rep, True)):
        refresh = client.post(f"/api/v1/clients/{CID}/registry-refresh", headers=headers)
        job = client.post("/api/v1/registry-refresh", json={"all": 1}, headers=headers)
        add = client.post(people, json={"keys": []}, headers=headers)
        assert [r.status_code for r in (refresh, job, add)] == \
            ([200, 422, 422] if allowed else [403, 403, 403])
