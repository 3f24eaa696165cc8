"""RPC entrypoints that honour their caller's deadline and answer without pinning a worker.

The gateway sends each request with its deadline (context `deadline`, header
`nameko.deadline`, UNIX milliseconds) and as the message's `expiration`, so a request still
queued at the deadline is dropped by the broker. One that was already delivered (a paused
or busy service) is skipped here, and a unit of work refuses to begin after it
(`Database`): the caller has answered "outcome unknown" by then and may retry with the same
Idempotency-Key. Hosts' clocks must be synchronised (NTP) for this to be exact.
"""
import logging
import sys

import kombu.serialization
from nameko.exceptions import UnserializableValueError, serialize
from nameko.rpc import Rpc, RpcConsumer, get_rpc_exchange

from ..errors import (Conflict, NotFound, PayloadTooLarge, PreconditionFailed,
                      ValidationFailed)
from .consuming import SafeQueueConsumer
from .database import DEADLINE_KEY, seconds_late
from .publishing import ReplyPublisher

log = logging.getLogger(__name__)
DEADLINE_HEADER = f"nameko.{DEADLINE_KEY}"


class BoundedRpcConsumer(RpcConsumer):
    """nameko's RPC consumer, replying over one shared connection without a publisher
    confirm (nameko opens pooled connections and waits for a confirm with no timeout)."""

    queue_consumer = SafeQueueConsumer()
    replies = ReplyPublisher()

    def handle_result(self, message, result, exc_info):
        result, exc_info = self._reply(message, result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def _reply(self, message, result, exc_info):
        error = serialize(exc_info[1]) if exc_info is not None else None
        content_type = message.properties.get("content_type") or "application/json"
        serializer = kombu.serialization.registry.type_to_name.get(content_type, "json")
        try:  # as nameko does: an unserialisable result must not kill the container
            encoded = kombu.serialization.dumps({"result": result, "error": error}, serializer)
        except Exception:  # noqa: BLE001
            exc_info = sys.exc_info()
            error = serialize(UnserializableValueError(result))
            result = None
            encoded = kombu.serialization.dumps({"result": None, "error": error}, serializer)
        reply_to = message.properties.get("reply_to")
        if reply_to:
            content_type, content_encoding, body = encoded
            try:
                self.replies.publisher.publish(
                    body, content_type=content_type, content_encoding=content_encoding,
                    exchange=get_rpc_exchange(self.container.config).name,
                    routing_key=reply_to, delivery_mode=1,
                    correlation_id=message.properties.get("correlation_id"))
            except Exception as exc:  # noqa: BLE001 - the caller's deadline covers a lost reply
                log.warning("could not send the reply to %s: %s", reply_to, exc)
        return result, exc_info


# the caller's mistakes, answered as 4xx: logged as warnings, not as the service's errors
CALLER_ERRORS = (ValidationFailed, NotFound, Conflict, PreconditionFailed, PayloadTooLarge)


class DeadlineRpc(Rpc):
    rpc_consumer = BoundedRpcConsumer()

    def __init__(self, expected_exceptions=CALLER_ERRORS, **kwargs):
        super().__init__(expected_exceptions=expected_exceptions, **kwargs)

    def handle_message(self, body, message):
        late = seconds_late(message.headers.get(DEADLINE_HEADER))
        if late is not None:
            log.warning("skipped %s: its caller's deadline passed %.1fs ago",
                        message.delivery_info.get("routing_key"), late)
            self.rpc_consumer.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)


rpc = DeadlineRpc.decorator


class HealthCheck:
    """Mixin for services with a `db = Database(...)`: the `health` RPC the status page asks for."""

    @rpc
    def health(self):
        with self.db.read() as connection:
            connection.exec_driver_sql("SELECT 1")
        return {"service": self.name, "status": "ok"}
