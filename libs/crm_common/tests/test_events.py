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


def test_log_lines_cannot_be_forged_and_caller_errors_are_info():
    import io
    import logging

    from crm_common.context import (LOG_FORMAT, CorrelationFilter, ExpectedErrorsFilter,
                                    OneLineFormatter)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    for log_filter in (CorrelationFilter(), ExpectedErrorsFilter()):
        handler.addFilter(log_filter)
    handler.setFormatter(OneLineFormatter(LOG_FORMAT))
    nameko_log = logging.getLogger("nameko.containers")
    request_log = logging.getLogger("test.requests")
    for log in (nameko_log, request_log):
        log.addHandler(handler)
        log.propagate = False
    try:
        request_log.warning("GET %s 404", "/api/v1/clients/x\n2026-01-01 ERROR forged")
        try:
            raise KeyError("missing")
        except KeyError as exc:
            nameko_log.warning("(expected) error handling worker %s: %s", "w", exc,
                               exc_info=True)
    finally:
        for log in (nameko_log, request_log):
            log.removeHandler(handler)
            log.propagate = True
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "\\x0a2026-01-01 ERROR forged" in lines[0]
    assert " INFO nameko.containers " in lines[1] and "Traceback" not in out.getvalue()
