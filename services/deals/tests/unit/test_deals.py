"""Deals through their whole life on both databases: created in the default pipeline,
moved (stage history, probabilities), won and lost, reopened, filtered, on the board with
exact sums, summed per client; the clients' events; the record-level rule."""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_common.access import Caller
from crm_common.db import make_session_factory
from crm_common.events import EventContext
from crm_common.nameko_glue.database import read_only
from crm_common.uow import UnitOfWork
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.messaging import outbox
from deals_service import client_events, handlers, pipeline_handlers as pipelines

CLIENT = "0b6c7a1e-0000-4000-8000-0000000000c1"
OTHER = "0b6c7a1e-0000-4000-8000-0000000000c2"


def _events(uow_factory, event_type):
    with uow_factory() as u:
        events = [json.loads(r.payload) for r in u.session.execute(
            select(outbox).order_by(outbox.c.id))]
    return [e for e in events if e["type"] == event_type]


def _default(uow_factory):
    with uow_factory() as u:
        [pipeline] = pipelines.list_pipelines(u)["items"]
    return pipeline


def _create(uow_factory, **payload):
    with uow_factory() as u:
        return handlers.create_deal(u, {"title": "Dodávka pečiva", "client_id": CLIENT,
                                        "client_name": "Pekárna Novák", **payload})


def _update(uow_factory, deal, **changes):
    with uow_factory() as u:
        return handlers.update_deal(u, deal["id"], changes, if_match=deal["version"])


def test_a_new_installation_has_the_default_pipeline(uow):
    pipeline = _default(uow)
    assert pipeline["is_default"]
    assert [(s["name"], s["probability"]) for s in pipeline["stages"]] == [
        ("Nový", 10), ("Kvalifikace", 25), ("Nabídka", 50), ("Vyjednávání", 75)]


def test_a_deal_starts_in_the_first_stage_with_its_probability(uow):
    deal = _create(uow, value="1000000.70", currency="CZK")
    stages = _default(uow)["stages"]
    assert deal["stage_id"] == stages[0]["id"] and deal["stage_name"] == "Nový"
    assert deal["probability"] == 10 and not deal["probability_manual"]
    assert deal["value"] == "1000000.70" and deal["weighted_value"] == "100000.07"
    assert deal["status"] == "open" and deal["owner_id"] is None
    [event] = _events(uow, "deal.created")
    assert event["data"]["deal"]["value"] == "1000000.70"


@pytest.mark.parametrize("payload, field", [
    ({"value": 1000.5}, "value"), ({"value": "1 000"}, "value"),
    ({"value": "10.005"}, "value"), ({"currency": "czk"}, "currency"),
    ({"value": "10.5", "currency": "JPY"}, "value"), ({"probability": 101}, "probability"),
    ({"title": "  "}, "title"), ({"stage_id": "nope"}, "stage_id"), ({"colour": 1}, "colour"),
])
def test_bad_deals_are_refused_by_field(uow, payload, field):
    with uow() as u, pytest.raises(ValidationFailed) as refused:
        handlers.create_deal(u, {"title": "X", "client_id": CLIENT, **payload})
    assert field in refused.value.errors
    with uow() as u:
        assert handlers.list_deals(u)["items"] == []


def test_moves_follow_the_stage_s_probability_unless_set_by_hand(uow):
    stages = _default(uow)["stages"]
    deal = _create(uow)
    moved = _update(uow, deal, stage_id=stages[2]["id"])
    assert moved["probability"] == 50 and moved["stage_name"] == "Nabídka"
    manual = _update(uow, moved, probability=33)
    assert manual["probability_manual"]
    again = _update(uow, manual, stage_id=stages[3]["id"])
    assert again["probability"] == 33
    back = _update(uow, again, probability=None)
    assert back["probability"] == 75 and not back["probability_manual"]
    [first, second] = _events(uow, "deal.stage_changed")
    assert (first["data"]["from_stage"]["name"], first["data"]["to_stage"]["name"]) == (
        "Nový", "Nabídka")
    assert second["data"]["to_stage"]["name"] == "Vyjednávání"


def test_the_stage_history_tells_every_move_and_the_time_in_each_stage(uow):
    stages = _default(uow)["stages"]
    deal = _create(uow)
    deal = _update(uow, deal, stage_id=stages[1]["id"])
    deal = _update(uow, deal, stage_id=stages[2]["id"])
    with uow() as u:
        history = handlers.deal_history(u, deal["id"])
    moves = [(h["from_stage"]["name"], h["to_stage"]["name"]) for h in history["items"]
             if h["action"] == "stage_changed"]
    assert moves == [("Nový", "Kvalifikace"), ("Kvalifikace", "Nabídka")]
    assert [t["stage_name"] for t in history["time_in_stages"]] == [
        "Nový", "Kvalifikace", "Nabídka"]
    assert all(t["seconds"] >= 0 for t in history["time_in_stages"])


