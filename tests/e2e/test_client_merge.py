"""Merging a duplicate through the gateway, on both databases: values picked, contact
persons and timeline entries moved, the source's address redirecting, both histories, the
events valid against docs/events."""
import json
from pathlib import Path

import jsonschema
import pytest
import requests

from crm_common.testing import TEST_ADMIN_TOKEN, EventTap, wait_until

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request, small_stack, amqp_uri):
    stack = small_stack(request.param, ("clients", "activities"))
    tap = EventTap(amqp_uri, [("clients.events", "#")])
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {TEST_ADMIN_TOKEN}"

    def call(method, path, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return http.request(method, stack.url + "/api/v1" + path, timeout=30, **kwargs)
    call.tap = tap
    yield call
    tap.close()
    stack.stop()


def _create(api, **payload):
    answer = api("POST", "/clients", json=payload)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _timeline(api, client_id):
    answer = api("GET", f"/clients/{client_id}/timeline")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_merge_end_to_end(api):
    target = _create(api, name="Pekárna Novák s.r.o.", email="info@pekarna.cz",
                     relationship="customer")
    source = _create(api, name="Pekarna Novak", email="objednavky@pekarna.cz",
                     website="https://pekarna.cz")
    assert {d["id"] for d in source["possible_duplicates"]} == {target["id"]}
    person = api("POST", f"/clients/{source['id']}/contacts",
                 json={"first_name": "Jana", "last_name": "Nováková"}).json()
    note = api("POST", f"/clients/{source['id']}/notes", json={"body": "Chtějí rohlíky"})
    assert note.status_code == 201
    wait_until(lambda: len(_timeline(api, source["id"])) >= 3, what="the source's timeline")

    stale = api("POST", f"/clients/{target['id']}/merge", json={"source_id": source["id"]},
                headers={"If-Match": 'W/"99"'})
    assert stale.status_code == 412
    merged = api("POST", f"/clients/{target['id']}/merge", headers={
        "If-Match": f'W/"{target["version"]}"', "Idempotency-Key": "merge-1"},
        json={"source_id": source["id"], "fields": {"emails": "source"}})
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert merged.headers["ETag"] == f'W/"{body["version"]}"'
    assert body["email"] == "objednavky@pekarna.cz" and body["website"] == "https://pekarna.cz"
    assert body["name"] == "Pekárna Novák s.r.o."
    again = api("POST", f"/clients/{target['id']}/merge", headers={
        "If-Match": f'W/"{target["version"]}"', "Idempotency-Key": "merge-1"},
        json={"source_id": source["id"], "fields": {"emails": "source"}})
    assert again.status_code == 200 and again.json() == body

    # the source's address answers where it went
    moved = api("GET", f"/clients/{source['id']}")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"/api/v1/clients/{target['id']}"
    assert moved.json()["merged_into"] == target["id"] and moved.json()["archived_at"]
    followed = api("GET", f"/clients/{source['id']}", allow_redirects=True)
    assert followed.status_code == 200 and followed.json()["id"] == target["id"]
    card = api("GET", f"/clients/{source['id']}/card")
    assert card.status_code == 301 and card.headers["Location"].endswith("/card")

    # contact persons and the timeline moved
    people = api("GET", f"/clients/{target['id']}/contacts").json()["items"]
    assert [p["id"] for p in people] == [person["id"]]
    timeline = wait_until(lambda: (lambda t: t if any(
        e["title"] == "Clients merged" for e in t) else None)(_timeline(api, target["id"])),
        what="the merge in the target's timeline")
    assert note.json()["id"] in {e["id"] for e in timeline}
    assert {"Client created", "Contact person added"} <= {e["title"] for e in timeline}
    redirected = api("GET", f"/clients/{source['id']}/timeline")
    assert redirected.status_code == 301

    # both histories show it; the target's keeps the whole source
    history = api("GET", f"/clients/{target['id']}/history").json()["items"]
    [entry] = [h for h in history if h["action"] == "merged"]
    assert entry["changes"]["merged_from"]["after"]["record"]["email"] == \
        "objednavky@pekarna.cz"
    source_history = api("GET", f"/clients/{source['id']}/history").json()["items"]
    assert source_history[0]["changes"]["merged_into"]["after"] == target["id"]

    # the source is never changed again
    refused = api("PATCH", f"/clients/{source['id']}", json={"name": "x"})
    assert refused.status_code == 409
    assert refused.json()["existing_id"] == target["id"]
    assert api("POST", f"/clients/{target['id']}/merge",
               json={"source_id": source["id"]}).status_code == 409

    event = api.tap.wait_for(lambda e: e["type"] == "client.merged"
                             and e["subject"] == target["id"])
    schema = json.loads((SCHEMAS / "client.merged.v1.json").read_text())
    jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())
    assert event["data"]["contact_ids"] == [person["id"]]
    assert len(api.tap.of_type("client.merged")) == 1


@pytest.mark.parametrize("body, status", [
    ({}, 422), ({"source_id": "nope"}, 422),
    ({"source_id": "0b6c7a1e-0000-4000-8000-000000000001"}, 404),
    ({"source_id": "0b6c7a1e-0000-4000-8000-000000000001", "fields": {"name": "both"}}, 422),
    ({"source_id": "0b6c7a1e-0000-4000-8000-000000000001", "extra": 1}, 422),
])
def test_bad_merges_are_refused_clearly(api, body, status):
    target = _create(api, name="Cíl")
    answer = api("POST", f"/clients/{target['id']}/merge", json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"


def test_an_unknown_field_to_pick_names_it(api):
    target, source = _create(api, name="Cíl"), _create(api, name="Zdroj")
    answer = api("POST", f"/clients/{target['id']}/merge",
                 json={"source_id": source["id"], "fields": {"colour": "source"}})
    assert answer.status_code == 422
    assert "fields.colour" in {e["field"] for e in answer.json()["errors"]}
    assert api("GET", f"/clients/{source['id']}").status_code == 200  # nothing merged
