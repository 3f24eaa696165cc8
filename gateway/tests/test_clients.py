import pytest
from gateway_support import AUTH, CLIENT, MISSING_ID

from crm_common.rpc import BrokerBlocked, NotSent, RemoteError, RpcTimeout

PROBLEM = "application/problem+json"


def test_create_answers_201_with_location(client, rpc):
    rpc.answers[("clients", "create")] = CLIENT
    body = {"kind": "company", "name": "Firma s.r.o.", "ico": "25596641",
            "registered_address": {"city": "Praha", "country_code": "CZ"}}
    response = client.post("/api/v1/clients", json=body, headers=AUTH)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/clients/{CLIENT['id']}"
    assert response.json["id"] == CLIENT["id"] and response.json["version"] == 3
    [(_, _, kwargs, _)] = rpc.called("clients", "create")
    assert kwargs == {"payload": body, "idempotency_key": kwargs["idempotency_key"]}


def test_create_accepts_ico_as_number(client, rpc):
    rpc.answers[("clients", "create")] = CLIENT
    response = client.post("/api/v1/clients", json={"ico": 25596641}, headers=AUTH)
    assert response.status_code == 201
    assert rpc.calls[0][2]["payload"] == {"ico": "25596641"}


def test_unknown_field_is_422_naming_it(client, rpc):
    response = client.post("/api/v1/clients", json={"name": "X", "colour": "red"},
                           headers=AUTH)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert {"field": "colour", "message": "Unknown field.", "location": "json"} in \
        response.json["errors"]
    assert response.json["fields"] == {"colour": ["Unknown field."]}
    assert rpc.calls == []


def test_wrong_types_are_422(client, rpc):
    response = client.post("/api/v1/clients", json={"name": 5, "kind": "alien",
                                                     "registered_address": {"city": 1}},
                           headers=AUTH)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json["errors"]}
    assert fields == {"name", "kind", "registered_address.city"}
    assert rpc.calls == []


def test_remote_validation_failed_is_422_with_field(client, rpc):
    rpc.answers[("clients", "create")] = RemoteError(
        "ValidationFailed", "{'dic': ['DIČ is not valid.']}", [{"dic": ["DIČ is not valid."]}])
    response = client.post("/api/v1/clients", json={"name": "x", "dic": "CZ25596642"},
                           headers=AUTH)
    assert response.status_code == 422
    assert response.content_type == PROBLEM
    problem = response.json
    assert problem["status"] == 422 and problem["type"] and problem["title"]
    assert problem["instance"] == "/api/v1/clients"
    assert problem["errors"] == [{"field": "dic", "message": "DIČ is not valid."}]
    assert problem["fields"] == {"dic": ["DIČ is not valid."]}


@pytest.mark.parametrize("ico", ["25596642", "123456789", "12a45678"])
def test_a_bad_ico_is_refused_by_the_gateway_itself(client, rpc, ico):
    response = client.post("/api/v1/clients", json={"name": "x", "ico": ico}, headers=AUTH)
    assert response.status_code == 422 and response.content_type == PROBLEM
    assert [e["field"] for e in response.json["errors"]] == ["ico"]
    assert rpc.calls == []  # nothing reached a service, so nothing stored or published


def test_remote_nested_validation_is_flattened(client, rpc):
    rpc.answers[("clients", "create")] = RemoteError(
        "ValidationFailed", "...", [{"registered_address": {"country_code": ["Bad."]},
                                     "_schema": ["Whole thing."]}])
    response = client.post("/api/v1/clients", json={"name": "X"}, headers=AUTH)
    assert response.json["errors"] == [
        {"field": "registered_address.country_code", "message": "Bad."},
        {"field": None, "message": "Whole thing."}]


