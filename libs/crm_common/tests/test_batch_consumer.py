"""The batch consumer acks a committed batch with one `multiple` frame only when no other
unsettled delivery of its channel is older than the batch's newest message."""
from types import SimpleNamespace

import pytest
from kombu.message import Message

from crm_common.nameko_glue.batch_consumer import BatchQueueConsumer


class FakeChannel:
    """What kombu's Message and nameko's ack need of a channel; records the ack frames."""

    no_ack_consumers = None
    connection = object()

    def __init__(self):
        self.frames = []

    def basic_ack(self, delivery_tag, multiple=False):
        self.frames.append((delivery_tag, multiple))


@pytest.fixture
def consumer():
    consumer = BatchQueueConsumer()
    consumer.container = SimpleNamespace(config={}, spawn_managed_thread=lambda *a, **k: None)
    return consumer


def _connect(consumer) -> FakeChannel:
    channel = FakeChannel()
    consumer._channel, consumer._unsettled = channel, {}  # as get_consumers does
    return channel


def _deliver(consumer, channel, count: int, first_tag: int) -> list[Message]:
    messages = [Message(b"{}", channel=channel, delivery_tag=tag)
                for tag in range(first_tag, first_tag + count)]
    for message in messages:
        consumer._delivered(message)
    return messages


def test_the_oldest_deliveries_are_acked_with_one_frame(consumer):
    channel = _connect(consumer)
    first, second = _deliver(consumer, channel, 3, 1), _deliver(consumer, channel, 2, 4)
    consumer.ack_batch(first)
    consumer.ack_batch(second)
    assert channel.frames == [(3, True), (5, True)]


def test_a_batch_behind_an_unsettled_delivery_is_acked_message_by_message(consumer):
    channel = _connect(consumer)
    [moving] = _deliver(consumer, channel, 1, 1)  # e.g. on its way to a retry queue
    first, second = _deliver(consumer, channel, 2, 2), _deliver(consumer, channel, 2, 4)
    consumer.ack_batch(second)  # committed before the older batch
    consumer.ack_batch(first)
    assert channel.frames == [(4, False), (5, False), (2, False), (3, False)]
    consumer.ack_message(moving)
    later = _deliver(consumer, channel, 2, 6)
    consumer.ack_batch(later)
    assert channel.frames[-2:] == [(1, False), (7, True)]


def test_an_undecodable_delivery_holds_back_multiple_until_it_is_parked(consumer):
    channel = _connect(consumer)
    broken = Message(b"{", channel=channel, delivery_tag=1)
    consumer._undecodable(SimpleNamespace(park=lambda *a: None), broken, ValueError("{"))
    batch = _deliver(consumer, channel, 2, 2)
    consumer.ack_batch(batch)
    assert channel.frames == [(2, False), (3, False)]
    consumer.ack_message(broken)  # parked
    later = _deliver(consumer, channel, 2, 4)
    consumer.ack_batch(later)
    assert channel.frames[-1] == (5, True)


def test_messages_of_a_channel_before_a_reconnect_are_acked_one_by_one(consumer):
    old = _connect(consumer)
    batch = _deliver(consumer, old, 2, 1)
    new = _connect(consumer)
    consumer.ack_batch(batch)
    assert old.frames == [(1, False), (2, False)] and new.frames == []
