"""nameko entrypoints of the ARES service: thin, everything else is in the modules."""
import os
from datetime import timedelta

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from crm_common.config import env_float
from crm_common.nameko_glue import (Database, HealthCheck, handle_event, handle_events,
                                    reliable_batch_handler, reliable_event_handler, rpc)

from . import SERVICE, handlers, metrics, refresh_jobs
from .breaker import CircuitBreaker
from .client import DEFAULT_BASE_URL, AresClient
from .dispatch import Dispatcher
from .lookups import Settings
from .throttle import SharedThrottle

SETTINGS = Settings(
    cache_ttl=timedelta(seconds=env_float("ARES_CACHE_TTL_SECONDS", 24 * 3600)),
    not_found_ttl=timedelta(seconds=env_float("ARES_NOT_FOUND_TTL_SECONDS", 3600)),
    retry_base=timedelta(seconds=env_float("ARES_RETRY_BASE_SECONDS", 2)),
    retry_cap=timedelta(seconds=env_float("ARES_RETRY_CAP_SECONDS", 600)),
    lease=timedelta(seconds=env_float("ARES_LEASE_SECONDS", 120)),
    refresh_period=timedelta(days=env_float("ARES_REFRESH_DAYS", 30)),
)
# how often the dispatcher looks for lookups to send (a new client waits at most this)
DISPATCH_SECONDS = env_float("ARES_DISPATCH_SECONDS", 0.2)


class Registry(DependencyProvider):
    """One ARES client, throttle and circuit breaker per process; the throttle's bucket
    is in the database, shared with the other replicas."""

    def setup(self):
        # the service's own engine (SQLite allows one connection per process)
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.breaker = CircuitBreaker(
            failures=int(env_float("ARES_BREAKER_FAILURES", 3)),
            cooldown=env_float("ARES_BREAKER_COOLDOWN_SECONDS", 15),
            on_change=metrics.breaker_changed)
        self.client = AresClient(
            os.environ.get("ARES_BASE_URL") or DEFAULT_BASE_URL,
            connect_timeout=env_float("ARES_CONNECT_TIMEOUT", 3.05),
            read_timeout=env_float("ARES_READ_TIMEOUT", 10),
            throttle=SharedThrottle(lambda: database.engine,
                                    rate_per_minute=env_float("ARES_RATE_PER_MINUTE", 300)),
            observe=metrics.observe_request)
        self.dispatcher = Dispatcher(self.client, self.breaker, SETTINGS)
        metrics.serve(int(env_float("ARES_METRICS_PORT", 9102)))

    def stop(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self


class AresService(HealthCheck):
    name = SERVICE
    db = Database(SERVICE)
    registry = Registry()

    @rpc
    def lookup(self, ico):
        return handlers.lookup(self.db, self.registry.client, self.registry.breaker,
                               SETTINGS, ico)

    @rpc
    def refresh(self, client_id, ico):
        return handlers.refresh(self.db, self.registry.client, self.registry.breaker,
                                SETTINGS, client_id, ico)

    @rpc
    def statutory_people(self, ico):
        return handlers.statutory_people(self.db, self.registry.client, self.registry.breaker,
                                         ico)

    @rpc
    def start_refresh(self, targets, skipped=None, idempotency_key=None):
        with self.db() as uow:
            request = {"targets": targets, "skipped": skipped}
            replayed = uow.replay(refresh_jobs.START, idempotency_key, request)
            if replayed is not None:
                return replayed
            job = refresh_jobs.start(uow, targets, skipped)
            return uow.commit_once(refresh_jobs.START, idempotency_key, request, job)

    @rpc
    def refresh_job(self, job_id):
        with self.db() as uow:
            return refresh_jobs.get(uow, job_id)

    @reliable_batch_handler("clients", "client.created")
    def on_client_created(self, events):
        handle_events(handlers.queue_lookups, self.db, handlers.CONSUMER, events)

    @reliable_batch_handler("clients", "client.updated")
    def on_client_updated(self, events):
        handle_events(handlers.queue_lookups, self.db, handlers.CONSUMER, events)

    @reliable_event_handler("clients", "client.erased")
    def on_client_erased(self, event):
        handle_event(handlers.forget_client, self.db, "ares.erasure", event)

    @timer(interval=DISPATCH_SECONDS)
    def dispatch(self):
        self.registry.dispatcher.run(self.db)
