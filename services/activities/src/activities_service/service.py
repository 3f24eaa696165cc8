"""nameko entrypoints of the activities service: thin, everything else is in handlers.

The event handlers take what the prefetch window delivers as one batch, in one transaction
(`reliable_batch_handler`, sized in config.yaml)."""

from crm_common.nameko_glue import (Database, HealthCheck, handle_events,
                                    reliable_batch_handler, rpc)

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

    @reliable_batch_handler("clients", "client.created")
    def on_client_created(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.updated")
    def on_client_updated(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.archived")
    def on_client_archived(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.restored")
    def on_client_restored(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.merged")
    def on_client_merged(self, events):
        handle_events(handlers.merge_clients, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "contact.created")
    def on_contact_created(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.erased")
    def on_client_erased(self, events):
        handle_events(handlers.erase_records, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "contact.erased")
    def on_contact_erased(self, events):
        handle_events(handlers.erase_records, self.db, CONSUMER, events)

    @reliable_batch_handler("deals", "deal.created")
    def on_deal_created(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("deals", "deal.stage_changed")
    def on_deal_stage_changed(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("deals", "deal.won")
    def on_deal_won(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("deals", "deal.lost")
    def on_deal_lost(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)

    @reliable_batch_handler("ares", "ares.lookup_failed")
    def on_lookup_failed(self, events):
        handle_events(handlers.record_events, self.db, CONSUMER, events)
