"""Deals through the gateway, on both databases: a deal moved across the board is in its
stage history, in the client's and the deal's timeline (through events), in the board
sums and the client summary, exact in CZK and EUR; two concurrent moves (one 412); a merged
client's deals follow it; every event valid against docs/events."""
import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
import requests

from crm_common.testing import TEST_ADMIN_TOKEN, EventTap, wait_until
from deals_service.fake_cnb import RECORDINGS_DIR, FakeCnb
from deals_service.rates import parse

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


@pytest.fixture(scope="module")
def cnb():
    with FakeCnb() as fake:  # the ČNB's recorded daily rates, over real HTTP
        yield fake


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request, small_stack, amqp_uri, cnb):
    stack = small_stack(request.param, ("clients", "activities", "deals"),
                        {"CNB_RATES_URL": cnb.url})
    tap = EventTap(amqp_uri, [("deals.events", "#"), ("clients.events", "client.merged")])
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {TEST_ADMIN_TOKEN}"

    def call(method, path, **kwargs):
        return http.request(method, stack.url + "/api/v1" + path, timeout=30,
                            allow_redirects=False, **kwargs)
    call.tap = tap
    yield call
    tap.close()
    stack.stop()


def _ok(answer, status=200):
    assert answer.status_code == status, answer.text
    return answer.json()


def _client(api, name):
    return _ok(api("POST", "/clients", json={"name": name}), 201)


def _pipeline(api):
    return next(p for p in _ok(api("GET", "/pipelines"))["items"] if p["is_default"])


def _move(api, deal, stage_id):
    return api("PATCH", f"/deals/{deal['id']}", json={"stage_id": stage_id},
               headers={"If-Match": f'W/"{deal["version"]}"'})


def test_a_deal_across_the_board(api):
    client = _client(api, "Pekárna Dvořák")
    pipeline = _pipeline(api)
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    deal = _ok(api("POST", "/deals", json={
        "title": "Rohlíky 2027", "client_id": client["id"], "value": "1000000.70"}), 201)
    euro = _ok(api("POST", "/deals", json={
        "title": "Export", "client_id": client["id"], "value": "2500.10", "currency": "EUR",
        "stage_id": stages["Nabídka"]}), 201)
    assert deal["stage_name"] == "Nový" and deal["probability"] == 10

    moved = _ok(_move(api, deal, stages["Nabídka"]))
    stale = _move(api, deal, stages["Kvalifikace"])  # the same card dragged by another
    assert stale.status_code == 412
    assert moved["probability"] == 50

    board = _ok(api("GET", f"/pipelines/{pipeline['id']}/board",
                    params={"client_id": client["id"]}))
    column = next(c for c in board["columns"] if c["stage"]["name"] == "Nabídka")
    assert column["count"] == 2 and {d["id"] for d in column["items"]} == {deal["id"],
                                                                        euro["id"]}
    assert column["totals"] == [
        {"currency": "CZK", "value": "1000000.70",
         "weighted": str((Decimal("1000000.70") / 2).quantize(Decimal("0.01")))},
        {"currency": "EUR", "value": "2500.10", "weighted": "1250.05"}]

    converted = _ok(api("GET", f"/pipelines/{pipeline['id']}/board", params={
        "client_id": client["id"], "base_currency": "CZK", "stage_id": stages["Nabídka"]})
        )["columns"][0]["converted"]
    _, rates = parse((RECORDINGS_DIR / f"{converted['rate_date']}.txt").read_text())
    amount, rate = rates["EUR"]
    expected = Decimal("1000000.70") + Decimal("2500.10") * rate / amount
    assert converted["value"] == str(expected.quantize(Decimal("0.01")))
    assert converted["rates"] == [{"currency": "EUR", "amount": amount, "rate": str(rate)}]

    won = _ok(api("POST", f"/deals/{euro['id']}/won"))
    assert won["status"] == "won"
    card = _ok(api("GET", f"/clients/{client['id']}/card"))
    assert [d["id"] for d in card["open_deals"]["items"]] == [deal["id"]]
    assert [d["id"] for d in card["closed_deals"]["items"]] == [euro["id"]]
    assert card["deal_summary"]["won_count"] == 1
    summary = _ok(api("GET", f"/clients/{client['id']}/deal-summary"))
    assert (summary["open_count"], summary["won_count"]) == (1, 1)
    by_currency = {c["currency"]: c for c in summary["currencies"]}
    assert by_currency["CZK"]["open"] == {"count": 1, "value": "1000000.70"}
    assert by_currency["EUR"]["won"] == {"count": 1, "value": "2500.10"}

    history = _ok(api("GET", f"/deals/{deal['id']}/history"))
    assert [(h["from_stage"]["name"], h["to_stage"]["name"]) for h in history["items"]
            if h["action"] == "stage_changed"] == [("Nový", "Nabídka")]
    assert {t["stage_name"] for t in history["time_in_stages"]} == {"Nový", "Nabídka"}

    by_stage = _ok(api("GET", "/reports/pipeline", params={
        "pipeline_id": pipeline["id"], "client_id": client["id"]}))["stages"]
    assert [s["count"] for s in by_stage] == [0, 0, 1, 0]  # the EUR one is won
    steps = _ok(api("GET", "/reports/conversion", params={"pipeline_id": pipeline["id"]}))
    assert steps["steps"][0]["stage"]["name"] == "Nový" and steps["deals"] >= 2

    def titles(path):
        return [e["title"] for e in _ok(api("GET", path))["items"]]
    wait_until(lambda: "Deal moved" in titles(f"/deals/{deal['id']}/timeline"),
               what="the move in the deal's timeline")
    client_titles = wait_until(lambda: (lambda t: t if "Deal won" in t else None)(
        titles(f"/clients/{client['id']}/timeline")), what="the deals in the client's")
    assert {"Deal created", "Deal moved", "Deal won"} <= set(client_titles)


