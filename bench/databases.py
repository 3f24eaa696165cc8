"""Throw-away databases for a run (SQLite files, PostgreSQL databases) and a reader that
counts rows without taking SQLite's write lock from the service that owns the file."""
import sqlite3
import uuid
from pathlib import Path

from crm_common.testing import PG_ADMIN_URL


class Databases:
    """Makes SQLAlchemy URLs of fresh databases; drops the PostgreSQL ones at `close`."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self._admin = None
        self._created: list[str] = []

    def url(self, dialect: str, label: str) -> str:
        name = f"bench_{uuid.uuid4().hex[:8]}_{label}"
        if dialect == "sqlite":
            return f"sqlite:///{self.tmp / (name + '.db')}"
        with self.admin().cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg2://")

    def env(self, dialect: str, services) -> dict:
        """`<SERVICE>_DATABASE_URL` of each service, as `crm_common.testing.database_env`."""
        return {f"{name.upper()}_DATABASE_URL": self.url(dialect, name) for name in services}

    def admin(self):
        if self._admin is None:
            import psycopg2
            self._admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
            self._admin.autocommit = True
        return self._admin

    def postgres_version(self) -> str:
        try:
            with self.admin().cursor() as cur:
                cur.execute("SHOW server_version")
                return cur.fetchone()[0]
        except Exception as exc:  # noqa: BLE001 - reported, the SQLite paths still run
            return f"unavailable ({type(exc).__name__})"

    def close(self):
        if self._admin is None:
            return
        with self._admin.cursor() as cur:
            for name in self._created:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.close()
        self._admin = None


class RowCounter:
    """`SELECT count(*)` over and over, on its own connection; SQLite opened read-only."""

    def __init__(self, url: str, sql: str):
        self.sql = sql
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1]
            self.connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                              isolation_level=None)
        else:
            import psycopg2
            self.connection = psycopg2.connect(url.replace("postgresql+psycopg2://",
                                                           "postgresql://"))
            self.connection.autocommit = True

    def count(self) -> int:
        cursor = self.connection.cursor()
        try:
            cursor.execute(self.sql)
            return cursor.fetchone()[0]
        finally:
            cursor.close()

    def close(self):
        self.connection.close()
