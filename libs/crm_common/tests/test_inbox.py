"""The inbox on a real database: a duplicate is recognised, also when two consumers handle
the same event at the same moment (another replica, a redelivery racing the first run)."""
import threading

import pytest
from sqlalchemy import func, select

from crm_common.db import make_engine, make_session_factory
from crm_common.messaging import inbox, metadata
from crm_common.testing import cloud_event
from crm_common.uow import UnitOfWork


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("make_postgres_db")("inbox")
    else:
        url = f"sqlite:///{tmp_path / 'inbox.db'}"
    engine = make_engine(url, **({"pool_size": 2} if request.param == "sqlite" else {}))
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
