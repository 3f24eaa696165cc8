"""schemathesis against the gateway's own OpenAPI document (`/api/openapi.json`), every
service running on a real RabbitMQ (SQLite databases, the fake ARES).

For every operation, whatever schemathesis generates from the document (valid requests and
requests that break it, boundary values, unsupported methods):
- no 5xx;
- the answer conforms to the document: a status code the operation lists (the document's
  catch-all `default` does not count), its content type, its body, its headers;
- a request the document calls valid is accepted (anything but 400/422), and one it calls
  invalid is refused.

Path parameters are real records some of the time: clients, contact persons and custom
field definitions are made first, and about two in three generated ids are replaced by one
of theirs (`_real_ids`), so the operations are tested past their 404.

A few rules the document cannot state are made true of the valid requests before they are
sent (`_semantically_valid`): check digits (IČO, DIČ, bank accounts), phone numbers that
exist, custom field keys defined at run time, references to records that exist.

Deterministic: a fixed seed, derandomised, no example database; bounded examples.
"""
import itertools
import json
import os
import re
import zlib
from urllib.parse import urlencode

import pytest
import requests
import schemathesis
from schemathesis import CheckContext, Config, Response
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from stdnum.cz.dic import calc_check_digit_legal

from crm_common.testing import (TEST_ADMIN_TOKEN, create_vhost, database_env, delete_vhost,
                                start_stack, wait_until)

# under xdist (make test) each worker takes a share of the operations, on a stack of its own
pytestmark = pytest.mark.spread

AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
SAD = "25063677"  # an IČO the fake ARES serves
# the same examples on every run (CI and local alike); give another seed, or more
# examples, to explore: CRM_SCHEMATHESIS_SEED=7 CRM_SCHEMATHESIS_EXAMPLES=300 pytest ...
SEED = int(os.environ.get("CRM_SCHEMATHESIS_SEED", "20250601"))
MAX_EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "50"))
# valid for whatever their field says, picked by the generated value
PHONES = ("603 111 222", "+420 724 000 111", "00421 905 123 456", "+49 30 901820")
ACCOUNTS = ("19-2000145399/0800", "2000145399/0800", "CZ6508000000192000145399",
            "DE89370400440532013000")
DICS = ("CZ25596641", "CZ25063677", "DE136695976", "SK2020317068")

CONFIG = Config.from_dict({
    "seed": SEED,
    "generation": {
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
        # the databases refuse NUL in text, and the API says so (422) for any text field;
        # the document does not repeat it for each of them
        "allow-x00": False,
    },
    # the bootstrap admin token of the stack; the ignored_auth check still tries each
    # operation without it, and with a wrong one
    "auth": {"openapi": {"bearerAuth": {"bearer": TEST_ADMIN_TOKEN}}},
    "phases": {"stateful": {"enabled": False}},
    "checks": {
        # a stale If-Match (412) is a valid request refused for the record's state, as a
        # conflict (409) is
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]},
    },
})


@pytest.fixture(scope="module")
def stack(amqp_uri, tmp_path_factory):
    # a vhost of its own: the ARES lookups of generated clients still queued at the end must
    # not reach the stacks started after it (in the same xdist worker, on the same vhost)
    uri, vhost = create_vhost("crm-openapi")
    tmp = tmp_path_factory.mktemp("openapi")
    stack = start_stack(tmp, uri, database_env("sqlite", tmp))
    yield stack
    stack.stop()
    delete_vhost(vhost)


