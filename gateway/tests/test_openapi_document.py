"""The OpenAPI document says what the API does: what tests/e2e/test_openapi_conformance.py
(schemathesis on the whole stack) found where it did not, each pinned here."""
import re

import pytest
from gateway_support import AUTH, CLIENT, MISSING_ID
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from crm_common.rpc import RemoteError

PROBLEM = "application/problem+json"
METHODS = ("get", "post", "patch", "put", "delete")


@pytest.fixture
def spec(client):
    return client.get("/api/openapi.json").json


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _conforms(spec, component: str, body) -> bool:
    registry = Registry().with_resource("urn:crm:openapi", Resource.from_contents(
        spec, default_specification=DRAFT4))
    return OAS30Validator({"$ref": f"urn:crm:openapi#/components/schemas/{component}"},
                          registry=registry).is_valid(body)


# -- problems ---------------------------------------------------------------------------

def test_a_problem_may_carry_members_of_its_type_and_errors_omitted_is_documented(
        client, spec, rpc):
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["additionalProperties"] is True  # RFC 9457 extension members
    body = {"name": "x", **{f"unknown_{i}": i for i in range(150)}}
    answer = client.post("/api/v1/clients", json=body, headers=AUTH).json
    assert answer["errors_omitted"] == 50
    assert set(answer) <= set(problem["properties"])
    assert _conforms(spec, "Problem", answer)


# -- paths ------------------------------------------------------------------------------

def test_record_ids_are_documented_as_uuids(spec):
    parameters = [p for path, item in spec["paths"].items()
                  for p in item.get("parameters", []) if p["in"] == "path"]
    assert {p["name"] for p in parameters} == {"client_id", "contact_id", "definition_id",
                                                   "user_id", "token_id", "view_id",
                                                   "deal_id", "pipeline_id", "stage_id",
                                                   "reason_id", "activity_id", "task_id",
                                                   "plan_id", "attachment_id", "import_id",
                                                   "template_id", "job_id"}
    assert all(p["schema"] == {"type": "string", "format": "uuid"} for p in parameters)


@pytest.mark.parametrize("path, allowed", [
    ("/api/v1/clients/batch", {"POST", "OPTIONS"}),
    (f"/api/v1/clients/{CLIENT['id']}/contacts/vcard", {"GET", "HEAD", "OPTIONS"}),
])
def test_a_path_is_only_its_own_route(client, path, allowed):
    # `batch` was also a client id and `vcard` a contact id: OPTIONS offered GET and PATCH
    # of a client "batch", which the document does not have
    response = client.options(path, headers=AUTH)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == allowed


@pytest.mark.parametrize("path", ["/api/v1/clients/batch", "/api/v1/clients/x/card",
                                  "/api/v1/contacts/vcard", "/api/v1/clients/x/history"])
def test_what_is_no_id_is_404_without_asking_a_service(client, rpc, path):
    response = client.get(path, headers=AUTH)
    assert response.status_code in (404, 405) and response.mimetype == PROBLEM
    assert rpc.calls == []


def test_a_record_id_still_reaches_the_service_as_sent(client, rpc):
    upper = CLIENT["id"].upper()
    rpc.answers[("clients", "get")] = RemoteError("NotFound", f"client {upper}", [])
    assert client.get(f"/api/v1/clients/{upper}", headers=AUTH).status_code == 404
    assert rpc.calls[0][2] == {"client_id": upper}


# -- what each operation can answer -----------------------------------------------------

def test_every_write_with_an_idempotency_key_documents_its_refusals(spec):
    # a blank key is a 400, a key used before with another request a 422
    for path, method, operation in _operations(spec):
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
            assert {"400", "422"} <= set(operation["responses"]), (method, path)


def test_every_list_with_a_cursor_documents_the_422_of_a_cursor_it_never_gave(spec):
    for path, method, operation in _operations(spec):
        if any(p["name"] == "cursor" for p in operation.get("parameters", [])):
            assert "422" in operation["responses"], (method, path)


@pytest.mark.parametrize("path, method", [
    ("/api/v1/clients/{client_id}", "patch"),  # erased, or a parent cycle
    ("/api/v1/clients/{client_id}/archive", "post"),  # erased
    ("/api/v1/clients/{client_id}/restore", "post"),
    ("/api/v1/custom-fields/{definition_id}", "patch"),  # retired
])
def test_conflicts_are_documented(spec, path, method):
    assert "409" in spec["paths"][path][method]["responses"]


@pytest.mark.parametrize("path", ["history", "timeline"])
def test_a_made_up_cursor_is_a_documented_422(client, rpc, spec, path):
    rpc.answers[("clients", "get")] = CLIENT
    refused = RemoteError("ValidationFailed", "cursor", [{"cursor": ["Not a valid cursor."]}])
    rpc.answers[("clients", "history")] = rpc.answers[("activities", "timeline")] = refused
    response = client.get(f"/api/v1/clients/{CLIENT['id']}/{path}?cursor=@", headers=AUTH)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["errors"] == [{"field": "cursor", "message": "Not a valid cursor."}]
    assert "422" in spec["paths"][f"/api/v1/clients/{{client_id}}/{path}"]["get"]["responses"]


@pytest.mark.parametrize("header", ['W/"3"', '"3"', "*", ' W/"12" ', 'W/"3"\t', '3', 'W/3',
                                    '""', 'W/"x"', 'W/"1", W/"2"', '"\u00b2"',
                                    'W/"1234567890123456789"'])
def test_the_documented_if_match_is_what_the_gateway_takes(client, rpc, spec, header):
    rpc.answers[("clients", "archive")] = CLIENT
    parameter = next(p for p in spec["paths"]["/api/v1/clients/{client_id}/archive"]["post"][
        "parameters"] if p["name"] == "If-Match")
    documented = re.search(parameter["schema"]["pattern"], header) is not None
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/archive",
                           headers={**AUTH, "If-Match": header})
    assert (response.status_code != 400) == documented