def test_body_that_is_not_json(client, rpc):
    response = client.post("/api/v1/clients", data="name=X", headers=AUTH,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.mimetype == PROBLEM
    response = client.post("/api/v1/clients", data="{not json", headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    response = client.post("/api/v1/clients", json=["a list"], headers=AUTH)
    assert response.status_code == 422
    assert rpc.calls == []


def test_get_with_etag(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    response = client.get(f"/api/v1/clients/{CLIENT['id']}", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"3"'
    assert rpc.calls[0][2] == {"client_id": CLIENT["id"]}


def test_not_found_is_404(client, rpc):
    rpc.answers[("clients", "get")] = RemoteError("NotFound", "client x does not exist",
                                                  ["client x does not exist"])
    response = client.get(f"/api/v1/clients/{MISSING_ID}", headers=AUTH)
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.json["detail"] == "client x does not exist"


def test_conflict_is_409(client, rpc):
    rpc.answers[("clients", "create")] = RemoteError("Conflict", "duplicate IČO",
                                                     ["duplicate IČO"])
    assert client.post("/api/v1/clients", json={"name": "X"}, headers=AUTH
                       ).status_code == 409


def test_service_unavailable_is_503_with_retry_after(client, rpc):
    rpc.answers[("clients", "get")] = RemoteError("ServiceUnavailable", "no service", [])
    response = client.get(f"/api/v1/clients/{MISSING_ID}", headers=AUTH)
    assert response.status_code == 503
    assert response.mimetype == PROBLEM
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize("error", [
    NotSent("broker unreachable"), BrokerBlocked("connection blocked"),
    ConnectionRefusedError(111, "refused"), RemoteError("ServiceUnavailable", "none", [])])
def test_nothing_done_is_503_service_unavailable(client, rpc, error):
    rpc.answers[("clients", "create")] = error
    response = client.post("/api/v1/clients", json={"name": "X"}, headers=AUTH)
    assert response.status_code == 503 and response.mimetype == PROBLEM
    assert response.json["type"] == "urn:crm:problem:service-unavailable"
    assert "Nothing was done" in response.json["detail"]
    assert int(response.headers["Retry-After"]) > 0
    assert response.json["correlation_id"] and response.json["instance"] == "/api/v1/clients"
    assert "idempotency_key" not in response.json


def test_a_write_without_a_key_gets_one_made_for_the_request(client, rpc):
    rpc.answers[("clients", "create")] = CLIENT
    for _ in range(2):
        client.post("/api/v1/clients", json={"name": "X"}, headers=AUTH)
    keys = [kwargs["idempotency_key"] for _, _, kwargs, _ in rpc.called("clients", "create")]
    assert all(k.startswith("auto-") and len(k) == len("auto-") + 36 for k in keys)
    assert keys[0] != keys[1]  # one per HTTP request, never reused


def test_the_callers_key_is_passed_as_is(client, rpc):
    rpc.answers[("clients", "create")] = CLIENT
    client.post("/api/v1/clients", json={"name": "X"},
                headers={**AUTH, "Idempotency-Key": " mine-1 "})
    [(_, _, kwargs, _)] = rpc.called("clients", "create")
    assert kwargs["idempotency_key"] == "mine-1"


@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
def test_a_bad_key_is_400_before_any_rpc(client, rpc, key):
    response = client.post("/api/v1/clients", json={"name": "X"},
                           headers={**AUTH, "Idempotency-Key": key})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert rpc.calls == []


def test_a_write_timeout_is_504_outcome_unknown_naming_the_generated_key(client, rpc):
    rpc.answers[("clients", "create")] = RpcTimeout("clients.create did not answer")
    response = client.post("/api/v1/clients", json={"name": "X"}, headers=AUTH)
    assert response.status_code == 504 and response.mimetype == PROBLEM
    problem = response.json
    assert problem["type"] == "urn:crm:problem:outcome-unknown"
    assert problem["title"] == "Outcome unknown"
    assert "may or may not" in problem["detail"] and "Idempotency-Key" in problem["detail"]
    assert int(response.headers["Retry-After"]) > 0
    [(_, _, kwargs, _)] = rpc.called("clients", "create")
    assert problem["idempotency_key"] == kwargs["idempotency_key"]
    assert problem["idempotency_key"].startswith("auto-")
    assert problem["correlation_id"] and problem["instance"] == "/api/v1/clients"


@pytest.mark.parametrize("remote", ["DeadlineExceeded", "OutcomeUnknown"])
def test_a_service_that_cannot_tell_whether_it_wrote_is_504_too(client, rpc, remote):
    # past the deadline, or its database failed during COMMIT
    rpc.answers[("clients", "create")] = RemoteError(remote, "it may or may not be", [])
    response = client.post("/api/v1/clients", json={"name": "X"}, headers=AUTH)
    assert response.status_code == 504
    assert response.json["type"] == "urn:crm:problem:outcome-unknown"
    assert response.json["idempotency_key"].startswith("auto-")


def test_a_service_whose_database_is_down_is_503_nothing_done(client, rpc):
    rpc.answers[("clients", "create")] = RemoteError(
        "ServiceUnavailable", "the database cannot be reached; nothing was done", [])
    response = client.post("/api/v1/clients", json={"name": "X"}, headers=AUTH)
    assert response.status_code == 503
    assert response.json["type"] == "urn:crm:problem:service-unavailable"
    assert "Nothing was done" in response.json["detail"]


def test_a_write_timeout_names_the_callers_key(client, rpc):
    rpc.answers[("clients", "create")] = RpcTimeout("clients.create did not answer")
    response = client.post("/api/v1/clients", json={"name": "X"},
                           headers={**AUTH, "Idempotency-Key": "retry-me"})
    assert response.status_code == 504
    assert response.json["idempotency_key"] == "retry-me"


def test_a_read_timeout_is_504_saying_nothing_changed(client, rpc):
    rpc.answers[("clients", "get")] = RpcTimeout("clients.get did not answer")
    response = client.get(f"/api/v1/clients/{MISSING_ID}", headers=AUTH)
    assert response.status_code == 504 and response.mimetype == PROBLEM
    assert response.json["type"] == "urn:crm:problem:outcome-unknown"
    assert "nothing was changed" in response.json["detail"]
    assert "idempotency_key" not in response.json
    assert int(response.headers["Retry-After"]) > 0


def test_other_remote_errors_are_502_without_internals(client, rpc):
    rpc.answers[("clients", "get")] = RemoteError(
        "OperationalError", "(sqlite3.OperationalError) database is locked", ["secret"])
    response = client.get(f"/api/v1/clients/{MISSING_ID}", headers=AUTH)
    assert response.status_code == 502
    assert response.mimetype == PROBLEM
    assert "sqlite" not in response.get_data(as_text=True)
    assert "secret" not in response.get_data(as_text=True)


def test_list_passes_filters_and_links_next_page(client, rpc):
    rpc.answers[("clients", "list")] = {"items": [CLIENT], "next_cursor": "abc=="}
    response = client.get("/api/v1/clients?limit=1&ico=25596641", headers=AUTH)
    assert response.status_code == 200
    assert response.json == {"items": [CLIENT], "next_cursor": "abc=="}
    assert rpc.calls[0][2] == {"limit": 1, "cursor": None, "ico": "25596641",
                               "archived": "false", "q": None, "filters": {}, "sort": None,
                               "include_total": False}
    assert response.headers["Link"] == \
        '</api/v1/clients?limit=1&ico=25596641&cursor=abc%3D%3D>; rel="next"'


def test_list_of_archived_clients_keeps_the_filter_in_the_next_link(client, rpc):
    rpc.answers[("clients", "list")] = {"items": [CLIENT], "next_cursor": "abc=="}
    response = client.get("/api/v1/clients?archived=only", headers=AUTH)
    assert rpc.calls[0][2]["archived"] == "only"
    assert "archived=only" in response.headers["Link"]
    assert client.get("/api/v1/clients?archived=maybe", headers=AUTH).status_code == 422


def test_list_last_page_has_no_link(client, rpc):
    rpc.answers[("clients", "list")] = {"items": [], "next_cursor": None}
    response = client.get("/api/v1/clients?cursor=abc", headers=AUTH)
    assert "Link" not in response.headers
    assert rpc.calls[0][2] == {"limit": 50, "cursor": "abc", "ico": None, "archived": "false",
                               "q": None, "filters": {}, "sort": None, "include_total": False}


def test_list_limit_is_bounded(client, rpc):
    for limit in ("0", "501", "x"):
        response = client.get(f"/api/v1/clients?limit={limit}", headers=AUTH)
        assert response.status_code == 422
        assert response.json["errors"][0]["field"] == "limit"
        assert response.json["errors"][0]["location"] == "query"
    assert rpc.calls == []


def test_batch_answers_every_item_in_order_validating_at_the_gateway_first(client, rpc):
    rpc.answers[("clients", "create_many")] = [
        {"status": 201, "client": CLIENT},
        {"status": 422, "errors": {"dic": ["DIČ is not valid."]}}]
    items = [{"name": "A"}, {"name": "X", "colour": "red"}, "text", {"name": "B", "dic": "x"}]
    response = client.post("/api/v1/clients/batch", json={"items": items},
                           headers=dict(AUTH, **{"Idempotency-Key": "b-1"}))
    assert response.status_code == 200, response.json
    assert response.json["items"] == [
        {"status": 201, "client": CLIENT},
        {"status": 422, "errors": [{"field": "colour", "message": "Unknown field."}]},
        {"status": 422, "errors": [{"field": None, "message": "Invalid input type."}]},
        {"status": 422, "errors": [{"field": "dic", "message": "DIČ is not valid."}]}]
    [(_, _, kwargs, _)] = rpc.called("clients", "create_many")
    assert kwargs == {"items": [{"name": "A"}, {"name": "B", "dic": "x"}],
                      "positions": [0, 3], "idempotency_key": "b-1"}


def test_a_batch_with_nothing_valid_calls_no_service(client, rpc):
    response = client.post("/api/v1/clients/batch", json={"items": [{"kind": "alien"}]},
                           headers=AUTH)
    assert response.status_code == 200
    assert response.json["items"][0]["status"] == 422 and rpc.calls == []


@pytest.mark.parametrize("body", [{}, {"items": []}, {"items": "x"}, {"items": [{}], "x": 1},
                                  {"items": [{"name": "n"}] * 1001}, []])
def test_a_batch_of_the_wrong_shape_or_size_is_422_whole(client, rpc, body):
    response = client.post("/api/v1/clients/batch", json=body, headers=AUTH)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert rpc.calls == []


def test_a_batch_timeout_is_504_naming_the_key_to_retry_with(client, rpc):
    rpc.answers[("clients", "create_many")] = RpcTimeout("slow")
    response = client.post("/api/v1/clients/batch", json={"items": [{"name": "A"}]},
                           headers=AUTH)
    assert response.status_code == 504
    [(_, _, kwargs, _)] = rpc.called("clients", "create_many")
    assert response.json["idempotency_key"] == kwargs["idempotency_key"]


def test_batch_is_in_the_openapi_document(client):
    spec = client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/v1/clients/batch"]["post"]
    assert {"200", "422", "503", "504"} <= set(operation["responses"])


# -- edits, archive, history ----------------------------------------------------------

def _updated(**changes):
    return dict(CLIENT, **changes, version=CLIENT["version"] + 1)


@pytest.mark.parametrize("header, version", [('W/"3"', 3), ('"3"', 3), ("*", None),
                                             (None, None)])
def test_patch_sends_the_version_if_match_names(client, rpc, header, version):
    rpc.answers[("clients", "update")] = _updated(industry="IT")
    headers = dict(AUTH, **({"If-Match": header} if header else {}))
    response = client.patch(f"/api/v1/clients/{CLIENT['id']}", json={"industry": "IT"},
                            headers=headers)
    assert response.status_code == 200
    assert response.headers["ETag"] == f'W/"{CLIENT["version"] + 1}"'
    kwargs = rpc.calls[0][2]
    assert kwargs["if_match"] == version and kwargs["changes"] == {"industry": "IT"}
    assert kwargs["client_id"] == CLIENT["id"] and kwargs["idempotency_key"]


@pytest.mark.parametrize("header", ['W/"x"', "3", 'W/"1", W/"2"', '""', '"\u00b2"', '"\u0663"'])
def test_a_malformed_if_match_is_400_and_nothing_is_called(client, rpc, header):
    response = client.patch(f"/api/v1/clients/{CLIENT['id']}", json={"industry": "IT"},
                            headers=dict(AUTH, **{"If-Match": header}))
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert rpc.calls == []


def test_a_stale_version_is_412(client, rpc):
    rpc.answers[("clients", "update")] = RemoteError(
        "PreconditionFailed", "client c1 is at version 4, not 3", ["client c1 is at version "
                                                                   "4, not 3"])
    response = client.patch(f"/api/v1/clients/{CLIENT['id']}", json={"industry": "IT"},
                            headers=dict(AUTH, **{"If-Match": 'W/"3"'}))
    assert response.status_code == 412 and response.mimetype == PROBLEM
    assert "version 4" in response.json["detail"]


@pytest.mark.parametrize("payload, field", [
    ({"relationship": "friend"}, "relationship"), ({"category": "D"}, "category"),
    ({"tags": "VIP"}, "tags"), ({"colour": "red"}, "colour"),
    ({"billing": {"payment_terms_days": -1}}, "billing"),
    ({"emails": [{"value": "x"}]}, "emails"), ({"website": "nope"}, "website"),
])
def test_patch_refuses_bad_fields_before_any_call(client, rpc, payload, field):
    response = client.patch(f"/api/v1/clients/{CLIENT['id']}", json=payload, headers=AUTH)
    assert response.status_code == 422
    assert any(e["field"].startswith(field) for e in response.json["errors"])
    assert rpc.calls == []


@pytest.mark.parametrize("action", ["archive", "restore"])
def test_archive_and_restore_pass_if_match(client, rpc, action):
    rpc.answers[("clients", action)] = _updated()
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/{action}",
                           headers=dict(AUTH, **{"If-Match": 'W/"3"'}))
    assert response.status_code == 200 and response.headers["ETag"]
    assert rpc.calls[0][1] == action and rpc.calls[0][2]["if_match"] == 3


def test_history_pages(client, rpc):
    entry = {"id": "h1", "at": "2026-01-01T10:00:00Z", "actor": "user:bob",
             "action": "updated", "changes": {"industry": {"before": None, "after": "IT"}},
             "version": 2}
    rpc.answers[("clients", "history")] = {"items": [entry], "next_cursor": "xyz"}
    response = client.get(f"/api/v1/clients/{CLIENT['id']}/history?limit=1", headers=AUTH)
    assert response.status_code == 200 and response.json["items"] == [entry]
    assert "cursor=xyz" in response.headers["Link"]


def test_json_nested_too_deeply_is_400(client, rpc):
    body = '{"name": "a", "custom_fields": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = client.post("/api/v1/clients", data=body, headers=dict(
        AUTH, **{"Content-Type": "application/json"}))
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert rpc.calls == []


@pytest.mark.parametrize("body, field", [
    ('{"name": "A\\u0000B"}', "name"), ('{"name": "\\ud800"}', "name"),
    ('{"name": "A", "custom_fields": {"k": ["\\u0000"]}}', "custom_fields.k.0"),
])
def test_text_no_database_can_store_is_422(client, rpc, body, field):
    response = client.post("/api/v1/clients", data=body, headers=dict(
        AUTH, **{"Content-Type": "application/json"}))
    assert response.status_code == 422, response.json
    assert [e["field"] for e in response.json["errors"]] == [field]
    assert rpc.calls == []


def test_a_huge_invalid_body_gets_a_small_answer(client, rpc):
    body = {"name": "x", **{f"unknown_{i}_{'k' * 500}": i for i in range(1500)}}
    response = client.post("/api/v1/clients", json=body, headers=AUTH)
    assert response.status_code == 422
    assert len(response.data) < 100_000
    assert len(response.json["errors"]) == 100 and response.json["errors_omitted"] == 1400
    assert all(len(e["field"]) <= 201 for e in response.json["errors"])


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                    "1800-01-01T00:00:00Z"])
def test_a_time_out_of_range_is_422(client, rpc, moment):
    rpc.answers[("clients", "get")] = CLIENT
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/notes",
                           json={"body": "x", "occurred_at": moment}, headers=AUTH)
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["field"] == "occurred_at"
    assert not [c for c in rpc.calls if c[1] == "add_note"]


