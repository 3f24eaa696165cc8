"""Every service's migrations build exactly the tables its code maps, on both dialects,
go down again cleanly, and upgrade databases that already hold data."""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic import command

from crm_common.messaging import idempotency_keys, inbox, outbox
from crm_common.migrate import alembic_config
from crm_common.stack import SERVICES, repo_root


@pytest.mark.parametrize("service", [*sorted(SERVICES), "gateway"])
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migrations_match_the_models(service, dialect, tmp_path, monkeypatch, request):
    if dialect == "postgresql":
        url = request.getfixturevalue("make_postgres_db")(f"mig_{service}")
    else:
        url = f"sqlite:///{tmp_path / (service + '.db')}"
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    where = repo_root() / ("gateway" if service == "gateway" else f"services/{service}")
    config = alembic_config(where, service)
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


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_client_record_upgrade_keeps_foundation_era_clients(dialect, tmp_path, monkeypatch,
                                                            request):
    """0002 -> 0003 (the complete client record) on a register in use: every value stays,
    `email` / `phone` become the first of the new lists, each client's history starts with
    its creation, and the code reads the upgraded rows."""
    if dialect == "postgresql":
        url = request.getfixturevalue("make_postgres_db")("record_clients")
    else:
        url = f"sqlite:///{tmp_path / 'clients.db'}"
    monkeypatch.setenv("CLIENTS_DATABASE_URL", url)
    config = alembic_config(repo_root() / "services" / "clients", "clients")
    command.upgrade(config, "0002")
    engine = sa.create_engine(url)
    created = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)
    old = sa.table("clients", *(sa.column(name) for name in (
        "id", "kind", "name", "ico", "email", "phone", "created_at", "updated_at", "version",
        "registry_status")), sa.column("vat_payer", sa.Boolean()),
        sa.column("nace", sa.JSON()), sa.column("registered_address", sa.JSON()))
    rows = [{"id": str(uuid.uuid4()), "kind": "company", "name": "Dvořák a syn s.r.o.",
             "ico": "25596641", "email": "info@dvorak.cz", "phone": "+420603111222",
             "nace": ["471"], "registered_address": {"city": "Brno"},
             "registry_status": "ok", "vat_payer": True,
             "created_at": created, "updated_at": created, "version": 3},
            {"id": str(uuid.uuid4()), "kind": "person", "name": "Jana Nováková", "ico": None,
             "registry_status": None, "vat_payer": None, "email": None, "phone": None, "nace": [], "registered_address": None,
             "created_at": created, "updated_at": created, "version": 1},
            {"id": str(uuid.uuid4()), "kind": "person", "name": "Typed", "ico": None,
             "registry_status": None, "vat_payer": None, "email": None, "phone": "603 111 222", "nace": [], "registered_address": None,
             "created_at": created, "updated_at": created, "version": 1},
            {"id": str(uuid.uuid4()), "kind": "person", "name": "Nonsense", "ico": None,
             "registry_status": None, "vat_payer": None, "email": None, "phone": "volat recepci", "nace": [], "registered_address": None,
             "created_at": created, "updated_at": created, "version": 1}]
    with engine.begin() as conn:
        conn.execute(sa.insert(old), rows)

    command.upgrade(config, "head")
    command.check(config)
    with engine.connect() as conn:
        stored = {row.id: row for row in conn.execute(sa.text("SELECT * FROM clients"))}
        history = conn.execute(sa.text(
            "SELECT client_id, action, actor, version FROM client_history")).all()
    dvorak, jana = stored[rows[0]["id"]], stored[rows[1]["id"]]
    assert (dvorak.name, dvorak.ico, dvorak.email, dvorak.phone, dvorak.version) == \
        ("Dvořák a syn s.r.o.", "25596641", "info@dvorak.cz", "+420603111222", 3)
    def as_json(value):  # SQLite hands JSON back as text
        return json.loads(value) if isinstance(value, str) else value
    assert as_json(dvorak.emails) == [{"value": "info@dvorak.cz", "label": None}]
    assert as_json(dvorak.phones) == [{"value": "+420603111222", "label": None}]
    assert as_json(jana.emails) == [] and as_json(jana.tags) == [] and jana.archived_at is None
    assert sorted(history) == sorted([(row["id"], "created", None, row["version"])
                                      for row in rows])
    typed, nonsense = stored[rows[2]["id"]], stored[rows[3]["id"]]
    assert as_json(typed.phones) == [{"value": "+420603111222", "label": None}]
    assert typed.phone == "+420603111222"
    assert as_json(nonsense.phones) == [{"value": "volat recepci", "label": "unverified"}]

    from clients_service import handlers  # the service reads the upgraded rows
    with engine.connect() as conn:
        resource = handlers.read_client(conn, rows[0]["id"])
    assert resource["email"] == "info@dvorak.cz" and resource["emails"][0]["value"] == \
        "info@dvorak.cz" and resource["nace"] == ["471"]
    # the register's values of an enriched client, typed as the register gives them
    assert resource["registry"]["values"]["vat_payer"] is True
    assert resource["registry"]["values"]["nace"] == ["471"]
    assert resource["registry_overrides"] == []

    command.downgrade(config, "0002")
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT email FROM clients WHERE id = :id"),
                           {"id": rows[0]["id"]}) == "info@dvorak.cz"
    engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_import_job_upkeep_upgrade_keeps_jobs(dialect, tmp_path, monkeypatch, request):
    """0003 -> 0004: a job already in the table keeps everything, counts no takeover and
    still has its file."""
    url = request.getfixturevalue("make_postgres_db")("mig_takeovers") if dialect == "postgresql" \
        else f"sqlite:///{tmp_path / 'importer.db'}"
    monkeypatch.setenv("IMPORTER_DATABASE_URL", url)
    config = alembic_config(repo_root() / "services" / "importer", "importer")
    command.upgrade(config, "0003")
    engine = sa.create_engine(url)
    now = datetime.now(timezone.utc)
    jobs = sa.Table("import_jobs", sa.MetaData(), autoload_with=engine)
    row = {"id": str(uuid.uuid4()), "status": "running", "version": 4, "mode": "create",
           "dry_run": False, "file_name": "klienti.xlsx", "file_size": 10, "sha256": "0" * 64,
           "storage": "file", "storage_key": "k", "options": {}, "users": [], "rows_done": 500,
           "last_row": 501, "counts": {"created": 500}, "cancel_requested": False,
           "caller": {"user_id": "anna"}, "runner": "r-1", "lease_until": now,
           "created_at": now, "updated_at": now}
    with engine.begin() as conn:
        conn.execute(sa.insert(jobs).values(**row))
    command.upgrade(config, "head")
    with engine.connect() as conn:
        upgraded = conn.execute(sa.text(
            "SELECT id, status, rows_done, last_row, runner, takeovers, file_removed_at "
            "FROM import_jobs")).one()
    assert tuple(upgraded) == (row["id"], "running", 500, 501, "r-1", 0, None)
    command.downgrade(config, "0003")
    command.upgrade(config, "head")
    engine.dispose()
