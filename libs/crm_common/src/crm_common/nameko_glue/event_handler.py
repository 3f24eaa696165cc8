"""An event consumer that never acknowledges and forgets a message.

nameko acks a handler's message even when the handler raised, and kombu acks (drops) a
message it cannot decode. Here:

* a message that cannot be decoded, or that is not a CloudEvent of the handler's type, is
  parked at once in `<queue>.parking` with the reason (it can never succeed);
* a failing handler's message is republished to a delay queue (TTL, dead-lettered back to
  the handler's queue) and only then acked; after the last delay it is parked;
* a message the broker redelivers (its consumer died with it: out of memory, a segfault, a
  liveness kill) is counted in a header and parked after `CRM_DELIVERY_LIMIT` deliveries,
  instead of killing every process that takes it, forever;
* when even that publish fails, the message is kept (unacked) and the publish is tried again
  after a backoff, without running the handler again.

Every such publish goes through one confirmed, bounded connection per service process, as
`mandatory`: a message is acked only once the broker has taken its copy.
"""
import logging
import os
import uuid
from functools import partial

import eventlet
import eventlet.event
from kombu import Queue
from nameko.events import EventHandler

from ..errors import PoisonEvent, ValidationFailed
from ..events import envelope_problem, rfc3339, utcnow
from .consuming import SafeQueueConsumer
from .publishing import ConfirmedPublisher

log = logging.getLogger(__name__)

# Delays between attempts of a failing handler; after the last one the message is parked.
RETRY_DELAYS = tuple(float(x) for x in
                     os.environ.get("CRM_RETRY_DELAYS", "1,5,30,120").split(","))
# Deliveries that ended without an outcome (the process died) before a message is parked.
DELIVERY_LIMIT = int(os.environ.get("CRM_DELIVERY_LIMIT", "5"))
ATTEMPT_HEADER = "x-crm-attempt"
DELIVERIES_HEADER = "x-crm-deliveries"
ERROR_HEADER = "x-crm-error"
REASON_HEADER = "x-crm-reason"
COPY_HEADER = "x-crm-copy"
# message properties a moved message keeps
KEPT_PROPERTIES = ("message_id", "correlation_id", "timestamp", "type", "app_id", "priority")
# handler verdicts that retrying cannot change
UNRETRYABLE = (PoisonEvent, ValidationFailed)


class ReliableQueueConsumer(SafeQueueConsumer):
    """The event handlers' consumer (apart from RPC's): what it cannot decode is parked."""

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            consumer = consumer_cls(
                queues=[provider.queue], callbacks=[partial(self.handle_message, provider)],
                accept=self.accept, on_decode_error=partial(self._undecodable, provider))
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def _undecodable(self, provider, message, exc):
        # off the consumer's own thread: parking talks to the broker
        self.container.spawn_managed_thread(
            partial(provider.park, message, "undecodable", f"cannot decode the body: {exc!r}"),
            identifier=f"{type(provider).__name__}.park")


