"""The read-only unit of work of RPCs that only read (`self.db.reader()`): it reads, it
cannot write, and on PostgreSQL it runs in autocommit (no transaction around a select)."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, insert, select

from crm_common.db import make_engine, make_session_factory
from crm_common.messaging import idempotency_keys, metadata
from crm_common.nameko_glue.database import read_engine, read_only
from crm_common.uow import UnitOfWork

KEY = {"scope": "s", "key": "k", "fingerprint": "f", "response": "{}",
       "created_at": datetime(2026, 11, 24, tzinfo=timezone.utc)}


@pytest.fixture
def engines(database_url):
    engine = make_engine(database_url)
    metadata.create_all(engine)
    reads = read_engine(database_url, engine, workers=2)
    yield engine, reads
    reads.dispose()
    engine.dispose()


def count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(idempotency_keys)).scalar()


def test_a_reader_reads_what_was_committed(engines):
    engine, reads = engines
    with engine.begin() as connection:
        connection.execute(insert(idempotency_keys).values(**KEY))
    with UnitOfWork(read_only(make_session_factory(reads)), "svc") as uow:
        assert uow.session.execute(select(idempotency_keys.c.key)).scalars().all() == ["k"]


def test_a_reader_refuses_to_write_and_stores_nothing(engines):
    engine, reads = engines
    with pytest.raises(RuntimeError, match="read-only"):
        with UnitOfWork(read_only(make_session_factory(reads)), "svc") as uow:
            uow.session.execute(insert(idempotency_keys).values(**KEY))
    with pytest.raises(RuntimeError, match="read-only"):
        with UnitOfWork(read_only(make_session_factory(reads)), "svc") as uow:
            uow.emit("thing.happened", "s", {})
    assert count(engine) == 0


def test_reads_on_postgresql_run_outside_a_transaction(engines, database_url):
    engine, reads = engines
    if database_url.startswith("sqlite"):
        assert reads is engine  # one connection per process, as make_engine keeps it
        return

    def state_after_a_select(source) -> str:
        """pg_stat_activity's state of the backend that just ran a select, still held."""
        with source.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with engine.connect() as observer:
                return observer.exec_driver_sql(
                    "SELECT state FROM pg_stat_activity WHERE pid = %(pid)s",
                    {"pid": pid}).scalar()
    assert state_after_a_select(reads) == "idle"
    assert state_after_a_select(engine) == "idle in transaction"  # the writers' connections