def _api(stack, method, path, **kwargs):
    response = requests.request(method, stack.url + path, headers=AUTH, timeout=30, **kwargs)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def records(stack) -> dict:
    """Real records for the path parameters ({parameter: [ids]}) and a real cursor of
    each list that pages (`cursors`: {path: cursor})."""
    clients = [_api(stack, "POST", "/api/v1/clients", json=body)["id"] for body in (
        {"name": "Dvořák a syn s.r.o.", "phones": [{"value": "603 111 222"}]},
        {"ico": SAD},
        {"name": "Dvořák Morava s.r.o."},
        {"kind": "person", "name": "Jana Nováková", "email": "jana@example.cz"},
        {"kind": "person", "name": "Petr Svoboda"},
    )]
    for subsidiary in clients[1:3]:
        _api(stack, "PATCH", f"/api/v1/clients/{subsidiary}", json={"parent_id": clients[0]})
    contacts, notes = [], []
    for client_id in clients[:2]:
        for first, last in (("Eva", "Malá"), ("Karel", "Velký")):
            contacts.append(_api(stack, "POST", f"/api/v1/clients/{client_id}/contacts",
                                 json={"first_name": first, "last_name": last})["id"])
        notes.append(_api(stack, "POST", f"/api/v1/clients/{client_id}/notes",
                          json={"title": "Schůzka", "body": "Probrali jsme ceník."})["id"])
    # files on a client and on a note; some for the operation that deletes them
    attachments = [_api(stack, "POST", path, files={"file": (
        "Zápis – ceník.pdf", b"%PDF-1.4\n")})["id"] for path in (
            f"/api/v1/clients/{clients[0]}/attachments",
            f"/api/v1/activities/{notes[0]}/attachments")]
    doomed_attachments = [_api(stack, "POST", f"/api/v1/clients/{clients[1]}/attachments",
                               files={"file": (f"{n}.txt", b"x")})["id"] for n in range(4)]
    # for the operations that delete or erase a contact person: the others keep theirs
    victims = [_api(stack, "POST", f"/api/v1/clients/{clients[2]}/contacts",
                    json={"last_name": f"Dočasný {n}"})["id"] for n in range(4)]
    # for merges: the seeded clients stay as they are
    duplicates = [_api(stack, "POST", "/api/v1/clients", json={"name": f"Duplikát {n}"})["id"]
                  for n in range(6)]
    pipelines = _api(stack, "GET", "/api/v1/pipelines")["items"]
    stages = [stage["id"] for stage in pipelines[0]["stages"]]
    # a pipeline whose stages the operations that remove stages may take
    spare = _api(stack, "POST", "/api/v1/pipelines", json={"name": "Obnovy", "stages": [
        {"name": f"Krok {n}"} for n in range(8)]})
    deals = [_api(stack, "POST", "/api/v1/deals", json={
        "title": f"Zakázka {n}", "client_id": clients[n % 2], "value": "1000.50",
        "stage_id": stages[n % len(stages)]})["id"] for n in range(4)]
    doomed_deals = [_api(stack, "POST", "/api/v1/deals", json={
        "title": f"Ke smazání {n}", "client_id": clients[0]})["id"] for n in range(4)]
    reasons = _api(stack, "GET", "/api/v1/lost-reasons")["items"]
    definitions = [_api(stack, "POST", "/api/v1/custom-fields", json=body)["id"] for body in (
        {"key": "erp_code", "label": "ERP", "type": "text", "applies_to": "client"},
        {"key": "segment", "label": "Segment", "type": "choice", "choices": ["A", "B"],
         "applies_to": "contact"},
    )]
    # the register's answer arrives through events: wait until it is in, so that the
    # clients change no more while they are tested
    wait_until(lambda: _api(stack, "GET", f"/api/v1/clients/{clients[1]}")["registry"][
        "status"] != "pending", timeout=30, what="the ARES data of the seeded client")
    cursors = {}
    for path in ("/api/v1/clients", "/api/v1/clients/{client_id}/subsidiaries",
                 "/api/v1/clients/{client_id}/contacts", "/api/v1/clients/{client_id}/history",
                 "/api/v1/clients/{client_id}/timeline"):
        page = _api(stack, "GET", path.format(client_id=clients[0]) + "?limit=1")
        assert page["next_cursor"], path
        cursors[path] = page["next_cursor"]
    users = [_api(stack, "POST", "/api/v1/users", json={
        "email": f"user{n}@firma.example", "name": f"Uživatel {n}", "role": role,
        "password": "Heslo-pro-schemathesis-1"})["id"] for n, role in enumerate(
            ("sales", "manager"))]
    tokens = [_api(stack, "POST", "/api/v1/tokens", json={
        "name": "seed", "user_id": users[0], "scopes": ["read"]})["id"]]
    notes = [_api(stack, "POST", f"/api/v1/clients/{clients[n % 2]}/activities", json={
        "type": "note", "title": f"Poznámka {n}"})["id"] for n in range(3)]
    doomed_notes = [_api(stack, "POST", f"/api/v1/clients/{clients[0]}/activities", json={
        "type": "note", "title": f"Ke smazání {n}"})["id"] for n in range(4)]
    tasks = [_api(stack, "POST", f"/api/v1/clients/{clients[0]}/activities", json={
        "type": "task", "title": f"Úkol {n}", "due_date": "2026-12-01"})["id"]
        for n in range(3)]
    plans = [_api(stack, "POST", "/api/v1/activity-plans", json={
        "name": "Onboarding", "steps": [{"title": "Hovor", "due_in_days": 1}]})["id"]]
    templates = [_api(stack, "POST", "/api/v1/import-templates", json={
        "name": f"Šablona {n}", "mapping": {"Název": "name", "IČO": "ico"}})["id"]
        for n in range(5)]
    imports = [_api(stack, "POST", "/api/v1/imports", files={"file": (
        "klienti.csv", "Název;IČO\nImportovaná s.r.o.;\n".encode())}, data=form)["id"]
        for form in ({}, {"dry_run": "true"})]
    feed_token, _ = _calendar_feed(stack, users[0])
    reader = _api(stack, "POST", "/api/v1/users", json={
        "email": "kalendar@firma.example", "name": "Kalendář", "role": "readonly"})["id"]
    _, reader_auth = _calendar_feed(stack, reader)
    # the register's: a refresh job, and the people of the client with an IČO
    jobs = [_api(stack, "POST", "/api/v1/registry-refresh", json={
        "client_ids": clients[:2]})["id"]]
    people = _api(stack, "GET", f"/api/v1/clients/{clients[1]}/registry/people")["items"]
    return {"job_id": jobs, "registered": clients[1:2],
            "people_keys": [person["key"] for person in people],
            "feed_token": feed_token, "feed_victims": users[1:], "feed_owner": reader_auth,
            "client_id": clients, "contact_id": contacts, "definition_id": definitions,
            "user_id": users, "token_id": tokens, "cursors": cursors, "victims": victims,
            "duplicates": duplicates, "deal_id": deals, "pipeline_id": [pipelines[0]["id"]],
            "stage_id": stages, "spare_stages": [st["id"] for st in spare["stages"]],
            "doomed_deals": doomed_deals, "reason_id": [r["id"] for r in reasons],
            "lost_reasons": [r["label"] for r in reasons], "activity_id": notes,
            "doomed_notes": doomed_notes, "task_id": tasks, "plan_id": plans,
            "attachment_id": attachments, "doomed_attachments": doomed_attachments,
            "import_id": imports, "template_id": templates[:2],
            "doomed_templates": templates[2:]}


