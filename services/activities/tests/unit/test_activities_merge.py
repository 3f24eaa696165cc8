"""client.merged in the timeline: the source's entries move to the target, entries about
the source that arrive later land there too, whatever order merges arrive in."""
from sqlalchemy import select

from activities_service import handlers
from activities_service.orm import timeline_entries
from crm_common.nameko_glue import handle_events

CONSUMER = "activities.timeline"
A, B, C = (f"0b6c7a1e-0000-4000-8000-00000000000{n}" for n in "abc")


def _entries(uow_factory):
    with uow_factory() as uow:
        return [dict(row._mapping) for row in uow.session.execute(
            select(timeline_entries).order_by(timeline_entries.c.occurred_at))]


def _handle(uow_factory, handler, *events):
    handle_events(handler, uow_factory, CONSUMER, list(events))


def _created(make_event, client_id, name):
    return make_event("client.created", {"client": {"id": client_id, "name": name}},
                      subject=client_id, time="2026-01-10T09:00:00Z")


def _merged(make_event, target, source, name="Zdroj", **extra):
    return make_event("client.merged", {"target_id": target, "source_id": source,
                                        "source": {"name": name, "ico": "25063677"},
                                        **extra}, subject=target)


def test_the_source_s_entries_move_and_the_target_says_so(uow_factory, make_event):
    _handle(uow_factory, handlers.record_events, _created(make_event, A, "Zdroj"),
            _created(make_event, B, "Cíl"))
    with uow_factory("user:bob") as uow:
        note = handlers.add_note(uow, {"client_id": A, "body": "Schůzka", "type": "note"})
    _handle(uow_factory, handlers.merge_clients,
            _merged(make_event, B, A, contact_ids=["x", "y"], subsidiary_ids=[]))
    entries = _entries(uow_factory)
    assert {e["client_id"] for e in entries} == {B}
    assert note["id"] in {e["id"] for e in entries}
    [merged] = [e for e in entries if e["title"] == "Clients merged"]
    assert merged["body"] == ("Client Zdroj (IČO 25063677) was merged into this client; its "
                              "timeline is here now, and so are its 2 contact person(s).")
    assert merged["data"]["source"]["id"] == A


def test_entries_about_the_source_arriving_later_land_on_the_target(uow_factory, make_event):
    _handle(uow_factory, handlers.merge_clients, _merged(make_event, B, A))
    _handle(uow_factory, handlers.record_events, _created(make_event, A, "Zdroj"))
    with uow_factory("user:bob") as uow:
        handlers.add_note(uow, {"client_id": A, "body": "pozdě", "type": "note"})
    assert {e["client_id"] for e in _entries(uow_factory)} == {B}


def test_chains_of_merges_end_on_the_last_client_in_any_order(uow_factory, make_event):
    _handle(uow_factory, handlers.record_events, _created(make_event, A, "A"),
            _created(make_event, B, "B"))
    _handle(uow_factory, handlers.merge_clients, _merged(make_event, C, B, "B"))  # B into C
    _handle(uow_factory, handlers.merge_clients, _merged(make_event, B, A, "A"))  # then A into B
    _handle(uow_factory, handlers.record_events, _created(make_event, A, "A again"))
    assert {e["client_id"] for e in _entries(uow_factory)} == {C}


def test_a_merge_delivered_twice_writes_one_entry(uow_factory, make_event):
    event = _merged(make_event, B, A)
    _handle(uow_factory, handlers.merge_clients, event)
    _handle(uow_factory, handlers.merge_clients, event)
    assert [e["title"] for e in _entries(uow_factory)] == ["Clients merged"]


def test_erasing_a_merged_person_redacts_what_named_them_on_the_target(uow_factory,
                                                                      make_event):
    _handle(uow_factory, handlers.record_events, _created(make_event, A, "Jana Nováková"))
    _handle(uow_factory, handlers.merge_clients, _merged(make_event, B, A, "Jana Nováková"))
    _handle(uow_factory, handlers.erase_records,
            make_event("client.erased", {"client_id": A}, subject=A))
    assert "Nováková" not in str(_entries(uow_factory))
