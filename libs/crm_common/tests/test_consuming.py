"""Acking on a connection the broker just dropped must not kill the service."""
from types import SimpleNamespace

import pytest
from nameko.messaging import QueueConsumer

from crm_common.nameko_glue.consuming import SafeQueueConsumer


class DroppedMessage:
    """A delivered message whose connection the broker reset before the ack went out."""

    properties = {"message_id": "m-1"}
    channel = SimpleNamespace(connection=object())  # still looks alive to nameko's check

    def ack(self):
        raise ConnectionResetError(104, "Connection reset by peer")

    requeue = ack


def test_nameko_lets_the_socket_error_escape_into_the_worker():
    with pytest.raises(ConnectionResetError):  # what killed the container in the fault suite
        QueueConsumer().ack_message(DroppedMessage())


@pytest.mark.parametrize("action", ["ack_message", "requeue_message"])
def test_the_safe_consumer_logs_it_and_leaves_the_message_to_the_broker(action, caplog):
    getattr(SafeQueueConsumer(), action)(DroppedMessage())
    assert "the broker redelivers it" in caplog.text
