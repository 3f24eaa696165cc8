import time
import uuid

import pytest

from crm_common.rpc import RemoteError
from crm_common.testing import publish_event


@pytest.fixture
def publish(amqp_uri):
    def publish(service: str, event: dict, times: int = 1):
        for _ in range(times):
            publish_event(amqp_uri, service, event)
    return publish


def event(event_type: str, time_: str, data: dict) -> dict:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": event_type,
            "source": "/crm/test", "time": time_, "subject": None,
            "correlationid": str(uuid.uuid4()), "causationid": None, "actor": None,
            "data": data}


def wait_for(rpc, client_id: str, count: int, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        items = rpc.call("activities", "timeline", {"client_id": client_id})["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def test_health(rpc, service):
    assert rpc.call("activities", "health", {}) == {"service": "activities", "status": "ok"}


def test_note_roundtrip_and_validation(rpc, service):
    client_id = str(uuid.uuid4())
    note = rpc.call("activities", "add_note", {"payload": {
        "client_id": client_id, "body": "Called, they want an offer.", "type": "call"}},
        context={"actor": "jana"})
    assert note["author"] == "jana" and note["type"] == "call"
    assert wait_for(rpc, client_id, 1) == [note]
    with pytest.raises(RemoteError) as failed:
        rpc.call("activities", "add_note", {"payload": {"client_id": client_id, "x": 1}})
    assert failed.value.exc_type == "ValidationFailed"
    assert set(failed.value.args_[0]) == {"body", "x"}


def test_events_become_entries_once_and_in_time_order(rpc, service, publish):
    # no IČO: a live ares service on the same broker must not go and look it up
    client = {"id": str(uuid.uuid4()), "name": "Superfaktura", "ico": None}
    updated = event("client.updated", "2026-01-10T10:00:02Z", {
        "client": client, "source": "ares",
        "changes": {"name": {"before": "IČO 01569651", "after": "Superfaktura s.r.o."},
                    "registry": {"before": None, "after": {
                        "source": "ares", "status": "ok",
                        "fetched_at": "2026-01-10T10:00:01Z"}}}})
    created = event("client.created", "2026-01-10T10:00:00Z", {"client": client})
    failed = event("ares.lookup_failed", "2026-01-10T09:59:59Z", {
        "client_id": client["id"], "ico": "01569651", "reason": "unavailable",
        "detail": "timeout", "will_retry": True, "next_attempt_at": "2026-01-10T10:00:30Z",
        "attempt": 1})
    publish("clients", updated, times=2)  # out of order, and duplicated
    publish("clients", created)
    publish("ares", failed)
    items = wait_for(rpc, client["id"], 3)
    time.sleep(0.5)  # a wrongly doubled entry would show up by now
    items = rpc.call("activities", "timeline", {"client_id": client["id"]})["items"]
    assert [i["title"] for i in items] == ["Data loaded from ARES", "Client created",
                                           "ARES unavailable, will retry"]