class ReliableEventHandler(EventHandler):
    queue_consumer = ReliableQueueConsumer()
    mover = ConfirmedPublisher()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # copies of a redelivered message on their way back to our own queue, until the
        # original is acked: the copy may arrive (and crash us) before that ack is sent
        self._copies_in_flight: dict[str, eventlet.event.Event] = {}

    # -- before a worker ------------------------------------------------------------
    def handle_message(self, body, message):
        in_flight = self._copies_in_flight.get(message.headers.get(COPY_HEADER))
        if in_flight is not None:
            in_flight.wait()
        problem = envelope_problem(body, self.event_type)
        if problem:
            self.park(message, "not-a-cloudevent", f"not a CloudEvent: {problem}")
            return
        if message.delivery_info.get("redelivered"):
            self._count_redelivery(message)
            return
        message.headers.setdefault("correlation_id", body.get("correlationid"))
        message.headers.setdefault("causation_id", body.get("id"))
        message.headers.setdefault("actor", body.get("actor"))
        self.dispatch(body, message)

    def dispatch(self, body, message):
        """Hand a message that passed the checks above to a worker of its own."""
        super().handle_message(body, message)

    def _count_redelivery(self, message):
        """The broker gave this message back: a consumer took it and vanished. The count
        travels with a new copy at the back of the queue (a delivered message's headers
        cannot change); at the limit the message is parked instead of run again."""
        deliveries = _int(message.headers.get(DELIVERIES_HEADER)) + 1
        if deliveries >= DELIVERY_LIMIT:
            log.error("%s: message %s delivered %d times without an outcome, parked",
                      self.queue.name, message.properties.get("message_id"), deliveries)
            self.park(message, "delivery-limit",
                      f"delivered {deliveries} times without an outcome (the handler may be "
                      f"crashing the process)", {DELIVERIES_HEADER: deliveries})
            return
        copy = str(uuid.uuid4())
        self._copies_in_flight[copy] = eventlet.event.Event()
        self._move(message, self.queue, {DELIVERIES_HEADER: deliveries, COPY_HEADER: copy},
                   done=lambda: self._copies_in_flight.pop(copy).send())

    # -- after the worker -----------------------------------------------------------
    def handle_message_processed(self, message, result=None, exc_info=None):
        # runs in the worker: it must never raise (nameko would kill the container)
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        error = exc_info[1]
        if isinstance(error, UNRETRYABLE):
            log.error("handler %s rejected message %s, parked: %r", self.queue.name,
                      message.properties.get("message_id"), error)
            self.park(message, "rejected", repr(error)[:1000])
            return
        attempt = _int(message.headers.get(ATTEMPT_HEADER)) + 1
        headers = {ATTEMPT_HEADER: attempt, ERROR_HEADER: repr(error)[:1000]}
        if attempt > len(RETRY_DELAYS):
            log.error("handler %s failed %d times, parked: %r", self.queue.name, attempt, error)
            self.park(message, "retries-exhausted", repr(error)[:1000], headers)
            return
        delay = RETRY_DELAYS[attempt - 1]
        log.warning("handler %s failed (attempt %d), retrying in %ss: %r",
                    self.queue.name, attempt, delay, error)
        self._move(message, self.retry_queue(delay), headers)

    # -- moving messages -----------------------------------------------------------
    def retry_queue(self, delay: float) -> Queue:
        # named by its delay: changing CRM_RETRY_DELAYS makes new queues instead of
        # clashing with the TTL an existing queue was declared with
        return Queue(f"{self.queue.name}.retry.{int(delay * 1000)}ms", durable=True,
                     queue_arguments={"x-message-ttl": int(delay * 1000),
                                      "x-dead-letter-exchange": "",
                                      "x-dead-letter-routing-key": self.queue.name})

    def parking_queue(self) -> Queue:
        return Queue(f"{self.queue.name}.parking", durable=True)

    def park(self, message, reason: str, error: str, headers: dict | None = None):
        self._move(message, self.parking_queue(), dict(
            headers or {}, **{REASON_HEADER: reason, ERROR_HEADER: error[:1000],
                              "x-crm-parked-at": rfc3339(utcnow()),
                              "x-crm-queue": self.queue.name}))

    def _move(self, message, target: Queue, headers: dict, done=lambda: None):
        """Republish to `target` (confirmed, mandatory), then ack. When the broker does not
        take the copy, keep the message and try again after a backoff: requeueing at once
        would rerun the handler in a tight loop against a broken broker. `done` runs once
        the message is acked or given back."""
        error = self._try_move(message, target, headers)
        if error is None:
            done()
            return
        self.container.spawn_managed_thread(
            partial(self._keep_trying, message, target, headers, error, done),
            identifier="move_later")

    def _keep_trying(self, message, target: Queue, headers: dict, error: Exception, done):
        failures = 1
        try:
            while error is not None:
                delay = min(2.0 ** (failures - 1), 30.0)
                log.error("could not move message %s to %s (%s); trying again in %.0fs",
                          message.properties.get("message_id"), target.name, error, delay)
                eventlet.sleep(delay)
                if not message.channel.connection:
                    return  # our consumer connection is gone: the broker gives it out again
                error = self._try_move(message, target, headers)
                failures += 1
        finally:
            done()

    def _try_move(self, message, target: Queue, headers: dict) -> Exception | None:
        properties = {k: message.properties[k] for k in KEPT_PROPERTIES
                      if message.properties.get(k) is not None}
        try:
            publisher = self.mover.publisher
            publisher.declare(target)
            publisher.publish(
                message.body, exchange="", routing_key=target.name, mandatory=True,
                headers=dict(message.headers or {}, **headers), delivery_mode=2,
                content_type=message.content_type or "application/octet-stream",
                content_encoding=message.content_encoding or "binary", **properties)
        except Exception as exc:  # noqa: BLE001 - the broker has no copy: keep ours
            return exc
        self.queue_consumer.ack_message(message)
        return None


reliable_event_handler = ReliableEventHandler.decorator


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def handle_event(handler, uow_factory, consumer: str, event: dict) -> None:
    """Run `handler(uow, event)` once per (consumer, event id), in one transaction."""
    with uow_factory() as uow:
        if uow.seen(consumer, event):
            log.info("duplicate %s %s skipped by %s", event.get("type"), event.get("id"), consumer)
            return
        handler(uow, event)
        uow.commit()
