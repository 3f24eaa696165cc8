"""Engines and sessions. SQLite (WAL) for the embedded default, PostgreSQL otherwise."""
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
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
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record):
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see above)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def green_postgres() -> None:
    """Under eventlet, let psycopg2 yield to other green threads while waiting on I/O."""
    try:
        from psycogreen.eventlet import patch_psycopg
    except ImportError:  # pragma: no cover - psycogreen is a declared dependency
        return
    patch_psycopg()
