"""Generated clients (bench/client_data.py) into a clients database on PostgreSQL, fast:
migrated to head first, then COPY, chunk by chunk in parallel processes, with the
secondary indexes made again at the end (one build instead of a million updates).

Each row is made by the service's own code, as creating the client and adding its two
contact persons through the API makes it: ClientCreateSchema and ContactCreateSchema,
`new_client_fields`, `new_contact`, `search.derived` with the contact persons' names,
`search.duplicate_keys`; each value written as SQLAlchemy binds it (JSON `null` for an
empty address, as the service stores it). Not written: the history rows and events of the
creations, which nothing here reads.

`load(url, count)` fills an empty, migrated database; `ScaleDatabase` is a database of
its own per size, kept between runs when asked (reused when its marker says it holds
these clients: size, seed and generator version; migrated to head like any other)."""
import io
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
from sqlalchemy.dialects.postgresql import psycopg2 as pg_dialect

from crm_common.fields import load as load_schema
from crm_common.testing import PG_ADMIN_URL

from clients_service import search
from clients_service.contacts import new_contact
from clients_service.domain import new_client_fields
from clients_service.orm import client_contacts, client_keys, clients, contacts
from clients_service.schemas import ClientCreateSchema, ContactCreateSchema

from . import client_data
from .client_data import CHUNK, SEED, record_id

ROOT = Path(__file__).resolve().parents[1]
ACTOR = "system:bench"  # who the rows say created them
FIRST_CREATED = datetime(2016, 1, 1, tzinfo=timezone.utc)
SPAN = timedelta(days=3650)  # creation times spread over ten years, in index order
TABLES = (clients, contacts, client_contacts, client_keys)
IN_FLIGHT = 2  # chunks queued per worker: constant memory whatever the size


@dataclass
class Loaded:
    clients: int = 0
    contacts: int = 0
    keys: int = 0
    seconds: dict = field(default_factory=dict)  # copy, indexes, analyze

    def add(self, counts: tuple[int, int, int]):
        self.clients += counts[0]
        self.contacts += counts[1]
        self.keys += counts[2]

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def __str__(self):
        parts = ", ".join(f"{name} {s:.0f} s" for name, s in self.seconds.items())
        return (f"{self.clients:,} clients, {self.contacts:,} contact persons, "
                f"{self.keys:,} duplicate keys in {self.total_seconds:.0f} s ({parts})")


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://")


