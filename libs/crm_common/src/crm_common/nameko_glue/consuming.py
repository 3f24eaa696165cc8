"""nameko's queue consumer, made safe to ack on a connection the broker just dropped."""
import logging

import amqp.exceptions
from nameko.messaging import QueueConsumer

log = logging.getLogger(__name__)

# the consumer's connection is gone: the broker gives the message out again by itself
GONE = (OSError, amqp.exceptions.ConnectionError, amqp.exceptions.ChannelError)


class SafeQueueConsumer(QueueConsumer):
    """nameko catches only amqp's ConnectionError when it acks; a socket error (the broker
    died between the check and the write) escaped into the worker and killed the container,
    and with it every other worker of the service."""

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except GONE as exc:
            log.warning("could not ack message %s (%s); the broker redelivers it",
                        message.properties.get("message_id"), exc)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except GONE as exc:
            log.warning("could not requeue message %s (%s); the broker redelivers it",
                        message.properties.get("message_id"), exc)
