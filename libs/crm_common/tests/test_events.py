import uuid
from datetime import datetime

from crm_common.events import EventContext, context_of, make_event


def test_envelope_is_cloudevents_structured():
    ctx = EventContext(correlation_id="corr", causation_id="cause", actor="admin")
    event = make_event("clients", "client.created", "c1", {"client": {}}, ctx)
    assert event["specversion"] == "1.0"
    assert uuid.UUID(event["id"]) and event["source"] == "/crm/clients"
    assert event["type"] == "client.created" and event["subject"] == "c1"
    assert event["time"].endswith("Z") and datetime.fromisoformat(event["time"][:-1])
    assert event["datacontenttype"] == "application/json"
    assert event["dataschema"] == "urn:crm:schema:client.created:v1"
    assert (event["correlationid"], event["causationid"], event["actor"]) == \
        ("corr", "cause", "admin")


def test_ids_are_unique_and_work_caused_by_an_event_keeps_its_correlation():
    first = make_event("a", "x.y", "s", {}, EventContext(correlation_id="c"))
    second = make_event("a", "x.y", "s", {}, EventContext(correlation_id="c"))
    assert first["id"] != second["id"]
    ctx = context_of(first, actor="system:b")
    assert ctx.correlation_id == "c" and ctx.causation_id == first["id"]
    assert ctx.actor == "system:b"
