"""The `Database` dependency: a unit-of-work factory per worker, and the service's outbox relay."""
import contextlib
import logging
import os
import time

from nameko.extensions import DependencyProvider
from sqlalchemy import Engine, event
from sqlalchemy.orm import sessionmaker

from .. import config
from ..access import Caller
from ..context import set_current, setup_logging
from ..db import claim_sqlite_database, green_postgres, make_engine, make_session_factory
from ..errors import DeadlineExceeded, ServiceUnavailable
from ..events import EventContext
from ..outbox import OutboxRelay
from ..retention import RetentionLoop
from ..uow import DATABASE_UNREACHABLE, UnitOfWork

log = logging.getLogger(__name__)

DEADLINE_KEY = "deadline"  # RPC context: the caller's deadline, UNIX time in milliseconds


def context_from(worker_ctx) -> EventContext:
    data = worker_ctx.data
    return EventContext(
        correlation_id=data.get("correlation_id") or worker_ctx.call_id,
        causation_id=data.get("causation_id"),
        actor=data.get("actor"),
        caller=Caller.from_context(data),
    )


def seconds_late(deadline_ms, now: float | None = None) -> float | None:
    """How long ago the deadline passed; None when there is none or it has not passed."""
    try:
        deadline = float(deadline_ms) / 1000.0
    except (TypeError, ValueError):
        return None
    late = (time.time() if now is None else now) - deadline
    return late if late > 0 else None


class Database(DependencyProvider):
    """Gives each worker a unit-of-work factory; runs the service's outbox relay and the
    retention of its messaging tables."""

    def __init__(self, service: str, uow_class=UnitOfWork):
        self.service = service
        self.uow_class = uow_class

    def setup(self):
        setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
        url = config.database_url(self.service)
        # SQLite: refuse to start beside another process on the same file (DatabaseInUse)
        self.claim = claim_sqlite_database(url, self.service)
        if url.startswith("postgresql"):
            green_postgres()
        # PostgreSQL: a connection for every worker plus the relay and the retention loop,
        # so none is opened and closed under load (no pre-ping either: a connection the
        # server dropped fails one call, as "nothing was done", and SQLAlchemy then
        # replaces the whole pool)
        workers = int(self.container.config.get("max_workers") or 10)
        self.engine = make_engine(url, **({} if url.startswith("sqlite") else
                                          {"pool_size": workers + 2, "max_overflow": 4}))
        self.session_factory = make_session_factory(self.engine)
        self.read_engine = read_engine(url, self.engine, workers)
        self.read_session_factory = read_only(make_session_factory(self.read_engine))
        self.relay = OutboxRelay(self.engine, self.service,
                                 self.container.config.get("AMQP_URI") or config.amqp_uri(),
                                 sweep_interval=config.env_float("OUTBOX_SWEEP_SECONDS", 2.0))
        self.retention = RetentionLoop(self.engine)

    def start(self):
        self.container.spawn_managed_thread(self.relay.run, identifier="outbox_relay")
        self.container.spawn_managed_thread(self.retention.run, identifier="retention")
        self.relay.wake()  # publish whatever a previous run left behind

    def stop(self):
        self.retention.stop()
        # runs after the last worker finished: the relay publishes what they committed
        self.relay.stop()
        bound = self.relay.stop_drain_seconds + 3 * self.relay.publisher.timeout
        if not self.relay.stopped.wait(bound):
            log.warning("outbox relay did not finish in %.0fs; the next start publishes "
                        "what is left", bound)

    def get_dependency(self, worker_ctx):
        context = context_from(worker_ctx)
        set_current(context)  # same green thread as the worker: logs carry the id
        return WorkerDatabase(self, context, worker_ctx.data.get(DEADLINE_KEY))


def read_engine(url: str, engine: Engine, workers: int) -> Engine:
    """Where reads run (`self.db.read()`, `self.db.reader()`). PostgreSQL: connections of
    their own in autocommit, so a select goes without the BEGIN and ROLLBACK round trips
    around it (a third of a one-client read's CPU and wall time; under READ COMMITTED each
    statement has its own snapshot in a transaction too); the pool fills only as far as
    reads run at once. SQLite: the service's one connection (make_engine)."""
    if url.startswith("sqlite"):
        return engine
    return make_engine(url, isolation_level="AUTOCOMMIT", pool_size=workers, max_overflow=2)


def read_only(factory: sessionmaker) -> sessionmaker:
    """`factory`'s sessions refuse to write: a statement through the session other than a
    select, and a flush of changed objects (on autocommit connections a write would be
    stored at once)."""
    factory = sessionmaker(**factory.kw)

    @event.listens_for(factory, "do_orm_execute")
    def _selects_only(state):
        if not state.is_select:
            raise RuntimeError("a read-only unit of work cannot write: use self.db()")

    @event.listens_for(factory, "before_flush")
    def _no_flush(session, *_):
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("a read-only unit of work cannot write: use self.db()")
    return factory


class WorkerDatabase:
    """What a worker gets as `self.db`: `self.db()` opens a unit of work; `self.db.read()`
    a plain connection, for a read that needs no unit of work (no session, no outbox, no
    deadline check: a late read changes nothing)."""

    def __init__(self, provider: Database, context: EventContext, deadline):
        self._provider = provider
        self._context = context
        self.caller = context.caller  # whom this call answers (the access rules)
        self._deadline = deadline
        self._commits = []  # of this worker: a failure after one leaves the call half done

    def __call__(self, ctx: EventContext | None = None):
        late = seconds_late(self._deadline)
        if late is not None:  # the caller gave up: begin nothing it believes undone
            raise DeadlineExceeded(f"the caller's deadline passed {late:.1f}s ago")
        provider = self._provider
        return provider.uow_class(provider.session_factory, provider.service,
                                  ctx or self._context, after_commit=provider.relay.wake,
                                  on_commit=lambda: self._commits.append(True),
                                  committed_before=lambda: bool(self._commits))

    def reader(self):
        """A unit of work for an RPC that only reads (a list, a search, the parts of the
        client card), on the read connections: its session refuses any statement but a
        select and any flush of changed objects (`read_only`; a write straight through
        `session.connection()` is not caught, so such a handler keeps `self.db()`)."""
        provider = self._provider
        return provider.uow_class(provider.read_session_factory, provider.service,
                                  self._context)

    @contextlib.contextmanager
    def read(self):
        try:
            with self._provider.read_engine.connect() as connection:
                yield connection
        except DATABASE_UNREACHABLE as exc:
            raise ServiceUnavailable("the database cannot be reached") from exc
