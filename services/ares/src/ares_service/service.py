"""nameko entrypoints of the ARES service: thin, everything else is in handlers."""
import os
from datetime import timedelta

import eventlet
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from crm_common.config import env_float
from crm_common.events import context_of
from crm_common.nameko_glue import (Database, HealthCheck, handle_event,
                                    reliable_batch_handler, reliable_event_handler, rpc)

from . import SERVICE, handlers
from .client import DEFAULT_BASE_URL, AresClient
from .throttle import Throttle

SETTINGS = handlers.Settings(
    cache_ttl=timedelta(seconds=env_float("ARES_CACHE_TTL_SECONDS", 24 * 3600)),
    not_found_ttl=timedelta(seconds=env_float("ARES_NOT_FOUND_TTL_SECONDS", 3600)),
    retry_base=timedelta(seconds=env_float("ARES_RETRY_BASE_SECONDS", 10)),
    retry_cap=timedelta(seconds=env_float("ARES_RETRY_CAP_SECONDS", 3600)),
)
RETRY_POLL_SECONDS = env_float("ARES_RETRY_POLL_SECONDS", 5)
# lookups of one batch of new clients in flight at once (the throttle still paces them)
CONCURRENT_LOOKUPS = int(env_float("ARES_CONCURRENT_LOOKUPS", 10))


class Registry(DependencyProvider):
    """One ARES client per process, so the throttle covers every worker."""

    def setup(self):
        self.client = AresClient(
            os.environ.get("ARES_BASE_URL") or DEFAULT_BASE_URL,
            connect_timeout=env_float("ARES_CONNECT_TIMEOUT", 3.05),
            read_timeout=env_float("ARES_READ_TIMEOUT", 10),
            throttle=Throttle(rate_per_minute=env_float("ARES_RATE_PER_MINUTE", 300)))

    def stop(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self.client


class AresService(HealthCheck):
    name = SERVICE
    db = Database(SERVICE)
    registry = Registry()

    @rpc
    def lookup(self, ico):
        return handlers.lookup(self.db, self.registry, SETTINGS, ico)

    @rpc
    def refresh(self, client_id, ico):
        return handlers.refresh(self.db, self.registry, SETTINGS, client_id, ico)

    @reliable_batch_handler("clients", "client.created")
    def on_client_created(self, events):
        """A batch of new clients: most have no IČO (nothing to do, and in bulk that was a
        worker each); the others are looked up concurrently, each alone as before (its own
        transactions, its event's correlation). When one fails, the batch's messages run
        again one at a time, and the inbox skips the lookups already recorded."""
        self._look_up(events)

    @reliable_batch_handler("clients", "client.updated")
    def on_client_updated(self, events):
        """A user (or an import) gave a client another IČO: it is looked up as for a new
        client (updates that leave the IČO alone, the register's own among them, are
        skipped)."""
        self._look_up([event for event in events
                       if "ico" in (event["data"].get("changes") or {})
                       and event["data"].get("source") in ("user", "import")])

    @reliable_event_handler("clients", "client.erased")
    def on_client_erased(self, event):
        handle_event(handlers.forget_client, self.db, "ares.erasure", event)

    def _look_up(self, events):
        def look_up(event):
            handlers.look_up_client(lambda: self.db(context_of(event)), self.registry,
                                    SETTINGS, event)

        pool = eventlet.GreenPool(CONCURRENT_LOOKUPS)
        lookups = [pool.spawn(look_up, event) for event in events
                   if event["data"]["client"].get("ico")]
        pool.waitall()  # none left running when the batch ends, failed or not
        for lookup in lookups:
            lookup.wait()  # the first failure fails the batch

    @timer(interval=RETRY_POLL_SECONDS)
    def retry_due(self):
        handlers.retry_due(self.db, self.registry, SETTINGS)
