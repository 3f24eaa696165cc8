"""Every service's migrations build exactly the tables its code maps, on both dialects,
go down again cleanly, and upgrade databases that already hold data."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic import command

from crm_common.messaging import idempotency_keys, inbox, outbox
from crm_common.migrate import alembic_config
from crm_common.stack import SERVICES, repo_root


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migrations_match_the_models(service, dialect, tmp_path, monkeypatch, request):
    if dialect == "postgresql":
        url = request.getfixturevalue("make_postgres_db")(f"mig_{service}")
    else:
        url = f"sqlite:///{tmp_path / (service + '.db')}"
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    config = alembic_config(repo_root() / "services" / service, service)
    command.upgrade(config, "head")
    command.check(config)  # raises when the models have changes no migration holds
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def _messaging_rows(engine) -> dict:
    with engine.connect() as conn:
        return {table.name: [tuple(row) for row in conn.execute(
                    sa.select(table).order_by(*table.primary_key.columns))]
                for table in (outbox, inbox, idempotency_keys)}


def _pending_index_sql(engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return conn.scalar(sa.text(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_outbox_pending'"))
        return conn.scalar(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_outbox_pending'"))


def _uses_pending_index(engine) -> bool:
    query = ("SELECT id, event_type, event_id, payload FROM outbox WHERE sent_at IS NULL "
             "ORDER BY id LIMIT 200")  # the relay's query
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.execute(sa.text("EXPLAIN QUERY PLAN " + query)).all()
            return "ix_outbox_pending" in " ".join(row[-1] for row in plan)
        conn.execute(sa.text("SET enable_seqscan = off"))  # a few rows: force the choice
        return "ix_outbox_pending" in " ".join(
            row[0] for row in conn.execute(sa.text("EXPLAIN " + query)))


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_messaging_v2_keeps_existing_rows(service, dialect, tmp_path, monkeypatch, request):
    """0001 -> 0002 on a database in use: the rows stay, the pending index becomes partial
    (`alembic check` does not compare index predicates, so it is looked at here)."""
    if dialect == "postgresql":
        url = request.getfixturevalue("make_postgres_db")(f"v2_{service}")
    else:
        url = f"sqlite:///{tmp_path / (service + '.db')}"
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    config = alembic_config(repo_root() / "services" / service, service)
    command.upgrade(config, "0001")
    engine = sa.create_engine(url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        for i, sent_at in enumerate([now - timedelta(days=9), None]):
            conn.execute(sa.insert(outbox).values(
                event_id=str(uuid.uuid4()), event_type="client.created", subject=f"s{i}",
                payload="{}", created_at=now, sent_at=sent_at, attempts=i, last_error=None))
        conn.execute(sa.insert(inbox).values(consumer="c.on_x", event_id=str(uuid.uuid4()),
                                             event_type="x.happened", processed_at=now))
        conn.execute(sa.insert(idempotency_keys).values(
            scope="create:u1", key="k1", fingerprint="f" * 64, response="{}", created_at=now))
    before = _messaging_rows(engine)
    assert "sent_at, id" in _pending_index_sql(engine)

    command.upgrade(config, "head")
    command.check(config)
    assert _messaging_rows(engine) == before
    assert "sent_at IS NULL" in _pending_index_sql(engine)
    assert _uses_pending_index(engine)

    command.downgrade(config, "0001")
    assert _messaging_rows(engine) == before
    assert "sent_at, id" in _pending_index_sql(engine)
    assert "WHERE" not in _pending_index_sql(engine).upper()
    command.upgrade(config, "head")
    assert _messaging_rows(engine) == before
    engine.dispose()
