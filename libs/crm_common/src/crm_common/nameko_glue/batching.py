"""A reliable event handler that takes what the prefetch window delivers in one worker.

A handler of a busy queue pays per message for a worker and a transaction; here messages
that arrive together (until the queue is quiet for `EVENT_BATCH_WAIT_MS` or
`EVENT_BATCH_SIZE` are collected) go to ONE worker as a list, whose use case handles them
in one transaction (`handle_events`). Everything that decides a single message's fate stays
per message: the envelope checks and the redelivery count run before a message joins a
batch (`ReliableEventHandler.handle_message`); when a batch fails its messages are run
again one at a time, each with its own transaction, retry and parking, so one poison event
never holds back or parks the others; and a message that failed or crashed a consumer
before (a retry, a counted redelivery) never joins a batch again.

A committed batch is acked after its commit, with one `multiple` frame when that is
provably safe and one ack per message otherwise (`BatchQueueConsumer.ack_batch`).

nameko config (each service's config.yaml):
  EVENT_BATCH_SIZE      most events per batch (100)
  EVENT_BATCH_PREFETCH  unacked messages the broker gives each batch handler (2 x the size:
                        one batch is collected while the one before it commits)
  EVENT_BATCH_WAIT_MS   how long the queue must stay quiet before a smaller batch goes (5)
"""
import itertools
import logging
import time
from functools import partial

import eventlet
import eventlet.event
from nameko.exceptions import ContainerBeingKilled

from .batch_consumer import DEFAULT_BATCH_SIZE, BatchQueueConsumer, setting
from .event_handler import ATTEMPT_HEADER, DELIVERIES_HEADER, ReliableEventHandler

log = logging.getLogger(__name__)

DEFAULT_WAIT_MS = 5


class ReliableBatchHandler(ReliableEventHandler):
    """The entrypoint method receives a list of events (CloudEvent dicts)."""

    queue_consumer = BatchQueueConsumer()

    def setup(self):
        super().setup()
        config = self.container.config
        self.batch_size = max(1, setting(config, "EVENT_BATCH_SIZE", DEFAULT_BATCH_SIZE))
        self.batch_wait = setting(config, "EVENT_BATCH_WAIT_MS", DEFAULT_WAIT_MS) / 1000
        self._pending: list[tuple[dict, object]] = []  # (body, message) not yet in a worker
        self._arrivals = 0
        self._collecting = False
        self._open: set[int] = set()  # batches whose messages are not yet acked, retried or parked
        self._batch_ids = itertools.count()

    # -- collecting -----------------------------------------------------------------
    def dispatch(self, body, message):
        if _suspect(message):
            self._run_alone(body, message)
            return
        self._pending.append((body, message))
        self._arrivals += 1
        if len(self._pending) >= self.batch_size:
            self._flush()
        elif not self._collecting:
            self._collecting = True
            self.container.spawn_managed_thread(self._collect, identifier="collect_batch")

    def _collect(self):
        """Wait until a whole `batch_wait` passes without an arrival, then hand over."""
        try:
            while True:
                arrivals = self._arrivals
                eventlet.sleep(self.batch_wait)
                if self._arrivals == arrivals or not self._pending:
                    break
        finally:
            self._collecting = False
        self._flush_all()

    def _flush(self):
        batch = self._pending[:self.batch_size]
        del self._pending[:len(batch)]
        if len(batch) < 2:
            for body, message in batch:
                self._run_alone(body, message)
            return
        batch_id = next(self._batch_ids)
        self._open.add(batch_id)
        try:
            self.container.spawn_worker(
                self, ([body for body, _ in batch],), {}, context_data={},
                handle_result=partial(self._batch_done, batch_id, batch))
        except ContainerBeingKilled:
            self._open.discard(batch_id)
            for _, message in batch:
                self.queue_consumer.requeue_message(message)

    # -- after the worker -------------------------------------------------------------
    def _batch_done(self, batch_id, batch, worker_ctx, result=None, exc_info=None):
        # runs in the worker: it must never raise (nameko would kill the container)
        if exc_info is None:  # committed: acked (with `multiple` only where safe)
            try:
                self.queue_consumer.ack_batch([message for _, message in batch])
            finally:
                self._open.discard(batch_id)
        else:
            log.warning("batch of %d on %s failed (%r); handling its messages one at a time",
                        len(batch), self.queue.name, exc_info[1])
            self.container.spawn_managed_thread(partial(self._one_at_a_time, batch_id, batch),
                                                identifier="batch_fallback")
        return result, exc_info

    def _one_at_a_time(self, batch_id, batch):
        """The messages of a failed batch, one after the other in arrival order."""
        try:
            for body, message in batch:
                self._run_alone(body, message).wait()
        finally:
            self._open.discard(batch_id)

    def _run_alone(self, body, message) -> eventlet.event.Event:
        """A message as the per-message handler runs it: its own worker and transaction,
        then ack, retry or park (`handle_message_processed`). The event fires once it is
        settled."""
        finished = eventlet.event.Event()
        try:
            self.container.spawn_worker(
                self, ([body],), {}, context_data=self.unpack_message_headers(message),
                handle_result=partial(self._single_done, message, finished))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)
            finished.send()
        return finished

    def _single_done(self, message, finished, worker_ctx, result=None, exc_info=None):
        try:
            self.handle_message_processed(message, result, exc_info)
        finally:
            finished.send()
        return result, exc_info

    def stop(self):
        """Settle first, cancel after: what was collected goes to a worker, and the batches
        open at this moment are acked (or retried, parked) while the consumer's connection
        still stands; nameko closes it as soon as the consumer is cancelled, and a message
        whose ack comes too late is redelivered and counted as a crash. Batches that start
        meanwhile (the broker refills the window) are waited for after the cancel."""
        deadline = time.monotonic() + 60
        self._flush_all()
        self._settle(lambda snapshot=set(self._open): self._open & snapshot, deadline)
        super().stop()
        self._settle(lambda: self._pending or self._collecting or self._open, deadline)

    def _flush_all(self):
        while self._pending:
            self._flush()

    def _settle(self, unsettled, deadline: float) -> None:
        while unsettled():
            self._flush_all()
            if time.monotonic() > deadline:
                log.warning("%s: batches still unsettled at stop; the broker redelivers "
                            "their messages", self.queue.name)
                return
            eventlet.sleep(0.05)


reliable_batch_handler = ReliableBatchHandler.decorator


def _suspect(message) -> bool:
    """It failed before (a retry) or came back from a consumer that died with it: alone it
    cannot drag a batch into the fallback again and again, or take a batch down with it."""
    headers = message.headers or {}
    return bool(headers.get(ATTEMPT_HEADER) or headers.get(DELIVERIES_HEADER))


def handle_events(handler_many, uow_factory, consumer: str, events: list[dict]) -> None:
    """Run `handler_many(uow, new_events)` in one transaction for the events `consumer` has
    not handled before (each id once); their inbox rows commit with its writes.

    The unit of work's context is the batch worker's, not one event's: a handler that
    emits events sets `uow.context` from the event each one answers."""
    with uow_factory() as uow:
        new = uow.unseen(consumer, events)
        if len(new) < len(events):
            log.info("%d duplicate event(s) skipped by %s", len(events) - len(new), consumer)
        if not new:
            return
        handler_many(uow, new)
        uow.commit()
