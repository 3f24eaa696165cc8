"""nameko entrypoints of the activities service: thin, everything else is in handlers."""

from crm_common.nameko_glue import (Database, HealthCheck, handle_event,
                                    reliable_event_handler, rpc)

from . import SERVICE, handlers

CONSUMER = "activities.timeline"


class ActivitiesService(HealthCheck):
    name = SERVICE
    db = Database(SERVICE)

    @rpc
    def timeline(self, client_id=None, deal_id=None, limit=50, cursor=None, types=None):
        with self.db() as uow:
            return handlers.timeline(uow, client_id, deal_id, limit, cursor, types)

    @rpc
    def add_note(self, payload, idempotency_key=None):
        with self.db() as uow:
            return handlers.add_note(uow, payload, idempotency_key)

    @reliable_event_handler("clients", "client.created")
    def on_client_created(self, event):
        handle_event(handlers.record_event, self.db, CONSUMER, event)

    @reliable_event_handler("clients", "client.updated")
    def on_client_updated(self, event):
        handle_event(handlers.record_event, self.db, CONSUMER, event)

    @reliable_event_handler("ares", "ares.lookup_failed")
    def on_lookup_failed(self, event):
        handle_event(handlers.record_event, self.db, CONSUMER, event)
