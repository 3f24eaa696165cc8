"""The `Database` dependency: a unit-of-work factory per worker, and the service's outbox relay."""
import logging
import os
import time

from nameko.extensions import DependencyProvider

from .. import config
from ..context import set_current, setup_logging
from ..db import claim_sqlite_database, green_postgres, make_engine, make_session_factory
from ..errors import DeadlineExceeded
from ..events import EventContext
from ..outbox import OutboxRelay
from ..retention import RetentionLoop
from ..uow import UnitOfWork

log = logging.getLogger(__name__)

DEADLINE_KEY = "deadline"  # RPC context: the caller's deadline, UNIX time in milliseconds


def context_from(worker_ctx) -> EventContext:
    data = worker_ctx.data
    return EventContext(
        correlation_id=data.get("correlation_id") or worker_ctx.call_id,
        causation_id=data.get("causation_id"),
        actor=data.get("actor"),
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
        self.engine = make_engine(url)
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
        deadline = worker_ctx.data.get(DEADLINE_KEY)
        commits = []  # of this worker: a failure after one leaves the call half done

        def unit_of_work(ctx: EventContext | None = None):
            late = seconds_late(deadline)
            if late is not None:  # the caller gave up: begin nothing it believes undone
                raise DeadlineExceeded(f"the caller's deadline passed {late:.1f}s ago")
            return self.uow_class(self.session_factory, self.service, ctx or context,
                                  after_commit=self.relay.wake,
                                  on_commit=lambda: commits.append(True),
                                  committed_before=lambda: bool(commits))
        return unit_of_work
