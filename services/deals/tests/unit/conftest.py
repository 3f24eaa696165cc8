"""A deals database (SQLite, or PostgreSQL where a test asks) with the real unit of work,
seeded as migration 0003 seeds it."""
import pytest

from crm_common.access import SYSTEM
from crm_common.db import make_engine, make_session_factory
from crm_common.events import EventContext
from crm_common.messaging import metadata as messaging_metadata
from crm_common.uow import UnitOfWork
from deals_service.defaults import seed
from deals_service.orm import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'deals.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("make_postgres_db")("deals")
    engine = make_engine(url)
    metadata.create_all(engine)
    messaging_metadata.create_all(engine)
    with engine.begin() as connection:
        seed(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine):
    """`uow()` acts for `user:alice`; `uow(caller=Caller(...))` answers that caller."""
    factory = make_session_factory(engine)
    return lambda actor="user:alice", caller=SYSTEM: UnitOfWork(
        factory, "deals", EventContext(actor=actor, caller=caller))