def test_two_people_moving_one_deal_at_once_one_gets_412(uow):
    stages = _default(uow)["stages"]
    deal = _create(uow)
    _update(uow, deal, stage_id=stages[1]["id"])
    with pytest.raises(PreconditionFailed):
        _update(uow, deal, stage_id=stages[2]["id"])
    with uow() as u:
        assert handlers.get_deal(u, deal["id"])["stage_name"] == "Kvalifikace"


def test_won_lost_and_reopened(uow):
    deal = _create(uow, value="500.00")
    with uow() as u:
        won = handlers.close_deal(u, deal["id"], "won")
    assert won["status"] == "won" and won["probability"] == 100 and won["closed_at"]
    with uow() as u, pytest.raises(Conflict):
        handlers.close_deal(u, deal["id"], "lost")
    with uow() as u:
        reopened = handlers.reopen_deal(u, deal["id"])
    assert reopened["status"] == "open" and reopened["probability"] == 10
    with uow() as u, pytest.raises(ValidationFailed):
        handlers.close_deal(u, deal["id"], "lost", {"reason": "Počasí"})
    with uow() as u:
        lost = handlers.close_deal(u, deal["id"], "lost", {"reason": "Cena",
                                                           "note": "o 10 % dražší"})
    assert (lost["lost_reason"], lost["lost_note"], lost["probability"]) == (
        "Cena", "o 10 % dražší", 0)
    assert _events(uow, "deal.lost")[0]["data"]["reason"] == "Cena"
    assert len(_events(uow, "deal.won")) == len(_events(uow, "deal.reopened")) == 1


def test_the_board_sums_exactly_per_currency(uow):
    stages = _default(uow)["stages"]
    amounts = ["0.10", "0.20", "1000000.70", "33.33", "19.99"]
    for amount in amounts:
        _create(uow, value=amount)
    _create(uow, value="100.00", currency="EUR", stage_id=stages[2]["id"])
    _create(uow, value="250", currency="JPY")
    with uow() as u:
        board = pipelines.board(u, _default(uow)["id"])
    first, third = board["columns"][0], board["columns"][2]
    assert first["count"] == 6 and len(first["items"]) == 6
    totals = {t["currency"]: t for t in first["totals"]}
    assert totals["CZK"]["value"] == str(sum(Decimal(a) for a in amounts))
    expected = (sum(Decimal(a) for a in amounts) * Decimal("0.10")).quantize(Decimal("0.01"))
    assert Decimal(totals["CZK"]["weighted"]) == expected
    assert totals["JPY"] == {"currency": "JPY", "value": "250", "weighted": "25"}
    assert third["totals"] == [{"currency": "EUR", "value": "100.00", "weighted": "50.00"}]
    assert board["columns"][1]["count"] == 0 and board["columns"][1]["items"] == []


