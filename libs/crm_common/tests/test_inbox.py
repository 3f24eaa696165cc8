"""The inbox on a real database: a duplicate is recognised, also when two consumers handle
the same event at the same moment (another replica, a redelivery racing the first run), and
also for a batch of events in one statement."""
import threading

import pytest
from sqlalchemy import func, select

from crm_common.db import make_engine, make_session_factory
from crm_common.messaging import inbox, metadata
from crm_common.nameko_glue import handle_events
from crm_common.testing import cloud_event
from crm_common.uow import UnitOfWork


@pytest.fixture
def factory(database_url):
    sqlite = database_url.startswith("sqlite")
    engine = make_engine(database_url, **({"pool_size": 2} if sqlite else {}))
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_the_second_delivery_is_a_duplicate(factory):
    event = cloud_event("src", "thing.happened", "s", {})
    with UnitOfWork(factory, "svc") as uow:
        assert uow.seen("svc.handler", event) is False
        uow.commit()
    with UnitOfWork(factory, "svc") as uow:
        assert uow.seen("svc.handler", event) is True
        assert uow.seen("other.handler", event) is False  # per consumer


def test_concurrent_duplicates_end_in_one_run_and_no_error(make_postgres_db):
    """PostgreSQL only: on SQLite the second transaction cannot even begin before the first
    commits (one writer, BEGIN IMMEDIATE)."""
    engine = make_engine(make_postgres_db("inbox_race"))
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    event = cloud_event("src", "thing.happened", "s", {})
    first_inserted = threading.Event()
    outcome = {}

    def second():
        with UnitOfWork(factory, "svc") as uow:
            first_inserted.wait(5)
            outcome["second"] = uow.seen("svc.handler", event)  # waits for the first
            uow.commit()

    with UnitOfWork(factory, "svc") as uow:
        outcome["first"] = uow.seen("svc.handler", event)
        thread = threading.Thread(target=second)
        thread.start()
        first_inserted.set()
        thread.join(0.5)
        assert thread.is_alive()  # blocked on the first's uncommitted row
        uow.commit()
    thread.join(10)
    assert outcome == {"first": False, "second": True}
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(inbox)) == 1
    engine.dispose()


def _events(count: int) -> list[dict]:
    return [cloud_event("src", "thing.happened", "s", {"n": n}) for n in range(count)]


def test_unseen_gives_each_new_event_once_and_records_them(factory):
    a, b, c = _events(3)
    with UnitOfWork(factory, "svc") as uow:
        assert uow.seen("svc.handler", a) is False
        uow.commit()
    with UnitOfWork(factory, "svc") as uow:
        assert uow.unseen("svc.handler", [b, a, c, b]) == [b, c]  # in arrival order, once
        uow.commit()
    with UnitOfWork(factory, "svc") as uow:
        assert uow.unseen("svc.handler", [c, b, a]) == []
        assert uow.unseen("other.handler", [c]) == [c]  # per consumer
        assert uow.unseen("svc.handler", []) == []
        assert uow.seen("svc.handler", b) is True  # the same rows as `seen` makes


def test_handle_events_runs_the_new_events_in_one_transaction(factory):
    commits, handled = [], []

    def uow_factory():
        return UnitOfWork(factory, "svc", on_commit=lambda: commits.append(True))

    def record(uow, events):
        handled.append([event["id"] for event in events])

    first, later = _events(4), _events(1)
    handle_events(record, uow_factory, "svc.handler", first + first[:2])
    handle_events(record, uow_factory, "svc.handler", first[1:] + later)
    handle_events(record, uow_factory, "svc.handler", first)  # nothing new: no transaction
    assert handled == [[event["id"] for event in first], [later[0]["id"]]]
    assert len(commits) == 2


def test_a_failed_batch_records_nothing(factory):
    events = _events(3)

    def fail(uow, events):
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        handle_events(fail, lambda: UnitOfWork(factory, "svc"), "svc.handler", events)
    handled = []
    handle_events(lambda uow, new: handled.extend(new), lambda: UnitOfWork(factory, "svc"),
                  "svc.handler", events)
    assert handled == events


def test_concurrent_batches_sharing_events_handle_each_once(make_postgres_db):
    """PostgreSQL only (see above): the second batch waits for the first one's rows."""
    engine = make_engine(make_postgres_db("inbox_batches"))
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    a, b, c = _events(3)
    outcome = {}

    def second():
        with UnitOfWork(factory, "svc") as uow:
            outcome["second"] = uow.unseen("svc.handler", [c, b])
            uow.commit()

    with UnitOfWork(factory, "svc") as uow:
        outcome["first"] = uow.unseen("svc.handler", [a, b])
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # blocked on the first's uncommitted row of b
        uow.commit()
    thread.join(10)
    assert outcome == {"first": [a, b], "second": [c]}
    engine.dispose()
