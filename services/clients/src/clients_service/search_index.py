"""The search index, in each dialect's own form (migration 0008 makes it; the unit tests'
databases too): SQLite an FTS5 table, PostgreSQL a trigram index (pg_trgm)."""
from sqlalchemy import text


def _create_sqlite(connection):
    """An external-content FTS5 index over clients.search_text, kept by triggers. Its rowid
    is `search_seq`, a number of our own: SQLite may renumber a table's rowids (VACUUM, a
    copied table), which would point the index at the wrong clients. A later migration
    that makes Alembic copy `clients` (batch mode) must create these triggers again."""
    for statement in (
            "ALTER TABLE clients ADD COLUMN search_seq INTEGER",
            "UPDATE clients SET search_seq = rowid",
            "CREATE UNIQUE INDEX ux_clients_search_seq ON clients (search_seq)",
            "CREATE VIRTUAL TABLE clients_fts USING fts5(search_text, content='clients', "
            "content_rowid='search_seq', tokenize='unicode61 remove_diacritics 2')",
            "INSERT INTO clients_fts(rowid, search_text) "
            "SELECT search_seq, search_text FROM clients",
            *TRIGGERS):
        connection.exec_driver_sql(statement)


TRIGGERS = (
    "CREATE TRIGGER clients_fts_insert AFTER INSERT ON clients BEGIN "
    "UPDATE clients SET search_seq = (SELECT coalesce(max(search_seq), 0) + 1 FROM clients) "
    "WHERE rowid = new.rowid; "
    "INSERT INTO clients_fts(rowid, search_text) SELECT search_seq, search_text FROM clients "
    "WHERE rowid = new.rowid; END",
    "CREATE TRIGGER clients_fts_delete AFTER DELETE ON clients BEGIN "
    "INSERT INTO clients_fts(clients_fts, rowid, search_text) VALUES ('delete', "
    "old.search_seq, old.search_text); END",
    "CREATE TRIGGER clients_fts_update AFTER UPDATE OF search_text ON clients BEGIN "
    "INSERT INTO clients_fts(clients_fts, rowid, search_text) VALUES ('delete', "
    "old.search_seq, old.search_text); INSERT INTO clients_fts(rowid, search_text) "
    "VALUES (new.search_seq, new.search_text); END",
)


def create(connection) -> None:
    if connection.dialect.name == "sqlite":
        _create_sqlite(connection)
    else:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        connection.exec_driver_sql("CREATE INDEX ix_clients_search_trgm ON clients "
                                   "USING gin (search_text gin_trgm_ops)")


def drop(connection) -> None:
    if connection.dialect.name == "sqlite":
        for trigger in ("clients_fts_insert", "clients_fts_delete", "clients_fts_update"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        connection.exec_driver_sql("DROP TABLE IF EXISTS clients_fts")
        connection.exec_driver_sql("DROP INDEX IF EXISTS ux_clients_search_seq")
        connection.exec_driver_sql("ALTER TABLE clients DROP COLUMN search_seq")
    else:
        connection.exec_driver_sql("DROP INDEX IF EXISTS ix_clients_search_trgm")


def fts_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term as a word prefix (terms are folded words)."""
    return " AND ".join(f'"{term}"*' for term in terms)


def matches_sqlite(terms):
    return text("clients.search_seq IN (SELECT rowid FROM clients_fts WHERE clients_fts "
                "MATCH :fts)").bindparams(fts=fts_query(terms))