@pytest.mark.parametrize("ico", ["٢٥٥٩٦٦٤١", "²5596641", "２５５９６６４１"])
def test_an_ico_in_other_digits_is_refused(client, rpc, ico):
    response = client.post("/api/v1/clients", json={"ico": ico}, headers=AUTH)
    assert response.status_code == 422
    assert [e["field"] for e in response.json["errors"]] == ["ico"]
    assert rpc.calls == []


# -- the client card ------------------------------------------------------------------

PARENT = dict(CLIENT, id="p-1", name="Holding a.s.")
NOTHING = {"items": [], "next_cursor": None}


def card_answers(rpc, client=None, parent=PARENT):
    """What each service's `card` RPC answers for the card of CLIENT."""
    rpc.answers[("clients", "card")] = {
        "client": client or dict(CLIENT, parent_id=parent and parent["id"]),
        "parent": parent, "contacts": {"items": [{"id": "k1"}], "next_cursor": None},
        "subsidiaries": NOTHING}
    rpc.answers[("activities", "card")] = {
        "timeline": {"items": [{"id": "t1"}], "next_cursor": "c"},
        "open_tasks": {"items": [{"id": "task-1"}], "next_cursor": None}}
    rpc.answers[("deals", "card")] = {
        "open_deals": {"items": [{"id": "d1"}], "next_cursor": None},
        "closed_deals": NOTHING,
        "deal_summary": {"client_id": CLIENT["id"], "open_count": 1}}