def test_a_board_column_pages_without_skipping_or_repeating(uow):
    for n in range(7):
        _create(uow, title=f"Deal {n}")
    pipeline = _default(uow)
    stage = pipeline["stages"][0]["id"]
    seen, cursor = [], None
    while True:
        with uow() as u:
            column = pipelines.board(u, pipeline["id"], stage_id=stage, cursor=cursor,
                                     limit=3)["columns"][0]
        seen += [d["title"] for d in column["items"]]
        cursor = column["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"Deal {n}" for n in range(7)]


def test_lists_filter_and_search_without_diacritics(uow):
    _create(uow, title="Rohlíky na rok 2027", value="10.00", tags=["Pečivo"])
    _create(uow, title="Chleba", value="99.00", client_id=OTHER, client_name="Žluťoučký kůň")
    with uow() as u:
        def titles(**filters):
            return [d["title"] for d in handlers.list_deals(u, filters, "title")["items"]]
        assert titles(q="rohliky") == ["Rohlíky na rok 2027"]
        assert titles(q="zlutoucky") == ["Chleba"]
        assert titles(value_min="50") == ["Chleba"]
        assert titles(value_max="10.00") == ["Rohlíky na rok 2027"]
        assert titles(tag=["Pečivo"]) == ["Rohlíky na rok 2027"]
        assert titles(tag=["Pečivo", "Chleba"]) == []
        assert titles(client_id=OTHER) == ["Chleba"]
        assert titles(status="closed") == []
        with pytest.raises(ValidationFailed):
            handlers.list_deals(u, {"colour": "red"})
        with pytest.raises(ValidationFailed):
            handlers.list_deals(u, sort="colour")


def test_sorted_pages_skip_and_repeat_nothing(uow):
    for n in range(9):
        _create(uow, title=f"D{n}", value=None if n % 3 == 0 else f"{n % 4}.00")
    for sort in ("value", "-value", "title", "-expected_close_date", "-created_at"):
        seen, cursor = [], None
        while True:
            with uow() as u:
                page = handlers.list_deals(u, {}, sort, 2, cursor)
            seen += [d["title"] for d in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(f"D{n}" for n in range(9)), sort


def test_the_client_summary(uow):
    open_deal = _create(uow, value="100.00")
    won = _create(uow, value="250.50")
    lost = _create(uow, value="10.00", currency="EUR")
    with uow() as u:
        handlers.close_deal(u, won["id"], "won")
    with uow() as u:
        handlers.close_deal(u, lost["id"], "lost")
    with uow() as u:
        summary = handlers.client_summary(u, CLIENT)
    assert (summary["open_count"], summary["won_count"], summary["lost_count"]) == (1, 1, 1)
    assert summary["win_rate"] == 0.5
    czk = next(c for c in summary["currencies"] if c["currency"] == "CZK")
    assert czk["open"] == {"count": 1, "value": "100.00"}
    assert czk["won"] == czk["won_last_12_months"] == {"count": 1, "value": "250.50"}
    assert open_deal["id"]



def test_the_card_holds_the_recent_open_and_closed_deals_and_the_summary(uow, engine):
    """The deals service's part of the client card in one call: what `list` (most recently
    changed first) and `client_summary` answer, under the caller's access rules."""
    open_deals = [_create(uow, title=f"Otevřená {n}", value="100.00") for n in range(3)]
    won = _create(uow, title="Vyhraná", value="250.50")
    _create(uow, client_id=OTHER, title="Jiný klient")
    with uow() as u:
        handlers.close_deal(u, won["id"], "won")
    _update(uow, open_deals[0], title="Otevřená 0, změněná")
    reader = read_only(make_session_factory(engine))  # as the RPC runs: it only reads
    with UnitOfWork(reader, "deals", EventContext(actor="user:alice")) as u:
        answer = handlers.card(u, CLIENT, limit=2)
    assert [d["id"] for d in answer["open_deals"]["items"]] == [open_deals[0]["id"],
                                                               open_deals[2]["id"]]
    assert answer["open_deals"]["next_cursor"]
    assert [d["id"] for d in answer["closed_deals"]["items"]] == [won["id"]]
    with uow() as u:
        assert answer["deal_summary"] == handlers.client_summary(u, CLIENT)
    restricted = Caller(user_id="bob", role="sales", own_only=True)
    with uow("user:bob", restricted) as u:
        hidden = handlers.card(u, CLIENT)
    assert hidden["open_deals"]["items"] == hidden["closed_deals"]["items"] == []
    assert hidden["deal_summary"]["open_count"] == 0

def test_a_stage_holding_deals_goes_only_with_move_to(uow):
    pipeline = _default(uow)
    first, second = pipeline["stages"][0], pipeline["stages"][1]
    deal = _create(uow)
    with uow() as u, pytest.raises(Conflict):
        pipelines.delete_stage(u, first["id"])
    with uow() as u:
        after = pipelines.delete_stage(u, first["id"], move_to=second["id"])
    assert [s["name"] for s in after["stages"]] == ["Kvalifikace", "Nabídka", "Vyjednávání"]
    assert [s["position"] for s in after["stages"]] == [0, 1, 2]
    with uow() as u:
        assert handlers.get_deal(u, deal["id"])["stage_id"] == second["id"]
    assert _events(uow, "deal.stage_changed")[0]["data"]["from_stage"]["name"] == "Nový"


def test_stages_are_added_renamed_and_reordered(uow):
    pipeline = _default(uow)
    with uow() as u:
        added = pipelines.add_stage(u, pipeline["id"], {"name": "Smlouva", "probability": 90,
                                                       "position": 1})
    assert [s["name"] for s in added["stages"]] == [
        "Nový", "Smlouva", "Kvalifikace", "Nabídka", "Vyjednávání"]
    smlouva = added["stages"][1]
    with uow() as u:
        moved = pipelines.update_stage(u, smlouva["id"], {"position": 4, "name": "Podpis"})
    assert [s["name"] for s in moved["stages"]][-1] == "Podpis"
    with uow() as u, pytest.raises(Conflict):
        pipelines.add_stage(u, pipeline["id"], {"name": "nový"})
    assert len(_events(uow, "pipeline.updated")) == 2


def test_clients_events_archive_merge_and_erase(uow):
    deal = _create(uow, description="Jana chce slevu")
    event = {"id": "e1", "type": "client.archived", "actor": "user:bob",
             "data": {"client_id": CLIENT, "version": 5}}
    with uow() as u:
        client_events.on_client_events(u, [event])
        u.commit()
    with uow() as u:  # an older update arriving late changes nothing
        client_events.on_client_events(u, [{"id": "e0", "type": "client.updated", "data": {
            "client": {"id": CLIENT, "version": 4, "name": "Stará", "archived_at": None}}}])
        u.commit()
    with uow() as u:
        flagged = handlers.get_deal(u, deal["id"])
    assert flagged["client_archived"] and flagged["status"] == "open"
    with uow() as u:
        client_events.on_client_events(u, [{"id": "e2", "type": "client.merged", "data": {
            "source_id": CLIENT, "target_id": OTHER}}])
        u.commit()
    with uow() as u:
        assert handlers.get_deal(u, deal["id"])["client_id"] == OTHER
        client_events.on_client_events(u, [{"id": "e3", "type": "client.erased",
                                             "data": {"client_id": OTHER}}])
        u.commit()
    with uow() as u:
        erased = handlers.get_deal(u, deal["id"])
        history = handlers.deal_history(u, deal["id"])
    assert erased["title"] == "Erased (GDPR)" and erased["description"] is None
    assert "Jana" not in json.dumps(history)


def test_a_restricted_rep_sees_only_their_deals(uow):
    anna = Caller(user_id="anna", role="sales", own_only=True)
    with uow("user:anna", anna) as u:
        annas = handlers.create_deal(u, {"title": "Annin", "client_id": CLIENT})
    bobs = _create(uow, owner_id="bob")
    assert annas["owner_id"] == "anna"
    with uow("user:anna", anna) as u:
        assert [d["id"] for d in handlers.list_deals(u)["items"]] == [annas["id"]]
        with pytest.raises(NotFound):
            handlers.get_deal(u, bobs["id"])
    with uow("user:anna", anna) as u:
        board = pipelines.board(u, _default(uow)["id"])
    assert board["columns"][0]["count"] == 1


def test_a_deleted_deal_leaves_the_lists(uow):
    deal = _create(uow)
    with uow() as u:
        handlers.delete_deal(u, deal["id"], if_match=deal["version"])
    with uow() as u, pytest.raises(NotFound):
        handlers.get_deal(u, deal["id"])
    assert _events(uow, "deal.deleted")[0]["data"]["deal_id"] == deal["id"]


def test_time_in_stages_adds_up():
    from datetime import datetime, timezone
    from deals_service.domain import time_in_stages
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    entries = [("a", t0), ("b", t0 + timedelta(hours=1)), ("a", t0 + timedelta(hours=3))]
    assert time_in_stages(entries, t0 + timedelta(hours=4)) == {"a": 7200.0, "b": 7200.0}


def test_unique_custom_field_values_are_held_by_one_deal(uow):
    first = _create(uow, custom_fields={"contract": "S-1"},
                    unique_custom_fields=["contract"])
    with uow() as u, pytest.raises(ValidationFailed) as refused:
        handlers.create_deal(u, {"title": "X", "client_id": CLIENT,
                                 "custom_fields": {"contract": "S-1"},
                                 "unique_custom_fields": ["contract"]})
    assert "custom_fields.contract" in refused.value.errors
    with uow() as u:  # sending back its own value is no clash
        same = handlers.update_deal(u, first["id"], {"custom_fields": {"contract": "S-1"},
                                                     "unique_custom_fields": ["contract"]})
    assert same["custom_fields"] == {"contract": "S-1"} and same["version"] == first["version"]


def test_a_stage_s_new_default_probability_reaches_the_deals_that_follow_it(uow):
    stage = _default(uow)["stages"][0]
    follows, own = _create(uow), _create(uow, probability=42)
    with uow() as u:
        pipelines.update_stage(u, stage["id"], {"probability": 15})
    with uow() as u:
        assert handlers.get_deal(u, follows["id"])["probability"] == 15
        assert handlers.get_deal(u, own["id"])["probability"] == 42
    [event] = _events(uow, "deal.updated")
    assert event["subject"] == follows["id"]
    assert event["data"]["changes"] == {"probability": {"before": 10, "after": 15}}
