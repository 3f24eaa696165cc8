"""Batch create (`create_clients`) against real SQLite and PostgreSQL databases."""
import json
import threading

import pytest
from sqlalchemy import func, select

from clients_service import handlers
from clients_service.orm import clients, metadata
from crm_common.db import make_engine, make_session_factory
from crm_common.errors import ValidationFailed
from crm_common.messaging import idempotency_keys, metadata as messaging_metadata, outbox
from crm_common.uow import UnitOfWork


@pytest.fixture
def uow(database_url):
    engine = make_engine(database_url)
    metadata.create_all(engine)
    messaging_metadata.create_all(engine)
    factory = make_session_factory(engine)
    yield lambda: UnitOfWork(factory, "clients")
    engine.dispose()


def _count(uow_factory, table):
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(table))


def _events(uow_factory):
    with uow_factory() as uow:
        return [json.loads(r.payload) for r in
                uow.session.execute(select(outbox).order_by(outbox.c.id))]


def test_a_batch_answers_each_item_in_order_and_invalid_ones_stop_nothing(uow):
    items = [{"name": "Alfa"}, {"name": "X", "ico": "25063678"}, {"ico": "25596641"},
             {"name": "X", "colour": "red"}, "not an object", {"name": "Omega"}]
    with uow() as u:
        results = handlers.create_clients(u, items, "k1")
    assert [r["status"] for r in results] == [201, 422, 201, 422, 422, 201]
    assert "ico" in results[1]["errors"] and "colour" in results[3]["errors"]
    assert results[0]["client"]["name"] == "Alfa"
    assert results[2]["client"]["ico"] == "25596641"
    assert results[2]["client"]["registry"]["status"] == "pending"
    created = [r["client"] for r in results if r["status"] == 201]
    events = _events(uow)
    assert [e["subject"] for e in events] == [c["id"] for c in created]
    assert all(e["type"] == "client.created" for e in events)
    assert [e["data"]["client"] for e in events] == [handlers.event_client(c) for c in created]
    assert _count(uow, clients) == 3


def test_the_same_batch_sent_again_answers_the_same_and_creates_nothing(uow):
    items = [{"name": f"c{i}"} for i in range(50)] + [{"name": ""}]
    with uow() as u:
        first = handlers.create_clients(u, items, "again")
    with uow() as u:
        second = handlers.create_clients(u, items, "again")
    assert second == first
    assert _count(uow, clients) == 50 and len(_events(uow)) == 50
    # an item changed under the same key is refused, the others still answer as before
    changed = list(items)
    changed[3] = {"name": "someone else"}
    with uow() as u:
        third = handlers.create_clients(u, changed, "again")
    assert third[3]["status"] == 422 and "Idempotency-Key" in third[3]["errors"]
    assert third[:3] == first[:3] and _count(uow, clients) == 50


def test_without_a_key_nothing_is_remembered(uow):
    with uow() as u:
        handlers.create_clients(u, [{"name": "a"}, {"name": "b"}])
    with uow() as u:
        handlers.create_clients(u, [{"name": "a"}, {"name": "b"}])
    assert _count(uow, clients) == 4 and _count(uow, idempotency_keys) == 0


@pytest.mark.parametrize("items", [[], None, {"name": "x"}, [{"name": "x"}] * 1001])
def test_a_batch_of_the_wrong_size_or_shape_is_refused_whole(uow, items):
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_clients(u, items, "k")
    assert "items" in exc.value.errors
    assert _count(uow, clients) == 0 and _events(uow) == []


def test_concurrent_copies_of_one_batch_create_it_once(uow):
    items = [{"name": f"c{i}"} for i in range(200)]
    answers, errors = [], []

    def send():
        try:
            with uow() as u:
                answers.append(handlers.create_clients(u, items, "race"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(answers) == 3
    assert answers[0] == answers[1] == answers[2]
    assert _count(uow, clients) == 200 and len(_events(uow)) == 200


def test_keys_follow_the_callers_positions_so_a_corrected_batch_creates_only_the_fix(uow):
    """The gateway leaves out what it refused itself and names the positions: the same
    batch sent again with the refused item corrected creates that one and no other."""
    with uow() as u:
        first = handlers.create_clients(u, [{"name": "A"}, {"name": "C"}], "fix", [0, 2])
    with uow() as u:
        second = handlers.create_clients(u, [{"name": "A"}, {"name": "B"}, {"name": "C"}],
                                         "fix", [0, 1, 2])
    assert [r["status"] for r in second] == [201, 201, 201]
    assert second[0] == first[0] and second[2] == first[1]
    assert _count(uow, clients) == 3 and len(_events(uow)) == 3


@pytest.mark.parametrize("positions", [[0], [0, 0], [-1, 1], ["a", 1], [0, 10_000]])
def test_positions_that_do_not_name_each_item_once_are_refused(uow, positions):
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_clients(u, [{"name": "a"}, {"name": "b"}], "k", positions)
    assert "positions" in exc.value.errors and _count(uow, clients) == 0


def test_a_caller_key_of_the_longest_allowed_length_still_fits_every_item(uow):
    key = "k" * 200
    items = [{"name": f"c{i}"} for i in range(1000)]
    with uow() as u:
        first = handlers.create_clients(u, items, key)
    with uow() as u:
        assert handlers.create_clients(u, items, key) == first
    assert _count(uow, clients) == 1000 and _count(uow, idempotency_keys) == 1000


def test_an_email_too_long_to_store_is_one_items_error(uow):
    long_email = "a" * 250 + "@b.cz"
    with uow() as u:
        results = handlers.create_clients(u, [{"name": "x", "email": long_email},
                                              {"name": "y"}], "mail")
    assert [r["status"] for r in results] == [422, 201]
    assert "email" in results[0]["errors"]