def test_the_card_brings_every_section_together_one_call_per_service(client, rpc):
    card_answers(rpc)
    response = client.get(f"/api/v1/clients/{CLIENT['id']}/card", headers=AUTH)
    assert response.status_code == 200, response.json
    card = response.json
    assert sorted((c[0], c[1]) for c in rpc.calls) == [
        ("activities", "card"), ("clients", "card"), ("deals", "card")]
    assert rpc.called("activities", "card")[0][2] == {
        "client_id": CLIENT["id"], "timeline_limit": 10, "tasks_limit": 10}
    assert rpc.called("deals", "card")[0][2] == {"client_id": CLIENT["id"], "limit": 10}
    assert card["client"]["id"] == CLIENT["id"]
    assert card["parent"] == {"status": "ok", "client": PARENT}
    assert card["contacts"] == {"status": "ok", "items": [{"id": "k1"}], "next_cursor": None}
    assert card["subsidiaries"] == dict(NOTHING, status="ok")
    assert card["timeline"] == {"status": "ok", "items": [{"id": "t1"}], "next_cursor": "c"}
    assert card["open_tasks"]["items"] == [{"id": "task-1"}]
    assert card["open_deals"] == {"status": "ok", "items": [{"id": "d1"}], "next_cursor": None}
    assert card["closed_deals"] == dict(NOTHING, status="ok")
    assert card["deal_summary"] == {"status": "ok", "client_id": CLIENT["id"], "open_count": 1}


