"""Use cases against a real SQLite database through the real unit of work."""
import json

import pytest
from sqlalchemy import select

from clients_service import handlers
from crm_common.errors import NotFound, ValidationFailed
from crm_common.messaging import outbox


def _outbox(uow_factory):
    with uow_factory() as uow:
        return [json.loads(r.payload) for r in uow.session.execute(select(outbox))]


def test_create_stores_and_stages_client_created(uow):
    with uow() as u:
        client = handlers.create_client(u, {"name": "Superfaktura", "ico": "1569651"})
    assert client["ico"] == "01569651" and client["registry"]["status"] == "pending"
    [event] = _outbox(uow)
    assert event["type"] == "client.created" and event["subject"] == client["id"]
    assert event["data"]["client"]["ico"] == "01569651"
    with uow() as u:
        assert handlers.get_client(u, client["id"])["name"] == "Superfaktura"


@pytest.mark.parametrize("payload, field", [
    ({"name": "X", "ico": "25063678"}, "ico"),
    ({"name": "X", "colour": "red"}, "colour"),
    ({"name": "X", "email": "not-an-email"}, "email"),
    ({"name": "X", "kind": "alien"}, "kind"),
    ({"name": "X", "dic": "CZ123"}, "dic"),
    ({}, "name"),
])
def test_invalid_input_names_the_field_and_stores_nothing(uow, payload, field):
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_client(u, payload)
    assert field in exc.value.errors
    assert _outbox(uow) == []
    with uow() as u:
        assert handlers.list_clients(u)["items"] == []


def test_missing_client_is_not_found(uow):
    with uow() as u, pytest.raises(NotFound):
        handlers.get_client(u, "nope")


def test_list_pages_through_everything_once(uow):
    with uow() as u:
        ids = {handlers.create_client(u, {"name": f"c{i}"})["id"] for i in range(7)}
    seen, cursor = [], None
    while True:
        with uow() as u:
            page = handlers.list_clients(u, limit=3, cursor=cursor)
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 7
    with uow() as u, pytest.raises(ValidationFailed):
        handlers.list_clients(u, cursor="garbage")


def _succeeded(client_id, fetched_at="2026-01-01T10:00:00Z", name="SAD s.r.o."):
    return {"id": "e-" + fetched_at, "type": "ares.lookup_succeeded", "data": {
        "client_id": client_id, "ico": "25063677", "fetched_at": fetched_at,
        "record": {"name": name, "dic": "CZ25063677", "vat_payer": True, "legal_form": "112",
                   "nace": ["471"], "registered_address": {"city": "Cítov"}}}}


def test_registry_data_emits_client_updated_with_changes(uow):
    with uow() as u:
        client = handlers.create_client(u, {"name": "sad", "ico": "25063677"})
    with uow() as u:
        handlers.apply_registry_data(u, _succeeded(client["id"]))
        u.commit()
    updated = [e for e in _outbox(uow) if e["type"] == "client.updated"]
    assert len(updated) == 1
    data = updated[0]["data"]
    assert data["source"] == "ares"
    assert data["changes"]["name"] == {"before": "sad", "after": "SAD s.r.o."}
    assert data["client"]["registry"]["status"] == "ok"
    with uow() as u:
        assert handlers.get_client(u, client["id"])["dic"] == "CZ25063677"


def test_lookup_failure_marks_status_once(uow):
    with uow() as u:
        client = handlers.create_client(u, {"name": "x", "ico": "25596641"})
    failed = {"id": "f1", "type": "ares.lookup_failed", "data": {
        "client_id": client["id"], "ico": "25596641", "reason": "not_found"}}
    for _ in range(2):
        with uow() as u:
            handlers.registry_lookup_failed(u, failed)
            u.commit()
    updates = [e for e in _outbox(uow) if e["type"] == "client.updated"]
    assert len(updates) == 1
    with uow() as u:
        stored = handlers.get_client(u, client["id"])
    assert stored["registry"]["status"] == "not_found" and stored["name"] == "x"


def test_idempotency_key_gives_the_first_answer_again(uow):
    payload = {"name": "Jednou", "ico": "25063677"}
    with uow() as u:
        first = handlers.create_client(u, payload, idempotency_key="k-1")
    with uow() as u:
        again = handlers.create_client(u, payload, idempotency_key="k-1")
    assert again == first
    assert [e["type"] for e in _outbox(uow)] == ["client.created"]
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_client(u, {"name": "Jinak"}, idempotency_key="k-1")
    assert "Idempotency-Key" in exc.value.errors
    with uow() as u:
        other = handlers.create_client(u, {"name": "Jednou"}, idempotency_key="k-2")
    assert other["id"] != first["id"]


def test_concurrent_requests_with_one_key_make_one_client(uow):
    """The second transaction loses on the key's primary key and answers like the first."""
    payload = {"name": "Souběh"}
    with uow() as u:
        winner = handlers.create_client(u, payload, idempotency_key="k")
    with uow() as u:  # a request that looked for the key before the winner committed
        u.emit("client.created", "loser", {})
        assert u.commit_once(handlers.CREATE, "k", payload, {"id": "loser"}) == winner
    with uow() as u:
        assert len(handlers.list_clients(u)["items"]) == 1
    assert len(_outbox(uow)) == 1


def test_the_plain_read_answers_as_the_unit_of_work_does(uow, engine):
    with uow() as u:
        created = handlers.create_client(u, {"name": "Superfaktura", "ico": "1569651",
                                             "registered_address": {"city": "Praha"}})
    with engine.connect() as connection:
        created.pop("possible_duplicates")  # said to the writer only
        assert handlers.read_client(connection, created["id"]) == created
        with pytest.raises(NotFound):
            handlers.read_client(connection, "nope")
