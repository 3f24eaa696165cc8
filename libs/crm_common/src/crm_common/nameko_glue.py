"""nameko at the edge: database + outbox relay as a dependency, and a reliable event consumer.

Services import from here in their thin `service.py`; domain and handlers never do.
"""
import logging
import os

from kombu import Queue
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from . import config
from .amqp import confirmed_connection
from .context import set_current, setup_logging
from .db import green_postgres, make_engine, make_session_factory
from .events import EventContext
from .outbox import OutboxRelay
from .uow import UnitOfWork

log = logging.getLogger(__name__)

# Delays between attempts of a failing handler; after the last one the message is parked.
RETRY_DELAYS = tuple(float(x) for x in
                     os.environ.get("CRM_RETRY_DELAYS", "1,5,30,120").split(","))
ATTEMPT_HEADER = "x-crm-attempt"


def context_from(worker_ctx) -> EventContext:
    data = worker_ctx.data
    return EventContext(
        correlation_id=data.get("correlation_id") or worker_ctx.call_id,
        causation_id=data.get("causation_id"),
        actor=data.get("actor"),
    )


class Database(DependencyProvider):
    """Gives each worker a unit-of-work factory; runs the service's outbox relay."""

    def __init__(self, service: str, uow_class=UnitOfWork):
        self.service = service
        self.uow_class = uow_class

    def setup(self):
        setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
        url = config.database_url(self.service)
        if url.startswith("postgresql"):
            green_postgres()
        self.engine = make_engine(url)
        self.session_factory = make_session_factory(self.engine)
        self.relay = OutboxRelay(self.engine, self.service,
                                 self.container.config.get("AMQP_URI") or config.amqp_uri(),
                                 sweep_interval=config.env_float("OUTBOX_SWEEP_SECONDS", 2.0))

    def start(self):
        self.container.spawn_managed_thread(self.relay.run)
        self.relay.wake()  # publish whatever a previous run left behind

    def stop(self):
        self.relay.stop()

    def get_dependency(self, worker_ctx):
        context = context_from(worker_ctx)
        set_current(context)  # same green thread as the worker: logs carry the id

        def unit_of_work(ctx: EventContext | None = None):
            return self.uow_class(self.session_factory, self.service, ctx or context,
                                  after_commit=self.relay.wake)
        return unit_of_work


class HealthCheck:
    """Mixin for services with a `db = Database(...)`: the `health` RPC /readyz asks for."""

    @rpc
    def health(self):
        with self.db() as uow:
            uow.ping()
        return {"service": self.name, "status": "ok"}


class ReliableEventHandler(EventHandler):
    """An event handler that never acknowledges and forgets a failure.

    nameko acks a handler's message even when it raised. Here a failure republishes the
    message to a delay queue (TTL, dead-lettered back to the handler's queue) and only
    then acks; after the last delay it goes to `<queue>.parking` for operators to replay.
    The CloudEvent's correlation id and id become the worker's context.
    """

    def handle_message(self, body, message):
        if isinstance(body, dict):
            message.headers.setdefault("correlation_id", body.get("correlationid"))
            message.headers.setdefault("causation_id", body.get("id"))
            message.headers.setdefault("actor", body.get("actor"))
        super().handle_message(body, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is not None:
            try:
                self._retry_or_park(message, exc_info)
            except Exception:  # cannot hand it on: let the broker redeliver it
                log.exception("could not schedule a retry; requeueing")
                self.queue_consumer.requeue_message(message)
                return
        self.queue_consumer.ack_message(message)

    def _retry_or_park(self, message, exc_info):
        queue = self.queue.name
        attempt = int(message.headers.get(ATTEMPT_HEADER, 0)) + 1
        headers = dict(message.headers, **{ATTEMPT_HEADER: attempt,
                                           "x-crm-error": repr(exc_info[1])[:1000]})
        if attempt <= len(RETRY_DELAYS):
            delay = RETRY_DELAYS[attempt - 1]
            # named by its delay: changing CRM_RETRY_DELAYS makes new queues instead of
            # clashing with the TTL an existing queue was declared with
            target = Queue(f"{queue}.retry.{int(delay * 1000)}ms", durable=True, queue_arguments={
                "x-message-ttl": int(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue})
            log.warning("handler %s failed (attempt %d), retrying in %ss: %r",
                        queue, attempt, delay, exc_info[1])
        else:
            target = Queue(f"{queue}.parking", durable=True)
            log.error("handler %s failed %d times, parked: %r", queue, attempt, exc_info[1])
        amqp_uri = self.container.config.get("AMQP_URI") or config.amqp_uri()
        with confirmed_connection(amqp_uri) as conn:
            producer = conn.Producer()
            target(producer.channel).declare()
            producer.publish(message.body, exchange="", routing_key=target.name,
                             headers=headers, content_type=message.content_type,
                             content_encoding=message.content_encoding, delivery_mode=2,
                             message_id=message.properties.get("message_id"), retry=False)


reliable_event_handler = ReliableEventHandler.decorator


def handle_event(handler, uow_factory, consumer: str, event: dict) -> None:
    """Run `handler(uow, event)` once per (consumer, event id), in one transaction."""
    with uow_factory() as uow:
        if uow.seen(consumer, event):
            log.info("duplicate %s %s skipped by %s", event.get("type"), event.get("id"), consumer)
            return
        handler(uow, event)
        uow.commit()
