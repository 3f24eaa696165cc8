"""nameko entrypoints of the activities service: thin, everything else is in handlers.

The event handlers take what the prefetch window delivers as one batch, in one transaction
(`reliable_batch_handler`, sized in config.yaml)."""

from nameko.timer import timer

from crm_common.config import env_float
from crm_common.events import utcnow
from crm_common.nameko_glue import (Database, HealthCheck, handle_events,
                                    reliable_batch_handler, rpc)

from . import SERVICE, attachments, card as card_handlers, entry_handlers, handlers, plan_handlers
from .calendar import calendar_feed

CONSUMER = "activities.timeline"
# how often open tasks are checked for having fallen due (`task.due` is that late at most)
DUE_CHECK_SECONDS = env_float("ACTIVITIES_DUE_CHECK_SECONDS", 30)


class ActivitiesService(HealthCheck):
    name = SERVICE
    db = Database(SERVICE)

    @rpc
    def card(self, client_id, timeline_limit=10, tasks_limit=10):
        with self.db.reader() as uow:
            return card_handlers.card(uow, client_id, timeline_limit, tasks_limit)

    @rpc
    def timeline(self, client_id=None, deal_id=None, limit=50, cursor=None, types=None,
                 **filters):
        with self.db.reader() as uow:
            return handlers.timeline(uow, client_id, deal_id, limit, cursor, types,
                                     **filters)

    @rpc
    def add_note(self, payload, idempotency_key=None):
        with self.db() as uow:
            return handlers.add_note(uow, payload, idempotency_key)

    @rpc
    def create_activity(self, payload, idempotency_key=None, time_zone=None):
        with self.db() as uow:
            return entry_handlers.create(uow, payload, idempotency_key, time_zone)

    @rpc
    def get_activity(self, activity_id):
        with self.db.reader() as uow:
            return entry_handlers.get(uow, activity_id)

    @rpc
    def activity_target(self, activity_id, deleted=False):
        with self.db() as uow:
            return entry_handlers.target(uow, activity_id, deleted)

    @rpc
    def update_activity(self, activity_id, payload, if_match=None, idempotency_key=None,
                        time_zone=None):
        with self.db() as uow:
            return entry_handlers.update(uow, activity_id, payload, if_match,
                                         idempotency_key, time_zone)

    @rpc
    def delete_activity(self, activity_id, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return entry_handlers.delete(uow, activity_id, if_match, idempotency_key)

    @rpc
    def activity_history(self, activity_id):
        with self.db() as uow:
            return entry_handlers.history(uow, activity_id)

    @rpc
    def tasks(self, query):
        with self.db.reader() as uow:
            return entry_handlers.tasks(uow, query)

    @rpc
    def complete_task(self, task_id, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return entry_handlers.complete_task(uow, task_id, if_match, idempotency_key)

    @rpc
    def reopen_task(self, task_id, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return entry_handlers.reopen_task(uow, task_id, if_match, idempotency_key)

    @timer(interval=DUE_CHECK_SECONDS)
    def announce_due_tasks(self):
        with self.db() as uow:
            entry_handlers.announce_due(uow)

    @rpc
    def activity_plans(self, include_inactive=False):
        with self.db() as uow:
            return plan_handlers.list_plans(uow, include_inactive)

    @rpc
    def get_activity_plan(self, plan_id):
        with self.db() as uow:
            return plan_handlers.get_plan(uow, plan_id)

    @rpc
    def create_activity_plan(self, payload, idempotency_key=None):
        with self.db() as uow:
            return plan_handlers.create_plan(uow, payload, idempotency_key)

    @rpc
    def update_activity_plan(self, plan_id, payload, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return plan_handlers.update_plan(uow, plan_id, payload, if_match,
                                             idempotency_key)

    @rpc
    def apply_activity_plan(self, plan_id, client_id, deal_id=None, owner_id=None,
                            idempotency_key=None, time_zone=None):
        with self.db() as uow:
            return plan_handlers.apply_plan(uow, plan_id, client_id, deal_id, owner_id,
                                            idempotency_key, time_zone)

    @rpc
    def plan_runs(self, client_id=None, deal_id=None):
        with self.db() as uow:
            return plan_handlers.runs(uow, client_id, deal_id)

    @rpc
    def calendar(self, user_id, tasks="events"):
        with self.db() as uow:
            return calendar_feed(uow, user_id, utcnow(), tasks)
    # attachments: the gateway streams a file's bytes through these in pieces
    @rpc
    def attachment_begin(self, meta, idempotency_key=None):
        with self.db() as uow:
            return attachments.begin(uow, meta, idempotency_key)

    @rpc
    def attachment_chunk(self, attachment_id, offset, data):
        with self.db() as uow:
            return attachments.write_piece(uow, attachment_id, offset, data)

    @rpc
    def attachment_finish(self, attachment_id, size, sha256, idempotency_key=None):
        with self.db() as uow:
            return attachments.finish(uow, attachment_id, size, sha256, idempotency_key)

    @rpc
    def attachment_abort(self, attachment_id):
        with self.db() as uow:
            return attachments.abort(uow, attachment_id)

    @rpc
    def attachment_get(self, attachment_id):
        with self.db() as uow:
            return attachments.get(uow, attachment_id)

    @rpc
    def attachment_verify(self, attachment_id):
        with self.db() as uow:
            return attachments.verify(uow, attachment_id)

    @rpc
    def attachment_read(self, attachment_id, offset, length):
        with self.db() as uow:
            return attachments.read(uow, attachment_id, offset, length)

    @rpc
    def attachment_list(self, client_id=None, deal_id=None, activity_id=None, limit=50,
                        cursor=None):
        with self.db() as uow:
            return attachments.list_attachments(uow, client_id, deal_id, activity_id, limit,
                                                cursor)

    @rpc
    def attachment_delete(self, attachment_id, idempotency_key=None, replay_only=False):
        with self.db() as uow:
            return attachments.delete_attachment(uow, attachment_id, idempotency_key,
                                                 replay_only)

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
