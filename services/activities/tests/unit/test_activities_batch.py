"""Events recorded in batches (`record_events` through `handle_events`), on SQLite and
PostgreSQL: one transaction per batch, the same entries as one event at a time, one entry
per event however often and in whatever batches it comes."""
import uuid

import pytest
from sqlalchemy import func, select

from activities_service import handlers
from activities_service.orm import metadata, timeline_entries
from crm_common import messaging
from crm_common.db import make_engine, make_session_factory
from crm_common.messaging import inbox
from crm_common.nameko_glue import handle_event, handle_events
from crm_common.uow import UnitOfWork

CONSUMER = "activities.timeline"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A factory of fresh databases of the parameter's dialect: (uow factory, commits)."""
    engines = []

    def make(label: str = "activities"):
        if request.param == "postgresql":
            url = request.getfixturevalue("make_postgres_db")(label)
        else:
            url = f"sqlite:///{tmp_path / (label + '.db')}"
        engine = make_engine(url)
        engines.append(engine)
        metadata.create_all(engine)
        messaging.metadata.create_all(engine)
        factory, commits = make_session_factory(engine), []
        return (lambda: UnitOfWork(factory, "activities",
                                   on_commit=lambda: commits.append(True))), commits

    yield make
    for engine in engines:
        engine.dispose()


def _client_events(make_event, count: int) -> list[dict]:
    events = []
    for n in range(count):
        client = {"id": str(uuid.uuid4()), "name": f"Client {n}", "ico": None}
        events.append(make_event("client.created", {"client": client}, subject=client["id"]))
    return events


def _entries(uow_factory) -> list[dict]:
    with uow_factory() as uow:
        rows = uow.session.execute(select(timeline_entries).order_by(timeline_entries.c.id))
        return [{k: v for k, v in row._mapping.items() if k != "created_at"} for row in rows]


def _count(uow_factory, table) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(table))


def test_a_batch_is_one_transaction_with_the_entries_of_one_at_a_time(database, make_event):
    client = {"id": str(uuid.uuid4()), "name": "Superfaktura", "ico": "01569651"}
    events = _client_events(make_event, 20) + [
        make_event("client.updated", {"client": client, "source": "user", "changes": {
            "name": {"before": "Superfaktura", "after": "Superfaktura s.r.o."}}}),
        make_event("client.updated", {"client": client, "changes": {}}),  # needs no entry
        make_event("ares.lookup_failed", {"client_id": client["id"], "ico": "01569651",
                                          "reason": "not_found"}),
    ]
    batched, commits = database("batched")
    handle_events(handlers.record_events, batched, CONSUMER, events)
    one_at_a_time, _ = database("single")
    for event in events:
        handle_event(handlers.record_event, one_at_a_time, CONSUMER, event)

    assert len(commits) == 1
    assert len(_entries(batched)) == len(events) - 1
    assert _entries(batched) == _entries(one_at_a_time)
    assert _count(batched, inbox) == len(events)  # the skipped event is seen too


def test_duplicates_in_a_batch_and_across_batches_make_one_entry(database, make_event):
    uow_factory, commits = database()
    a, b, c, d = _client_events(make_event, 4)
    handle_events(handlers.record_events, uow_factory, CONSUMER, [a, b, a])
    handle_events(handlers.record_events, uow_factory, CONSUMER, [b, c, a])
    # written before, with its inbox row gone (retention): the entry itself stops it
    with uow_factory() as uow:
        handlers.record_event(uow, d)
        uow.commit()
    handle_events(handlers.record_events, uow_factory, CONSUMER, [d, c])

    assert sorted(entry["event_id"] for entry in _entries(uow_factory)) == \
        sorted(event["id"] for event in (a, b, c, d))
    assert len(commits) == 4
