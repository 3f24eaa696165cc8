"""Deal events on the timelines of the deal and its client."""
from activities_service import handlers
from crm_common.nameko_glue import handle_events

CLIENT, DEAL = "0b6c7a1e-0000-4000-8000-0000000000c1", "0b6c7a1e-0000-4000-8000-0000000000d1"
DEAL_DATA = {"id": DEAL, "client_id": CLIENT, "title": "Pečivo", "value": "1000.50",
             "currency": "CZK", "stage_name": "Nový"}


def _timeline(uow_factory, **where):
    with uow_factory() as uow:
        return handlers.timeline(uow, **where)["items"]


def test_a_deal_s_life_on_both_timelines(uow_factory, make_event):
    events = [
        make_event("deal.created", {"deal": DEAL_DATA}, time="2026-01-10T09:00:00Z"),
        make_event("deal.stage_changed", {"deal": DEAL_DATA,
                                          "from_stage": {"id": "s1", "name": "Nový"},
                                          "to_stage": {"id": "s2", "name": "Nabídka"}},
                   time="2026-01-10T10:00:00Z"),
        make_event("deal.lost", {"deal": DEAL_DATA, "reason": "Cena", "note": "dražší"},
                   time="2026-01-10T11:00:00Z"),
        make_event("deal.updated", {"deal": DEAL_DATA, "changes": {}}),  # no entry
    ]
    handle_events(handlers.record_events, uow_factory, "activities.timeline", events)
    client = _timeline(uow_factory, client_id=CLIENT)
    assert [e["body"] for e in client] == [
        "Deal Pečivo (1000.50 CZK) was lost: Cena.\ndražší",
        "Deal Pečivo moved from Nový to Nabídka.",
        "Deal Pečivo (1000.50 CZK) was created in stage Nový."]
    assert _timeline(uow_factory, deal_id=DEAL) == client
    assert {e["source"] for e in client} == {"deals"}