def _calendar_feed(stack, user_id: str) -> tuple[str, str]:
    """(a feed token, an Authorization header) of a real user (the bootstrap token is
    nobody: it has no calendar)."""
    token = _api(stack, "POST", "/api/v1/tokens", json={
        "name": "calendar", "user_id": user_id, "scopes": ["calendar:write"]})["token"]
    made = requests.post(stack.url + "/api/v1/calendar/feed", timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201, made.text
    return made.json()["token"], f"Bearer {token}"


def _document() -> dict:
    """The document as the gateway serves it (made by the gateway's own code, here, so
    that pytest can collect one test per operation before anything runs;
    `test_the_document_tested_is_the_one_served` checks it is the served one)."""
    from crm_gateway import create_app
    app = create_app({"CRM_BOOTSTRAP_ADMIN_TOKEN": TEST_ADMIN_TOKEN, "RPC": object()})
    return app.test_client().get("/api/openapi.json").get_json()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def test_the_document_tested_is_the_one_served(stack):
    assert requests.get(stack.url + "/api/openapi.json", timeout=10).json() == DOCUMENT


KEYS = itertools.count()
# the HTTP client's to write: a malformed one ("Content-Length: um") is refused by gunicorn
# before the API, as problem details (tests/e2e/test_flows.py), whatever the operation
FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "te",
           "upgrade", "trailer"}
