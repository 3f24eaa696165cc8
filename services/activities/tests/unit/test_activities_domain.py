from datetime import datetime, timezone

import pytest

from activities_service.domain import (entries_from_events, entry_from_event, new_note,
                                       render_changes, render_value)

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
CLIENT = {"id": "c-1", "name": "Superfaktura", "ico": "01569651"}
OK_REGISTRY = {"source": "ares", "status": "ok", "fetched_at": "2026-01-10T10:00:05Z"}


def test_client_created_is_a_system_entry_at_event_time(make_event):
    event = make_event("client.created", {"client": CLIENT}, actor="jana")
    entry = entry_from_event(event, NOW)
    assert entry.type == "system" and entry.source == "clients"
    assert entry.title == "Client created"
    assert entry.body == "Client Superfaktura was created (IČO 01569651)."
    assert entry.occurred_at == datetime(2026, 1, 10, 10, 0, tzinfo=timezone.utc)
    assert entry.client_id == "c-1" and entry.deal_id is None
    assert entry.event_id == event["id"] and entry.author == "jana"
    assert entry.created_at == NOW


def test_client_created_without_ico(make_event):
    entry = entry_from_event(make_event("client.created", {"client": {
        "id": "c-2", "name": "Jan Novák", "ico": None}}), NOW)
    assert entry.body == "Client Jan Novák was created."


def test_same_event_always_describes_the_same_entry(make_event):
    event = make_event("client.created", {"client": CLIENT})
    assert entry_from_event(event, NOW).id == entry_from_event(event, NOW).id


def test_data_loaded_from_ares_lists_changes_readably(make_event):
    changes = {
        "name": {"before": "IČO 01569651", "after": "Superfaktura s.r.o."},
        "vat_payer": {"before": None, "after": True},
        "nace": {"before": [], "after": ["62010", "63110"]},
        "registered_address": {"before": None, "after": {
            "street": "Plynárenská 7", "city": "Praha", "text": "Plynárenská 7, 170 00 Praha"}},
        "registry": {"before": {"source": "ares", "status": "pending", "fetched_at": None},
                     "after": OK_REGISTRY},
    }
    entry = entry_from_event(make_event("client.updated", {
        "client": CLIENT, "source": "ares", "changes": changes}), NOW)
    assert entry.source == "ares" and entry.title == "Data loaded from ARES"
    assert entry.body.splitlines() == [
        "name: IČO 01569651 → Superfaktura s.r.o.",
        "vat_payer: — → yes",
        "nace: — → 62010, 63110",
        "registered_address: — → Plynárenská 7, 170 00 Praha",
    ]
    assert "registry" not in entry.body
    assert "registry" not in entry.data["changes"]
    assert set(entry.data["changes"]) == {"name", "vat_payer", "nace", "registered_address"}
    assert entry.data["fetched_at"] == "2026-01-10T10:00:05Z"


def test_ares_with_nothing_changed_still_says_the_data_was_loaded(make_event):
    entry = entry_from_event(make_event("client.updated", {
        "client": CLIENT, "source": "ares",
        "changes": {"registry": {"before": None, "after": OK_REGISTRY}}}), NOW)
    assert entry.title == "Data loaded from ARES" and entry.data["changes"] == {}


def test_a_dissolution_the_register_reports_is_its_own_entry_once(make_event):
    changes = {"dissolved_on": {"before": None, "after": "2025-06-30"},
               "vat_payer": {"before": True, "after": False},
               "registry": {"before": OK_REGISTRY, "after": OK_REGISTRY}}
    event = make_event("client.updated", {"client": CLIENT, "source": "ares",
                                          "changes": changes})
    entry = entry_from_event(event, NOW)
    assert entry.title == "Company dissolved on 2025-06-30" and entry.source == "ares"
    assert entry.body.splitlines() == ["dissolved_on: — → 2025-06-30", "vat_payer: yes → no"]
    assert entries_from_events([event, event], NOW) == [entry]  # a duplicate: the same one
    # a later refresh that finds it dissolved still, or a corrected date, is data loaded
    for later in ({"vat_payer": {"before": False, "after": None}},
                  {"dissolved_on": {"before": "2025-06-30", "after": "2025-07-01"}}):
        entry = entry_from_event(make_event("client.updated", {
            "client": CLIENT, "source": "ares",
            "changes": {**later, "registry": {"before": OK_REGISTRY,
                                              "after": OK_REGISTRY}}}), NOW)
        assert entry.title == "Data loaded from ARES"
    # a user who enters the date is no report of the register
    assert entry_from_event(make_event("client.updated", {
        "client": CLIENT, "source": "user", "changes": {
            "dissolved_on": {"before": None, "after": "2025-06-30"}}}), NOW).title == \
        "Client updated"


