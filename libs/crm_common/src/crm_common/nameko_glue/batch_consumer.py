"""The batch handlers' queue consumer: a window sized for batches, and one ack per batch
where that is provably safe.

`basic_ack(multiple=True)` acks every unacked delivery of the channel up to its tag, and
nameko shares one channel among all the consumers of a queue-consumer class: the other
batch handlers' messages, this handler's earlier batches still in their transaction, and
messages being moved to a retry or parking queue all sit below that tag. So this consumer
keeps the delivery tags of the current channel that are not yet settled, in delivery order
(every delivery passes `handle_message` or `_undecodable`, every settlement `ack_message` or
`requeue_message`), and acks a batch with one `multiple` frame only when the batch is
exactly the oldest of them; otherwise each message gets its own ack.
"""
import logging
from itertools import islice

from .consuming import GONE
from .event_handler import ReliableQueueConsumer

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100


def setting(config, key: str, default):
    value = config.get(key)
    return default if value in (None, "") else type(default)(value)


class BatchQueueConsumer(ReliableQueueConsumer):
    """Another class than the per-message handlers' consumer, so nameko gives it its own
    connection and channel, with a window of `EVENT_BATCH_PREFETCH` per handler instead of
    `max_workers` (RPC and the per-message handlers keep theirs)."""

    def __init__(self):
        super().__init__()
        self._channel = None
        self._unsettled: dict[int, None] = {}  # delivery tags of `_channel`, oldest first

    @property
    def prefetch_count(self):
        config = self.container.config
        size = setting(config, "EVENT_BATCH_SIZE", DEFAULT_BATCH_SIZE)
        return setting(config, "EVENT_BATCH_PREFETCH", 2 * size)

    def get_consumers(self, consumer_cls, channel):
        # after every (re)connection: tags start again on the new channel
        self._channel, self._unsettled = channel, {}
        return super().get_consumers(consumer_cls, channel)

    # -- every delivery ---------------------------------------------------------------
    def handle_message(self, provider, body, message):
        self._delivered(message)
        super().handle_message(provider, body, message)

    def _undecodable(self, provider, message, exc):
        self._delivered(message)
        super()._undecodable(provider, message, exc)

    def _delivered(self, message):
        if message.channel is self._channel:
            self._unsettled[message.delivery_tag] = None

    # -- every settlement ---------------------------------------------------------------
    def ack_message(self, message):
        self._settled(message)
        super().ack_message(message)

    def requeue_message(self, message):
        self._settled(message)
        super().requeue_message(message)

    def _settled(self, message):
        if message.channel is self._channel:
            self._unsettled.pop(message.delivery_tag, None)

    def ack_batch(self, messages: list) -> None:
        """Ack the messages of a committed batch: one frame when they are the oldest
        unsettled deliveries of the channel, else one per message."""
        tags = sorted(message.delivery_tag for message in messages)
        current = all(message.channel is self._channel for message in messages)
        if len(messages) < 2 or not current or \
                list(islice(self._unsettled, len(tags))) != tags:
            for message in messages:
                self.ack_message(message)
            return
        for tag in tags:
            del self._unsettled[tag]
        newest = max(messages, key=lambda message: message.delivery_tag)
        if not newest.channel.connection:
            return  # gone: the broker gives them out again
        try:
            newest.ack(multiple=True)
        except GONE as exc:
            log.warning("could not ack %d messages (%s); the broker redelivers them",
                        len(messages), exc)