def test_bad_deals_are_refused_and_nothing_is_made(api):
    client = _client(api, "Refused s.r.o.")
    for body, status in (
            ({"title": "x", "client_id": client["id"], "value": 100.5}, 422),
            ({"title": "x", "client_id": client["id"], "value": "1.005"}, 422),
            ({"title": "x", "client_id": "0b6c7a1e-0000-4000-8000-000000000001"}, 422),
            ({"title": "x"}, 422)):
        answer = api("POST", "/deals", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert _ok(api("GET", "/deals", params={"client_id": client["id"]}))["items"] == []
    other = _client(api, "Jiný")
    stranger = _ok(api("POST", f"/clients/{other['id']}/contacts",
                       json={"last_name": "Cizí"}), 201)
    wrong = api("POST", "/deals", json={"title": "x", "client_id": client["id"],
                                        "contact_id": stranger["id"]})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "contact_id"
    archived = _client(api, "Archivovaná")
    _ok(api("POST", f"/clients/{archived['id']}/archive"))
    assert api("POST", "/deals", json={"title": "x", "client_id": archived["id"]}
               ).status_code == 409


def test_a_merged_client_s_deals_follow_it(api):
    target, source = _client(api, "Cíl a.s."), _client(api, "Zdroj a.s.")
    deal = _ok(api("POST", "/deals", json={"title": "Zakázka", "client_id": source["id"]}),
               201)
    _ok(api("POST", f"/clients/{target['id']}/merge", json={"source_id": source["id"]}))
    wait_until(lambda: _ok(api("GET", f"/deals/{deal['id']}"))["client_id"] == target["id"],
               what="the deal on the surviving client")
    assert [d["id"] for d in _ok(api("GET", "/deals", params={
        "client_id": target["id"]}))["items"]] == [deal["id"]]


def test_every_deal_event_matches_its_schema(api):
    api.tap.poll()
    seen = set()
    for event in api.tap.events:
        schema = json.loads((SCHEMAS / f"{event['type']}.v1.json").read_text())
        jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())
        seen.add(event["type"])
    assert {"deal.created", "deal.stage_changed", "deal.won", "deal.updated"} <= seen


def test_custom_fields_of_deals(api):
    client = _client(api, "Pole s.r.o.")
    defined = api("POST", "/custom-fields", json={
        "key": "contract_no", "label": "Číslo smlouvy", "type": "text", "unique": True,
        "applies_to": "deal"})
    assert defined.status_code == 201, defined.text
    deal = _ok(api("POST", "/deals", json={"title": "Smlouva", "client_id": client["id"],
                                           "custom_fields": {"contract_no": "2027/01"}}), 201)
    assert deal["custom_fields"] == {"contract_no": "2027/01"}
    for body in ({"custom_fields": {"contract_no": "2027/01"}},  # another deal holds it
                 {"custom_fields": {"colour": "red"}}):  # no such field
        answer = api("POST", "/deals", json={"title": "Další", "client_id": client["id"],
                                             **body})
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"].startswith("custom_fields.")
    changed = _ok(api("PATCH", f"/deals/{deal['id']}",
                      json={"custom_fields": {"contract_no": None}}))
    assert changed["custom_fields"] == {}


def test_two_people_dragging_one_card_at_once(api):
    client = _client(api, "Souběh s.r.o.")
    stages = [s["id"] for s in _pipeline(api)["stages"]]
    deal = _ok(api("POST", "/deals", json={"title": "Tah", "client_id": client["id"]}), 201)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda stage: _move(api, deal, stage), stages[1:3]))
    assert sorted(a.status_code for a in answers) == [200, 412]
    moved = next(a.json() for a in answers if a.status_code == 200)
    history = _ok(api("GET", f"/deals/{deal['id']}/history"))["items"]
    assert [h["to_stage"]["id"] for h in history if h["action"] == "stage_changed"] == [
        moved["stage_id"]]