@pytest.mark.parametrize("key, documented", [("k-1", True), (" k ", True), ("   ", False),
                                             ("k" * 201, False)])
def test_the_documented_idempotency_key_is_what_the_gateway_takes(client, rpc, spec, key,
                                                                  documented):
    rpc.answers[("clients", "create")] = CLIENT
    parameter = next(p for p in spec["paths"]["/api/v1/clients"]["post"]["parameters"]
                     if p["name"] == "Idempotency-Key")
    schema = parameter["schema"]
    assert (schema["minLength"] <= len(key) <= schema["maxLength"] and
            re.search(schema["pattern"], key) is not None) == documented
    response = client.post("/api/v1/clients", json={"name": "A"},
                           headers={**AUTH, "Idempotency-Key": key})
    assert (response.status_code != 400) == documented


# -- request bodies: a body the document calls valid is one the API takes ---------------

@pytest.mark.parametrize("component, body, valid", [
    # the clients service refuses both forms of one thing, and a client without a name
    ("ClientCreate", {"name": "A", "email": "a@b.cz", "emails": [{"value": "a@b.cz"}]}, False),
    ("ClientPatch", {"phone": "603111222", "phones": []}, False),
    ("ClientCreate", {"kind": "person"}, False),
    ("ClientCreate", {"ico": ""}, False),
    ("ClientCreate", {"ico": "25596641"}, True),
    ("ClientCreate", {"name": "   "}, False),
    # a nullable nested object is that object or null, not any object
    ("ClientCreate", {"name": "A", "contact_address": {"colour": "red"}}, False),
    ("ClientCreate", {"name": "A", "contact_address": None}, True),
    ("ClientCreate", {"name": "A", "website": "0@0.com"}, False),
    ("ClientCreate", {"name": "A", "website": "https://www.example.cz/o-nas"}, True),
    ("ClientCreate", {"name": "A", "website": "https://dvorak.example"}, True),
    ("ClientCreate", {"name": "A", "website": "http://xn--dvok-5qa.cz:8080/?q=1"}, True),
    # a note: a title, a body or both
    ("NoteCreate", {"title": "Zavolat zpět"}, True),
    ("NoteCreate", {"title": "", "body": None}, False),
    ("NoteCreate", {"body": "x", "occurred_at": "0272-07-02T15:36:02Z"}, False),
    # a contact: a new person with a name, or an existing one (and then only the link)
    ("ContactAdd", {"first_name": "", "last_name": ""}, False),
    ("ContactAdd", {"last_name": "Nová"}, True),
    ("ContactAdd", {"contact_id": CLIENT["id"], "first_name": "Jan"}, False),
    ("ContactAdd", {"contact_id": CLIENT["id"], "position": "CFO", "primary": True}, True),
    ("ContactPatch", {"first_name": "", "last_name": None}, False),
    ("ContactPatch", {"first_name": "Jan", "last_name": None}, True),
    # choices are for choice fields; not every type can be unique
    ("DefinitionCreate", {"key": "k", "label": "K", "type": "text", "applies_to": "client",
                          "choices": ["a"]}, False),
    ("DefinitionCreate", {"key": "k", "label": "K", "type": "choice", "applies_to": "client"},
     False),
    ("DefinitionCreate", {"key": "k", "label": "K", "type": "bool", "applies_to": "client",
                          "unique": True}, False),
    ("DefinitionCreate", {"key": "k", "label": "K", "type": "choice", "applies_to": "client",
                          "choices": ["a", "b"]}, True),
    ("DefinitionCreate", {"key": "k", "label": "K", "type": "choice", "applies_to": "client",
                          "choices": ["a", "a"]}, False),
    ("DefinitionPatch", {"choices": []}, False),
])
def test_the_document_states_the_rules_of_a_request(spec, component, body, valid):
    assert _conforms(spec, component, body) == valid


@pytest.mark.parametrize("path, method, body, field", [
    ("/api/v1/clients?ico=12a", "get", None, "ico"),
    ("/api/v1/clients?ico=123456789", "get", None, "ico"),
    (f"/api/v1/clients/{CLIENT['id']}/timeline?types=note,fax", "get", None, "types.1"),
    (f"/api/v1/clients/{CLIENT['id']}/timeline?types=", "get", None, "types"),
    ("/api/v1/clients", "post", {"name": "A", "billing": {"credit_limit": "J1"}},
     "billing.credit_limit"),
    ("/api/v1/clients", "post", {"name": "A", "website": "ftp://example.cz"}, "website"),
    (f"/api/v1/clients/{CLIENT['id']}", "patch",
     {"registry_overrides": ["name"] * 8}, "registry_overrides"),
    (f"/api/v1/custom-fields/{MISSING_ID}", "patch", {"choices": []}, "choices"),
    (f"/api/v1/clients/{CLIENT['id']}/notes", "post", {"body": "x" * 20001}, "body"),
])
def test_what_the_document_refuses_the_gateway_refuses_itself(client, rpc, path, method,
                                                              body, field):
    response = getattr(client, method)(path, headers=AUTH,
                                       **({"json": body} if body is not None else {}))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert field in response.json["fields"]
    assert rpc.calls == []


def test_a_batch_item_of_null_is_answered_in_place(client, rpc):
    rpc.answers[("clients", "create_many")] = lambda items, **_: [
        {"status": 201, "client": CLIENT} for _ in items]
    response = client.post("/api/v1/clients/batch", json={"items": [None, {"name": "A"}]},
                           headers=AUTH)
    assert response.status_code == 200
    assert [item["status"] for item in response.json["items"]] == [422, 201]
