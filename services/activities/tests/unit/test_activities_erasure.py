"""GDPR erasure in the timeline: entries about the person redacted, late events too."""
import json

from sqlalchemy import select

from activities_service import handlers
from activities_service.orm import timeline_entries
from crm_common.nameko_glue import handle_events

CONSUMER = "activities.timeline"
JANA = {"id": "0b6c7a1e-0000-4000-8000-000000000001", "name": "Jana Nováková", "ico": None}
ZBYNEK = "0b6c7a1e-0000-4000-8000-0000000000z1"


def _entries(uow_factory):
    with uow_factory() as uow:
        return [dict(row._mapping) for row in uow.session.execute(select(timeline_entries))]


def _handle(uow_factory, handler, *events):
    handle_events(handler, uow_factory, CONSUMER, list(events))


def test_an_erased_client_leaves_no_personal_data_in_the_timeline(uow_factory, make_event):
    firma = "0b6c7a1e-0000-4000-8000-00000000f1a0"
    _handle(uow_factory, handlers.record_events,
            make_event("client.created", {"client": JANA}, subject=JANA["id"]),
            make_event("client.created", {"client": {"id": firma, "name": "Firma"}}))
    with uow_factory("user:bob") as uow:
        handlers.add_note(uow, {"client_id": JANA["id"], "title": "Hovor s Janou",
                                "body": "Jana Nováková chce slevu", "type": "call"})
    _handle(uow_factory, handlers.record_events, make_event("contact.created", {
        "client_id": firma, "contact": {"id": ZBYNEK, "name": "Zbyněk Král", "clients": []}}))
    assert "Nováková" in json.dumps(_entries(uow_factory), default=str, ensure_ascii=False)

    _handle(uow_factory, handlers.erase_records,
            make_event("client.erased", {"client_id": JANA["id"]}, subject=JANA["id"]),
            make_event("contact.erased", {"contact_id": ZBYNEK, "client_ids": [firma]}))
    # a late update about her, delivered after the erasure, is written redacted
    _handle(uow_factory, handlers.record_events, make_event("client.updated", {
        "client": JANA, "source": "user",
        "changes": {"name": {"before": "Jana Nováková", "after": "Jana Králová"}}},
        subject=JANA["id"]))
    text = json.dumps(_entries(uow_factory), default=str, ensure_ascii=False)
    for secret in ("Jana", "Nováková", "Králová", "slevu", "Zbyněk"):
        assert secret not in text, secret
    titles = {e["title"] for e in _entries(uow_factory) if e["client_id"] == JANA["id"]}
    assert titles == {"Client created", "Call", "Client updated", "Personal data erased"}
    assert any(e["title"] == "Client created" and e["client_id"] == firma and
               e["body"] == "Client Firma was created." for e in _entries(uow_factory))


def test_erasure_twice_is_harmless(uow_factory, make_event):
    event = make_event("client.erased", {"client_id": JANA["id"]}, subject=JANA["id"])
    _handle(uow_factory, handlers.erase_records, event)
    _handle(uow_factory, handlers.erase_records, event)
    assert [e["title"] for e in _entries(uow_factory)] == ["Personal data erased"]