UNKNOWN_HEADER = "x-schemathesis-unknown-property"
MAX_QUERY = 7000  # of gunicorn's request line of at most 8190 (GATEWAY_LIMIT_REQUEST_LINE)


@schema.parametrize()
def test_every_operation_answers_as_documented(case, stack, records):
    valid = {location: not (case.meta and case.meta.is_negative_at(location))
             for location in ParameterLocation}
    if valid[ParameterLocation.PATH]:
        _real_ids(case, records)
    if valid[ParameterLocation.BODY]:
        _semantically_valid(case, records)
    if valid[ParameterLocation.QUERY] and "cursor" in (case.query or {}):
        # a cursor is one the API handed out (a made-up one is a 422)
        cursor = records["cursors"].get(case.operation.path)
        if cursor:
            case.query["cursor"] = cursor
            for name in ("q", "sort"):  # it belongs to the order it was made in: the default
                case.query.pop(name, None)
        else:
            del case.query["cursor"]
    if valid[ParameterLocation.QUERY] and "move_to" in (case.query or {}):
        # where a removed stage's deals go: another stage of the same pipeline
        case.query["move_to"] = next(stage for stage in records["spare_stages"]
                                     if stage != (case.path_parameters or {}).get("stage_id"))
    if all(valid.values()) and case.operation.path == CALENDAR:
        # a calendar app's request: a real feed token most of the time (else the bootstrap
        # token's, which is nobody's calendar: 404); never in a request generated invalid,
        # whose credentials schemathesis takes for made up
        token = _pick(case.query or {}, [None, records["feed_token"], records["feed_token"]])
        if token:
            case.query = {**(case.query or {}), "token": token}
    if all(valid.values()) and case.operation.path == CALENDAR_FEED:
        # one's own feed token: a user's (not the one whose feed token the test uses)
        case.headers = {**(case.headers or {}), "Authorization": records["feed_owner"]}
    if valid[ParameterLocation.HEADER]:
        _valid_headers(case)
    for name in list(case.headers or {}):
        if name.lower() in FRAMING:
            del case.headers[name]
    if len(urlencode(case.query or {}, doseq=True)) > MAX_QUERY:
        return  # gunicorn refuses so long a request line itself (414), before the API

    # a request generated invalid is never held to being accepted, whatever schemathesis
    # makes of it once the token is added to its headers
    excluded = [] if all(valid.values()) else [positive_data_acceptance]
    if case.operation.path == "/api/v1/imports" and case.media_type == "multipart/form-data" \
            or not valid[ParameterLocation.HEADER] and UNKNOWN_HEADER in {
                name.lower() for name in case.headers or {}}:
        # HTTP lets a client send headers the API does not know: no reason to refuse; and
        # an import's form fields are text whatever type a mutation gives them (a "number"
        # mode arrives as text and is checked as one: the refusals are tested in
        # tests/e2e/test_imports.py)
        excluded.append(negative_data_rejection)
    case.call_and_validate(base_url=stack.url, additional_checks=[documented_status],
                           excluded_checks=excluded)


def _valid_headers(case):
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str):
        # the same key with another request is a 422: one key per request
        case.headers["Idempotency-Key"] = f"{key[:180]}-{next(KEYS)}"
    # the coverage phase's "every optional header" case sends "0" for each, whatever its
    # pattern says, and calls that valid: such a header is left out instead
    for parameter in case.operation.definition.raw.get("parameters", []):
        if parameter.get("in") == "header" and parameter["name"] in (case.headers or {}):
            pattern = parameter.get("schema", {}).get("pattern")
            if pattern and not re.search(pattern, str(case.headers[parameter["name"]])):
                del case.headers[parameter["name"]]


