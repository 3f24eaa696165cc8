"""Engines and sessions. SQLite (WAL) for the embedded default, PostgreSQL otherwise."""
import contextlib
import fcntl
import os
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import (cast, create_engine, event, exists, func, literal, literal_column,
                        select, text)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        # One connection per process: under eventlet a green thread holding the write lock
        # may yield (e.g. while the relay publishes) and another one waiting in SQLite's C
        # busy handler would freeze the whole process. Waiting for the pool is cooperative.
        kwargs.setdefault("poolclass", QueuePool)
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 60)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take the write lock at
        # BEGIN instead so two writers never deadlock upgrading a read lock.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    # no pre-ping (a round trip per checkout); a connection that idled too long is replaced
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record):
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see above)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def while_unreachable(url: str, work, timeout: float = 120, interval: float = 1):
    """`work()`, again while the database server cannot be reached (OperationalError), for up
    to `timeout` seconds: a one-shot job (migrations, the first administrator) started with its
    database server, or while the server's name does not resolve yet, waits instead of failing.
    Only for work that is safe to repeat (PostgreSQL migrations are transactional); SQLite is
    never retried (its OperationalError is a lock or a broken file, not a server away)."""
    if url.startswith("sqlite"):
        return work()
    deadline = time.monotonic() + timeout
    while True:
        try:
            return work()
        except OperationalError as exc:
            if time.monotonic() >= deadline or not _server_away(exc):
                raise  # a wrong password or a missing database says so at once
            print(f"waiting for the database: {str(exc.orig).strip().splitlines()[0]}",
                  file=sys.stderr, flush=True)
            time.sleep(interval)


# what libpq says while the server is not there yet (or its name does not resolve yet)
_AWAY = ("could not translate host name", "connection refused", "could not connect",
         "timeout expired", "the database system is starting up",
         "the database system is shutting down", "server closed the connection",
         "no route to host", "name or service not known", "name resolution")


def _server_away(exc) -> bool:
    return any(sign in str(exc.orig).lower() for sign in _AWAY)


def take_turns(session, name: str, shared: bool = False) -> None:
    """Writers that must not overlap take turns on `name` until their transaction ends: a
    PostgreSQL advisory lock (`shared` ones only exclude the exclusive ones). SQLite needs
    none: its writers always take turns (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    session.execute(text(f"SELECT {function}(hashtext(:name))"), {"name": name})


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def green_postgres() -> None:
    """Under eventlet, let psycopg2 yield to other green threads while waiting on I/O."""
    try:
        from psycogreen.eventlet import patch_psycopg
    except ImportError:  # pragma: no cover - psycogreen is a declared dependency
        return
    patch_psycopg()


# -- SQLite: one process per database file -----------------------------------------------

class DatabaseInUse(RuntimeError):
    """Another process holds this SQLite database."""


class DatabaseClaim:
    """An exclusive `flock` on `<database>.lock`. The kernel drops it when the process ends,
    however it ends (kill -9 too), so a crash never leaves a stale lock behind."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.lock_path = _lock_path(path)
        self._fd = fd

    def release(self) -> None:
        with _claims_lock:
            if _claims.get(self.path) is self:
                del _claims[self.path]
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


_claims: dict[Path, DatabaseClaim] = {}  # what this process holds; keeps the fds open
_claims_lock = threading.Lock()


def sqlite_file(url: str) -> Path | None:
    """The database file of a file-backed SQLite URL; None for anything else."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database.startswith("file:"):  # sqlite:///file:x?mode=memory&uri=true
        database = database[len("file:"):]
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return None
    return Path(database).resolve()


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def claim_sqlite_database(url: str, service: str | None = None) -> DatabaseClaim | None:
    """Take the database for this process, or raise `DatabaseInUse` naming the file.

    SQLite allows one process per database here: two processes would both run outbox
    relays (publishing the same rows) and a writer would wait inside SQLite's C busy
    handler, freezing the eventlet hub. The claim lasts as long as the process; claiming
    again in the same process returns the same claim. A no-op (None) for PostgreSQL and
    in-memory SQLite. `service` only names `<SERVICE>_DATABASE_URL` in the message.
    """
    path = sqlite_file(url)
    if path is None:
        return None
    with _claims_lock:
        if path in _claims:
            return _claims[path]
        lock_path = _lock_path(path)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            variable = f"{service.upper()}_DATABASE_URL" if service else \
                "<SERVICE>_DATABASE_URL"
            raise DatabaseInUse(
                f"SQLite database {path} is in use by another process (pid {holder}; lock "
                f"{lock_path}). SQLite allows one service process per database: stop that "
                f"process first (migrations need the database to themselves too), or use "
                f"PostgreSQL ({variable}) to run replicas.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())  # only to name the holder in the message
        _claims[path] = claim = DatabaseClaim(path, fd)
        return claim


@contextlib.contextmanager
def sqlite_database_claimed(url: str, service: str | None = None):
    """Hold the claim for a block (e.g. a migration); keep it if this process had it."""
    held = sqlite_file(url) in _claims
    claim = claim_sqlite_database(url, service)
    try:
        yield claim
    finally:
        if claim is not None and not held:
            claim.release()


def json_list_holds(session, column, value: str):
    """`column` (a JSON list of strings) holds `value`: SQLite through json_each,
    PostgreSQL through jsonb containment."""
    if session.get_bind().dialect.name == "sqlite":
        return exists(select(literal(1)).select_from(
            func.json_each(column).table_valued("value")).where(
                literal_column("value") == value))
    return cast(column, postgresql.JSONB).contains([value])

