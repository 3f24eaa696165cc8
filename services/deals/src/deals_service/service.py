"""nameko entrypoints of the deals service: thin, everything else is in the handlers."""

from datetime import datetime

from nameko.extensions import DependencyProvider

from crm_common.nameko_glue import (Database, HealthCheck, handle_events,
                                    reliable_batch_handler, rpc)

from . import (SERVICE, client_events, handlers, pipeline_handlers as pipelines, rates,
               reports)

CONSUMER = "deals.clients"


class CnbRates(DependencyProvider):
    """One ČNB client per process (its HTTP connections kept)."""

    def setup(self):
        self.client = rates.configured_client()

    def stop(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self.client


class DealsService(HealthCheck):
    name = SERVICE
    db = Database(SERVICE)
    cnb = CnbRates()

    # -- deals ------------------------------------------------------------------------

    @rpc
    def create(self, payload, idempotency_key=None):
        with self.db() as uow:
            return handlers.create_deal(uow, payload, idempotency_key)

    @rpc
    def get(self, deal_id):
        with self.db.reader() as uow:
            return handlers.get_deal(uow, deal_id)

    @rpc
    def card(self, client_id, limit=10):
        with self.db.reader() as uow:
            return handlers.card(uow, client_id, limit)

    @rpc
    def list(self, filters=None, sort=None, limit=50, cursor=None):
        with self.db.reader() as uow:
            return handlers.list_deals(uow, filters, sort, limit, cursor)

    @rpc
    def update(self, deal_id, changes, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return handlers.update_deal(uow, deal_id, changes, if_match, idempotency_key)

    @rpc
    def close(self, deal_id, status, payload=None, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return handlers.close_deal(uow, deal_id, status, payload, if_match,
                                       idempotency_key)

    @rpc
    def reopen(self, deal_id, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return handlers.reopen_deal(uow, deal_id, if_match, idempotency_key)

    @rpc
    def delete(self, deal_id, if_match=None, idempotency_key=None):
        with self.db() as uow:
            return handlers.delete_deal(uow, deal_id, if_match, idempotency_key)

    @rpc
    def history(self, deal_id):
        with self.db() as uow:
            return handlers.deal_history(uow, deal_id)

    @rpc
    def client_summary(self, client_id):
        with self.db.reader() as uow:
            return handlers.client_summary(uow, client_id)

    # -- pipelines, stages, the board, lost reasons ---------------------------------------

    @rpc
    def pipelines(self, include_archived=False):
        with self.db() as uow:
            return pipelines.list_pipelines(uow, include_archived)

    @rpc
    def get_pipeline(self, pipeline_id):
        with self.db() as uow:
            return pipelines.get_pipeline(uow, pipeline_id)

    @rpc
    def create_pipeline(self, payload):
        with self.db() as uow:
            return pipelines.create_pipeline(uow, payload)

    @rpc
    def update_pipeline(self, pipeline_id, changes, if_match=None):
        with self.db() as uow:
            return pipelines.update_pipeline(uow, pipeline_id, changes, if_match)

    @rpc
    def add_stage(self, pipeline_id, payload):
        with self.db() as uow:
            return pipelines.add_stage(uow, pipeline_id, payload)

    @rpc
    def update_stage(self, stage_id, changes, if_match=None):
        with self.db() as uow:
            return pipelines.update_stage(uow, stage_id, changes, if_match)

    @rpc
    def delete_stage(self, stage_id, move_to=None):
        with self.db() as uow:
            return pipelines.delete_stage(uow, stage_id, move_to)

    @rpc
    def board(self, pipeline_id, filters=None, stage_id=None, cursor=None, limit=20,
              base_currency=None):
        table = None
        if base_currency:  # in its own transactions, none open while the ČNB answers
            with self.db() as uow:
                table = rates.ExchangeRates(uow.session, self.cnb.fetch).table_for(
                    datetime.now(rates.PRAGUE).date())
        with self.db() as uow:
            return pipelines.board(uow, pipeline_id, filters, stage_id, cursor, limit,
                                   base_currency, table)

    @rpc
    def lost_reasons(self, include_inactive=False):
        with self.db() as uow:
            return pipelines.list_lost_reasons(uow, include_inactive)

    @rpc
    def create_lost_reason(self, payload):
        with self.db() as uow:
            return pipelines.create_lost_reason(uow, payload)

    @rpc
    def update_lost_reason(self, reason_id, changes):
        with self.db() as uow:
            return pipelines.update_lost_reason(uow, reason_id, changes)

    # -- reports ------------------------------------------------------------------------

    @rpc
    def report_pipeline(self, pipeline_id, filters=None):
        with self.db() as uow:
            return reports.pipeline_report(uow, pipeline_id, filters)

    @rpc
    def report_forecast(self, filters=None):
        with self.db() as uow:
            return reports.forecast(uow, filters)

    @rpc
    def report_win_rate(self, closed_from=None, closed_to=None, pipeline_id=None):
        with self.db() as uow:
            return reports.win_rate(uow, closed_from, closed_to, pipeline_id)

    @rpc
    def report_conversion(self, pipeline_id):
        with self.db() as uow:
            return reports.conversion(uow, pipeline_id)

    # -- the clients' events -------------------------------------------------------------

    @reliable_batch_handler("clients", "client.updated")
    def on_client_updated(self, events):
        handle_events(client_events.on_client_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.archived")
    def on_client_archived(self, events):
        handle_events(client_events.on_client_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.restored")
    def on_client_restored(self, events):
        handle_events(client_events.on_client_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.merged")
    def on_client_merged(self, events):
        handle_events(client_events.on_client_events, self.db, CONSUMER, events)

    @reliable_batch_handler("clients", "client.erased")
    def on_client_erased(self, events):
        handle_events(client_events.on_client_events, self.db, CONSUMER, events)