def test_a_service_that_does_not_answer_leaves_its_sections_unavailable(client, rpc):
    card_answers(rpc, parent=None)
    rpc.answers[("activities", "card")] = RpcTimeout("activities.card")
    rpc.answers[("deals", "card")] = RemoteError("ServiceUnavailable", "database", [])
    response = client.get(f"/api/v1/clients/{CLIENT['id']}/card", headers=AUTH)
    assert response.status_code == 200
    card = response.json
    for name in ("timeline", "open_tasks", "open_deals", "closed_deals", "deal_summary"):
        assert card[name] == {"status": "unavailable"}, name
    assert card["parent"] == {"status": "ok", "client": None}
    assert card["contacts"]["status"] == "ok"


def test_the_card_of_a_merged_client_points_to_the_one_it_went_into(client, rpc):
    survivor = "6c1f3b0e-0000-4000-8000-000000000002"
    rpc.answers[("clients", "card")] = {"client": dict(CLIENT, merged_into=survivor)}
    response = client.get(f"/api/v1/clients/{CLIENT['id']}/card", headers=AUTH)
    assert response.status_code in (301, 308), response.json
    assert response.headers["Location"].endswith(f"/api/v1/clients/{survivor}/card")


def test_a_clients_service_that_does_not_answer_is_an_error_showing_no_section(client, rpc):
    card_answers(rpc)
    rpc.answers[("clients", "card")] = RpcTimeout("clients.card")
    response = client.get(f"/api/v1/clients/{CLIENT['id']}/card", headers=AUTH)
    assert response.status_code == 504 and response.mimetype == PROBLEM
    assert "t1" not in response.get_data(as_text=True)  # nothing of the other services