def _pick(value, choices):
    """One of `choices`, the same for the same generated value (so runs repeat)."""
    return choices[zlib.crc32(json.dumps(value, sort_keys=True, default=str).encode())
                   % len(choices)]


DESTRUCTIVE = {("DELETE", "/api/v1/contacts/{contact_id}"),
               ("POST", "/api/v1/contacts/{contact_id}/erase")}
# what these operations take away comes from records made for them
TAKEN = {("DELETE", "/api/v1/stages/{stage_id}"): "spare_stages",
         ("DELETE", "/api/v1/deals/{deal_id}"): "doomed_deals",
         ("DELETE", "/api/v1/activities/{activity_id}"): "doomed_notes",
         ("DELETE", "/api/v1/users/{user_id}/calendar-feed"): "feed_victims",
         ("DELETE", "/api/v1/attachments/{attachment_id}"): "doomed_attachments",
         ("DELETE", "/api/v1/import-templates/{template_id}"): "doomed_templates",
         # the register's endpoints need a client with an IČO (else a 422)
         ("POST", "/api/v1/clients/{client_id}/registry-refresh"): "registered",
         ("GET", "/api/v1/clients/{client_id}/registry/people"): "registered",
         ("POST", "/api/v1/clients/{client_id}/registry/people"): "registered"}
CALENDAR = "/api/v1/calendar.ics"
CALENDAR_FEED = "/api/v1/calendar/feed"

CURRENCIES = ("CZK", "EUR", "USD")
MERGE = "/api/v1/clients/{client_id}/merge"


def _real_ids(case, records):
    """About two in three path ids become a real record's (the rest stay as generated:
    mostly a 404)."""
    destructive = (case.method.upper(), case.operation.path) in DESTRUCTIVE
    for name, value in list((case.path_parameters or {}).items()):
        taken = TAKEN.get((case.method.upper(), case.operation.path))
        ids = records["victims"] if destructive else records["duplicates"] \
            if case.operation.path == MERGE else records[taken] if taken else records.get(name)
        if ids and isinstance(value, str):
            choice = _pick(value, [None, *ids, *ids])
            if choice is not None:
                case.path_parameters[name] = choice


