import uuid

import pytest

from activities_service.orm import metadata
from crm_common import messaging
from crm_common.db import make_engine, make_session_factory
from crm_common.events import EventContext
from crm_common.nameko_glue.database import read_only
from crm_common.uow import UnitOfWork


@pytest.fixture
def session_factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'activities.db'}")
    metadata.create_all(engine)
    messaging.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def units(request, tmp_path):
    """`units(actor=None)`: a unit of work on a fresh database, once on SQLite and once on
    PostgreSQL; `units.reader(actor=None)` a read-only one."""
    url = f"sqlite:///{tmp_path / 'activities.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("make_postgres_db")("activities")
    engine = make_engine(url)
    metadata.create_all(engine)
    messaging.metadata.create_all(engine)
    factory = make_session_factory(engine)

    def unit(actor=None):
        return UnitOfWork(factory, "activities", EventContext(actor=actor))
    # read-only, as the RPCs that only read run (`self.db.reader()`)
    readers = read_only(factory)
    unit.reader = lambda actor=None: UnitOfWork(readers, "activities",
                                                EventContext(actor=actor))
    yield unit
    engine.dispose()


@pytest.fixture
def uow_factory(session_factory):
    def factory(actor=None):
        return UnitOfWork(session_factory, "activities", EventContext(actor=actor))
    return factory


@pytest.fixture
def make_event():
    def make(event_type, data, time="2026-01-10T10:00:00Z", subject=None, actor=None):
        return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": event_type,
                "source": "/crm/" + event_type.split(".")[0], "time": time,
                "subject": subject, "correlationid": str(uuid.uuid4()), "causationid": None,
                "actor": actor, "data": data}
    return make