OLDER = RemoteError("MethodNotFound", "card", [])  # a replica of the release before


def per_section_answers(rpc, parent=PARENT):
    """What the release before the `card` RPCs answers, one call per section."""
    rpc.answers[("clients", "get")] = lambda client_id: \
        parent if parent and client_id == parent["id"] else \
        dict(CLIENT, parent_id=parent and parent["id"])
    rpc.answers[("clients", "list_contacts")] = {"items": [{"id": "k1"}], "next_cursor": None}
    rpc.answers[("clients", "subsidiaries")] = NOTHING
    rpc.answers[("activities", "timeline")] = {"items": [{"id": "t1"}], "next_cursor": "c"}
    rpc.answers[("activities", "tasks")] = {"items": [{"id": "task-1"}], "next_cursor": None}
    rpc.answers[("deals", "list")] = lambda filters, sort, limit: {
        "items": [{"id": "d1"}] if filters["status"] == "open" else [], "next_cursor": None}
    rpc.answers[("deals", "client_summary")] = {"client_id": CLIENT["id"], "open_count": 1}


def test_during_a_rolling_upgrade_older_services_are_asked_section_by_section(client, rpc):
    card_answers(rpc)
    newer = client.get(f"/api/v1/clients/{CLIENT['id']}/card", headers=AUTH).json
    for service in ("clients", "activities", "deals"):
        rpc.answers[(service, "card")] = OLDER
    per_section_answers(rpc)
    rpc.calls.clear()
    response = client.get(f"/api/v1/clients/{CLIENT['id']}/card", headers=AUTH)
    assert response.status_code == 200, response.json
    assert response.json == newer  # the same card whichever release answers
    assert [c[2]["query"] for c in rpc.called("activities", "tasks")] == [
        {"client_id": CLIENT["id"], "status": "open", "limit": 10}]
    assert sorted(c[2]["filters"]["status"] for c in rpc.called("deals", "list")) == [
        "closed", "open"]
    assert [c[2] for c in rpc.called("clients", "get")] == [
        {"client_id": CLIENT["id"]}, {"client_id": PARENT["id"]}]