def load(url: str, count: int, seed: int = SEED, workers: int | None = None) -> Loaded:
    """`count` generated clients into the migrated, empty clients database at `url`."""
    loaded = Loaded()
    connection = psycopg2.connect(dsn(url))
    connection.autocommit = True
    try:
        started = time.monotonic()
        indexes = _drop_secondary_indexes(connection)
        workers = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(workers) as pool:
            pending = []
            for chunk in range(-(-count // CHUNK)):  # a bounded queue: memory stays flat
                pending.append(pool.submit(_load_chunk, url, chunk, count, seed))
                while len(pending) >= IN_FLIGHT * workers:
                    loaded.add(pending.pop(0).result())
            for future in pending:
                loaded.add(future.result())
        loaded.seconds["copy"] = time.monotonic() - started
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '1GB'")
            for statement in indexes:
                cursor.execute(statement)
        loaded.seconds["indexes"] = time.monotonic() - started
        started = time.monotonic()
        with connection.cursor() as cursor:  # statistics and the visibility map
            for table in TABLES:
                cursor.execute(f"VACUUM ANALYZE {table.name}")
        loaded.seconds["vacuum analyze"] = time.monotonic() - started
    finally:
        connection.close()
    return loaded


def _drop_secondary_indexes(connection) -> list[str]:
    """Drops the indexes of the loaded tables other than their primary keys; the
    statements that make them again, as the migrations made them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = ANY(%s) AND "
            "NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            ([table.name for table in TABLES],))
        found = cursor.fetchall()
        for name, _ in found:
            cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in found]


def created_at(index: int, count: int) -> datetime:
    return FIRST_CREATED + SPAN * (index / max(count, 1))


_client_schema, _contact_schema = ClientCreateSchema(), ContactCreateSchema()


def rows_of(item: client_data.Generated, count: int, seed: int = SEED) -> dict[str, list]:
    """The rows creating this client and its contact persons writes, by table."""
    at = created_at(item.index, count)
    client = new_client_fields(record_id(seed, "client", item.index),
                               load_schema(_client_schema, item.client), at, ACTOR)
    people, contact_rows, links = [], [], []
    for n, payload in enumerate(item.contacts):
        data = load_schema(_contact_schema, payload)
        contact = new_contact(record_id(seed, f"contact-{n}", item.index), data, ACTOR, at)
        contact_rows.append({column.name: getattr(contact, column.name)
                             for column in contacts.c})
        primary = data.get("primary")
        links.append({"client_id": client["id"], "contact_id": contact.id,
                      "position": data.get("position", contact.position),
                      "is_primary": n == 0 if primary is None else primary,
                      "created_at": at})
        people.append(" ".join(p for p in (contact.first_name, contact.last_name) if p))
    client.update(search.derived(client, people))
    keys = [{"client_id": client["id"], "kind": kind, "value": value}
            for kind, value in search.duplicate_keys(client)]
    return {"clients": [client], "contacts": contact_rows, "client_contacts": links,
            "client_keys": keys}


_DIALECT = pg_dialect.dialect()
_BINDS = {table.name: [(column.name, column.type.dialect_impl(_DIALECT).bind_processor(
    _DIALECT)) for column in table.c] for table in TABLES}
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_cell(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_ESCAPES)


def copy_text(table: str, rows: list[dict]) -> str:
    binds = _BINDS[table]
    lines = []
    for row in rows:
        lines.append("\t".join(_copy_cell(process(row[name]) if process else row[name])
                               for name, process in binds))
    return "\n".join(lines) + "\n"


def _load_chunk(url: str, chunk: int, count: int, seed: int) -> tuple[int, int, int]:
    """One chunk of clients made and copied in, in one transaction (a worker process)."""
    tables: dict[str, list] = {table.name: [] for table in TABLES}
    for item in client_data.chunk_clients(chunk, count, seed):
        for name, rows in rows_of(item, count, seed).items():
            tables[name] += rows
    connection = psycopg2.connect(dsn(url))
    try:
        with connection.cursor() as cursor:
            for name, rows in tables.items():
                columns = ", ".join(column for column, _ in _BINDS[name])
                cursor.copy_expert(f"COPY {name} ({columns}) FROM STDIN",
                                   io.StringIO(copy_text(name, rows)))
        connection.commit()
    finally:
        connection.close()
    return len(tables["clients"]), len(tables["contacts"]), len(tables["client_keys"])


# -- a database per size, kept between runs when asked --------------------------------

def migrate(url: str) -> None:
    """The clients database to head, as `crm-migrate` does it."""
    done = subprocess.run([sys.executable, "-m", "crm_common.migrate", "services/clients"],
                          cwd=ROOT, env=dict(os.environ, CLIENTS_DATABASE_URL=url),
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"migrating the clients database failed: {done.stderr[-2000:]}")


class ScaleDatabase:
    """`crm_scale_<count>`: made, migrated and loaded by `prepare`, unless it is there
    already holding exactly these clients (its comment is the marker, written last, so
    an interrupted load is never taken for a finished one)."""

    def __init__(self, count: int, seed: int = SEED):
        self.count, self.seed = count, seed
        self.name = f"crm_scale_{count}"
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://",
                                                      "postgresql+psycopg2://")
        self.url = f"{base}/{self.name}"
        self.marker = (f"crm bench clients: generator {client_data.VERSION}, seed {seed}, "
                       f"{count} clients")

    def _admin(self):
        connection = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
        connection.autocommit = True
        return connection

    def _comment(self) -> str | None:
        connection = self._admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                               "WHERE datname = %s", (self.name,))
                row = cursor.fetchone()
        finally:
            connection.close()
        return row[0] if row else None

    def prepare(self) -> Loaded | None:
        """The loaded database: what the load took, or None when a kept one was reused
        (and migrated to head)."""
        if self._comment() == self.marker:
            migrate(self.url)
            return None
        self.drop()
        connection = self._admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.name}"')
            migrate(self.url)
            loaded = load(self.url, self.count, self.seed)
            with connection.cursor() as cursor:
                cursor.execute(f'COMMENT ON DATABASE "{self.name}" IS %s', (self.marker,))
        finally:
            connection.close()
        return loaded

    def drop(self) -> None:
        connection = self._admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            connection.close()