def _semantically_valid(case, records):
    body = case.body
    path = case.operation.path
    if case.media_type == "multipart/form-data" and path == "/api/v1/imports" and \
            isinstance(body, dict):
        # an import's options: the mapping is JSON text, a template one that exists
        if "mapping" in body:
            body["mapping"] = json.dumps({"Název": "name"})
        if "template_id" in body:
            body["template_id"] = _pick(body["template_id"], records["template_id"])
    if not isinstance(body, (dict, list)) or case.media_type == "multipart/form-data":
        return  # an upload: any bytes under any file name are a file (and not JSON)
    # the coverage phase does not keep to `allow-x00`: its NUL characters become "␀"
    case.body = body = json.loads(json.dumps(body).replace("\\u0000", "\u2400"))
    if not isinstance(body, dict):
        return
    if path.startswith("/api/v1/import-templates") and isinstance(body.get("mapping"), dict):
        # headings are 1 to 255 characters (no keyword of the document says so of keys)
        body["mapping"] = {key: value for key, value in body["mapping"].items()
                           if 0 < len(key) <= 255} or {"Název": "name"}
    if path in ("/api/v1/clients", "/api/v1/clients/{client_id}"):
        _client_fields(body, records)
    elif path == "/api/v1/clients/batch":
        for item in body.get("items") or []:
            if isinstance(item, dict):
                _client_fields(item, records)
    elif path in ("/api/v1/clients/{client_id}/contacts", "/api/v1/contacts/{contact_id}"):
        _custom_fields(body, "contact")
        if path == "/api/v1/contacts/{contact_id}" and not any(
                _written(body.get(name)) for name in ("first_name", "last_name")):
            for name in ("first_name", "last_name"):
                if name in body:  # a contact keeps one of its names, whatever it had
                    body[name] = "Nová"
        for entry in body.get("phones") or []:
            if isinstance(entry, dict) and "value" in entry:
                entry["value"] = _pick(entry["value"], PHONES)
        if isinstance(body.get("contact_id"), str):
            body["contact_id"] = _pick(body["contact_id"], records["contact_id"])
    elif path in ("/api/v1/deals", "/api/v1/deals/{deal_id}"):
        _deal_fields(body, records)
    elif path == "/api/v1/deals/{deal_id}/lost" and isinstance(body.get("reason"), str):
        body["reason"] = _pick(body["reason"], records["lost_reasons"])
    elif path == "/api/v1/pipelines" and isinstance(body.get("stages"), list):
        for number, stage in enumerate(body["stages"]):  # names differ within a pipeline
            if isinstance(stage, dict) and isinstance(stage.get("name"), str):
                stage["name"] = f"{stage['name'][:100]} {number}"
    elif path in ("/api/v1/clients/{client_id}/activities",
                  "/api/v1/deals/{deal_id}/activities"):
        _activity_fields(body, body.get("type"))
    elif path == "/api/v1/activities/{activity_id}":
        _activity_fields(body, "note")  # the seeded entries are notes
    elif path in ("/api/v1/activity-plans", "/api/v1/activity-plans/{plan_id}"):
        for step in body.get("steps") or []:
            if isinstance(step, dict) and step.get("assignee") not in (None, "author"):
                step["assignee"] = "owner"  # or a user that exists
        body.pop("active", None)  # a retired plan is not applied: the seeded one stays
    elif path in ("/api/v1/clients/{client_id}/plans", "/api/v1/deals/{deal_id}/plans"):
        if isinstance(body.get("plan_id"), str):
            body["plan_id"] = records["plan_id"][0]
    elif path == "/api/v1/clients/{client_id}/registry/people" and \
            isinstance(body.get("keys"), list) and records["people_keys"]:
        # keys of people the register lists (another is a 422 naming it)
        body["keys"] = [_pick(key, records["people_keys"]) for key in body["keys"]]
    elif path == MERGE and isinstance(body.get("source_id"), str):
        body["source_id"] = _pick(body["source_id"], records["duplicates"])
    elif path == "/api/v1/tokens":
        body["user_id"] = _pick(str(body.get("user_id")), records["user_id"])  # the
        # bootstrap token is nobody: a token needs a user that exists and is active
    elif path == "/api/v1/users/{user_id}" and body.get("active") is False:
        case.path_parameters["user_id"] = records["user_id"][1]  # never the seeded user
        # whose token the test keeps
    elif path == "/api/v1/custom-fields" and body.get("required") is True:
        body["required"] = False  # a required field would refuse later records of its kind
    elif path == "/api/v1/custom-fields/{definition_id}" and (
            "choices" in body or body.get("required") is True):
        # choices are for a choice field, and a required field for contacts would refuse
        # later contacts: the seeded `segment` (a choice field for contacts) takes them
        case.path_parameters["definition_id"] = records["definition_id"][1]