def test_an_older_clients_service_leaves_a_failed_section_or_hidden_parent_alone(client, rpc):
    card_answers(rpc)
    rpc.answers[("clients", "card")] = OLDER
    per_section_answers(rpc)
    rpc.answers[("clients", "get")] = lambda client_id: dict(CLIENT, parent_id="p-1") \
        if client_id == CLIENT["id"] else (_ for _ in ()).throw(
            RemoteError("NotFound", "client p-1 does not exist", []))
    rpc.answers[("clients", "subsidiaries")] = RpcTimeout("clients.subsidiaries")
    card = client.get(f"/api/v1/clients/{CLIENT['id']}/card", headers=AUTH).json
    assert card["parent"] == {"status": "ok", "client": None}
    assert card["subsidiaries"] == {"status": "unavailable"}
    assert card["contacts"]["status"] == card["timeline"]["status"] == "ok"
    rpc.answers[("clients", "get")] = RemoteError("NotFound", "client x does not exist", [])
    assert client.get(f"/api/v1/clients/{CLIENT['id']}/card", headers=AUTH).status_code == 404


def test_the_card_of_a_missing_client_is_404(client, rpc):
    rpc.answers[("clients", "card")] = RemoteError("NotFound", "client x does not exist", [])
    response = client.get(f"/api/v1/clients/{MISSING_ID}/card", headers=AUTH)
    assert response.status_code == 404 and response.mimetype == PROBLEM


