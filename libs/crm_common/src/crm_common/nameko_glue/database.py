"""The `Database` dependency: a unit-of-work factory per worker, and the service's outbox relay."""
import contextlib
import logging
import os
import time

from nameko.extensions import DependencyProvider

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

    @contextlib.contextmanager
    def read(self):
        try:
            with self._provider.engine.connect() as connection:
                yield connection
        except DATABASE_UNREACHABLE as exc:
            raise ServiceUnavailable("the database cannot be reached") from exc