def _written(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _client_fields(body: dict, records):
    ico = "".join(body["ico"].split()) if isinstance(body.get("ico"), str) else None
    if ico and ico.isascii() and ico.isdigit():
        digits = ico.zfill(8)[:7]
        body["ico"] = digits + calc_check_digit_legal(digits)
    if isinstance(body.get("dic"), str) and body["dic"].strip():
        body["dic"] = _pick(body["dic"], DICS)
    if isinstance(body.get("phone"), str):
        body["phone"] = _pick(body["phone"], PHONES)
    for entry in body.get("phones") or []:
        if isinstance(entry, dict) and "value" in entry:
            entry["value"] = _pick(entry["value"], PHONES)
    accounts = body.get("bank_accounts") or []
    for index, account in enumerate(accounts):
        if isinstance(account, dict) and "number" in account:
            account["number"] = _pick(account["number"], ACCOUNTS)
            if index:
                account.pop("primary", None)  # at most one primary
    if isinstance(body.get("parent_id"), str):
        body["parent_id"] = _pick(body["parent_id"], records["client_id"][:2])
    _custom_fields(body, "client")


def _deal_fields(body: dict, records):
    """A real client and stage; an amount with the places its currency has."""
    if isinstance(body.get("client_id"), str):
        body["client_id"] = _pick(body["client_id"], records["client_id"][:3])
    if isinstance(body.get("stage_id"), str):
        body["stage_id"] = _pick(body["stage_id"], records["stage_id"])
        body.pop("pipeline_id", None)  # the stage's own
    elif isinstance(body.get("pipeline_id"), str):
        body["pipeline_id"] = records["pipeline_id"][0]
    if isinstance(body.get("currency"), str):
        body["currency"] = _pick(body["currency"], CURRENCIES)
    if isinstance(body.get("value"), str):
        body["value"] = body["value"].split(".")[0] + ".50"
    if "custom_fields" in body:
        body["custom_fields"] = {}  # none are defined for deals
    body.pop("contact_id", None)  # one of the deal's client's contact persons, or none


ACTIVITY_FIELDS = {"note": (), "meeting": ("starts_at", "ends_at", "place", "outcome",
                                           "follow_up"),
                   "call": ("direction", "phone", "duration_seconds", "outcome"),
                   "email": ("direction", "from", "to", "cc", "message_id", "subject"),
                   "task": ("due_date", "due_at", "priority", "status", "description")}
CALL_OUTCOMES = ("connected", "no_answer", "busy", "voicemail", "wrong_number")


def _activity_fields(body: dict, entry_type):
    """The fields of the entry's type (the document lists every type's), each as that type
    needs it; no links (the deal, contact persons, attendees, assignee must be the
    client's or real users: the e2e tests try them)."""
    if entry_type not in ACTIVITY_FIELDS:
        return
    for name in list(body):
        if name not in ("type", "title", "body", "occurred_at", *ACTIVITY_FIELDS[entry_type]):
            del body[name]
    for alias, name in (("subject", "title"), ("description", "body")):
        if alias in body and name in body:
            del body[alias]
    if entry_type == "meeting":
        body["starts_at"] = "2026-03-02T09:00:00Z"
        if "ends_at" in body:
            body["ends_at"] = "2026-03-02T10:00:00Z"
    elif entry_type == "call":
        body["direction"] = body.get("direction") or "inbound"
        if body.get("phone") is not None:
            body["phone"] = _pick(body["phone"], PHONES)
        if body.get("outcome") is not None:
            body["outcome"] = _pick(body["outcome"], CALL_OUTCOMES)
    elif entry_type == "email":
        body["to"] = body.get("to") or ["jan@example.cz"]
        if body.get("message_id") is not None:
            body["message_id"] = f"<{next(KEYS)}@conformance.example>"
    elif entry_type == "task":
        if not _written(body.get("title")) and not _written(body.get("subject")):
            body["title"] = "Úkol"
        if body.get("due_date") is not None and body.get("due_at") is not None:
            del body["due_at"]


def _custom_fields(body: dict, applies_to: str):
    """Custom fields are those defined: the seeded client text field `erp_code`."""
    values = body.get("custom_fields")
    if isinstance(values, dict):
        text = next((v for v in values.values() if isinstance(v, str)), None)
        body["custom_fields"] = {"erp_code": text[:2000]} if (
            applies_to == "client" and text is not None) else {}


def documented_status(ctx: CheckContext, response: Response, case) -> bool | None:
    """The status is one the operation lists itself: the catch-all `default` of the
    document does not make every status documented."""
    responses = case.operation.definition.raw.get("responses", {})
    status = str(response.status_code)
    if status in responses or f"{status[0]}XX" in responses:
        return True
    if case.method.upper() not in {"GET", "POST", "PATCH", "PUT", "DELETE"} or \
            case.operation.method.upper() != case.method.upper():
        return None  # an unsupported method (405) is the unsupported_method check's
    raise AssertionError(f"{case.method} {case.operation.path} answered {status}, which the "
                         f"document does not list for it ({', '.join(sorted(responses))})")
