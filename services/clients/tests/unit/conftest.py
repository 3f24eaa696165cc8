"""A clients database on SQLite with the real unit of work, for the use cases."""
import pytest

from clients_service import search_index
from clients_service.orm import metadata
from crm_common.access import SYSTEM
from crm_common.db import make_engine, make_session_factory
from crm_common.events import EventContext
from crm_common.messaging import metadata as messaging_metadata
from crm_common.uow import UnitOfWork


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'clients.db'}")
    metadata.create_all(engine)
    messaging_metadata.create_all(engine)
    with engine.begin() as connection:
        search_index.create(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine):
    """`uow()` opens a unit of work acting for `user:alice`; `uow("user:bob")` for Bob;
    `uow(caller=Caller(...))` answers that caller (the record-level rule)."""
    factory = make_session_factory(engine)
    return lambda actor="user:alice", caller=SYSTEM: UnitOfWork(
        factory, "clients", EventContext(actor=actor, caller=caller))