@pytest.mark.parametrize("status", ["not_found", "invalid", "unavailable"])
def test_ares_update_of_registry_alone_that_is_not_ok_makes_no_entry(make_event, status):
    event = make_event("client.updated", {"client": CLIENT, "source": "ares", "changes": {
        "registry": {"before": {"source": "ares", "status": "pending", "fetched_at": None},
                     "after": {"source": "ares", "status": status, "fetched_at": None}}}})
    assert entry_from_event(event, NOW) is None


def test_user_update_is_client_updated(make_event):
    entry = entry_from_event(make_event("client.updated", {
        "client": CLIENT, "source": "user",
        "changes": {"email": {"before": None, "after": "info@superfaktura.cz"},
                    "phone": {"before": "+420 1", "after": "+420 2"}}}), NOW)
    assert entry.title == "Client updated" and entry.source == "clients"
    assert entry.body == "email: — → info@superfaktura.cz\nphone: +420 1 → +420 2"
    assert entry.data["changes"]["email"]["after"] == "info@superfaktura.cz"


def test_update_without_changes_makes_no_entry(make_event):
    assert entry_from_event(make_event("client.updated", {
        "client": CLIENT, "source": "user", "changes": {}}), NOW) is None


def _failed(make_event, reason, **extra):
    data = {"client_id": "c-1", "ico": "01569651", "reason": reason, "detail": None,
            "will_retry": False, "next_attempt_at": None, "attempt": 1, **extra}
    return entry_from_event(make_event("ares.lookup_failed", data), NOW)


def test_lookup_not_found(make_event):
    entry = _failed(make_event, "not_found")
    assert entry.title == "IČO not found in ARES" and entry.source == "ares"
    assert "stays as entered" in entry.body and entry.client_id == "c-1"
    assert entry.data["reason"] == "not_found"


def test_lookup_invalid(make_event):
    entry = _failed(make_event, "invalid", detail="Chybný formát IČO")
    assert entry.title == "ARES refused the IČO"
    assert "Chybný formát IČO" in entry.body


def test_lookup_unavailable_says_when_it_tries_again(make_event):
    entry = _failed(make_event, "unavailable", will_retry=True,
                    next_attempt_at="2026-01-10T10:05:00Z", attempt=2)
    assert entry.title == "ARES unavailable, will retry"
    assert "2026-01-10T10:05:00Z" in entry.body
    assert entry.data["next_attempt_at"] == "2026-01-10T10:05:00Z"


def test_lookup_failed_without_client_makes_no_entry(make_event):
    assert _failed(make_event, "not_found", client_id=None) is None


def test_lookup_succeeded_and_unknown_events_make_no_entry(make_event):
    assert entry_from_event(make_event("ares.lookup_succeeded", {"client_id": "c-1"}),
                            NOW) is None
    assert entry_from_event(make_event("deal.won", {}), NOW) is None


def test_render_value():
    assert render_value(None) == "—"
    assert render_value(False) == "no"
    assert render_value(["a", "b"]) == "a, b"
    assert render_value({"street": "Dlouhá 1", "city": "Brno", "text": None}) == \
        "street: Dlouhá 1, city: Brno"
    assert render_value({"source": "ares", "status": "ok", "fetched_at": "x"}) == "ok"
    assert render_changes({"dic": {"before": None, "after": "CZ01569651"}}) == \
        "dic: — → CZ01569651"


def test_new_note_defaults():
    entry = new_note(body="Called them.", client_id="c-1", now=NOW, type="call")
    assert entry.title == "Call" and entry.source == "user" and entry.occurred_at == NOW
    with pytest.raises(ValueError):
        new_note(body="x", client_id="c-1", now=NOW, type="system")


def test_a_note_of_only_a_title_has_it_as_its_body_too():
    entry = new_note(body=None, title=" Zavolat zpět ", client_id="c-1", now=NOW)
    assert (entry.title, entry.body) == ("Zavolat zpět", "Zavolat zpět")
    with pytest.raises(ValueError):
        new_note(body="  ", title=None, client_id="c-1", now=NOW)