def test_search_filters_and_sort_reach_the_service_and_the_next_link(client, rpc):
    rpc.answers[("clients", "list")] = {"items": [], "next_cursor": "n1", "total": 0}
    response = client.get(
        "/api/v1/clients?q=zlutoucky%20kun&tag=VIP&tag=Praha&relationship=customer"
        "&cf.segment=B2B&sort=-name&include_total=true&vat_payer=true"
        "&created_after=2026-01-01T00:00:00%2B01:00", headers=AUTH)
    assert response.status_code == 200 and response.json["total"] == 0
    sent = rpc.calls[0][2]
    assert sent["q"] == "zlutoucky kun" and sent["sort"] == "-name"
    assert sent["include_total"] is True
    assert sent["filters"] == {"relationship": "customer", "vat_payer": True,
                               "custom_fields": {"segment": "B2B"}, "tags": ["VIP", "Praha"],
                               "created_after": "2026-01-01T00:00:00+01:00"}
    link = response.headers["Link"]
    for part in ("q=zlutoucky+kun", "tag=VIP", "tag=Praha", "cf.segment=B2B", "sort=-name",
                 "include_total=true", "cursor=n1"):
        assert part in link


@pytest.mark.parametrize("query", ["colour=red", "sort=ico", "q=", "cf.Bad-Key=x",
                                   "vat_payer=maybe", "created_after=0001-01-01T00:00:00%2B14:00",
                                   "q=%00", "relationship=friend"])
def test_unknown_or_bad_list_parameters_are_422(client, rpc, query):
    response = client.get(f"/api/v1/clients?{query}", headers=AUTH)
    assert response.status_code == 422, response.json
    assert rpc.called("clients", "list") == []


def _two_pages(limit, cursor=None, **_):
    first = dict(CLIENT, name="=HYPERLINK(\"http://zlo.example\")", tags=["VIP", "Praha"],
                 vat_payer=True, registered_address={"city": "Praha"})
    second = dict(CLIENT, id="6c1f3b0e-0000-4000-8000-000000000002", name="Dvořák; a syn",
                  ico=None)
    if limit == 1:
        return {"items": [first], "next_cursor": "c1"}
    return {"items": [first], "next_cursor": "c1"} if cursor is None else \
        {"items": [second], "next_cursor": None}


def test_export_csv_streams_every_page_with_a_bom_semicolons_and_no_formulas(client, rpc):
    import csv
    import io
    rpc.answers[("clients", "list")] = _two_pages
    response = client.get("/api/v1/clients/export?tag=VIP&columns=name&columns=ico"
                          "&columns=tags&columns=vat_payer&columns=city", headers=AUTH)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["Název", "IČO", "Štítky", "Plátce DPH", "Město"],
                    ["'=HYPERLINK(\"http://zlo.example\")", "25596641", "VIP, Praha", "ano",
                     "Praha"],
                    ["Dvořák; a syn", "", "", "", ""]]
    assert rpc.calls[-1][2]["filters"] == {"tags": ["VIP"]}
    assert rpc.calls[-1][2]["fields"] == ["name", "ico", "tags", "vat_payer",
                                          "registered_address", "contact_address"]


def test_export_xlsx_opens_in_openpyxl_with_english_headers(client, rpc):
    import io
    from openpyxl import load_workbook
    rpc.answers[("clients", "list")] = _two_pages
    response = client.get("/api/v1/clients/export?format=xlsx&lang=en", headers=AUTH)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["Name", "Company ID", "VAT ID"]
    assert rows[1][0] == "'=HYPERLINK(\"http://zlo.example\")"
    assert len(rows) == 3


@pytest.mark.parametrize("query", ["format=pdf", "columns=password", "lang=de",
                                   "delimiter=tab", "colour=red"])
def test_a_bad_export_is_422_before_any_file(client, rpc, query):
    response = client.get(f"/api/v1/clients/export?{query}", headers=AUTH)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
