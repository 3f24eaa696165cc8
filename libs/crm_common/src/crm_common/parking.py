"""Parked messages: what a handler could not process. List them, replay them.

    crm-parking list   <queue>          # e.g. evt-clients-client.created--activities.on_client_created
    crm-parking replay <queue> [--limit N]

`<queue>` is the handler's queue; its parking queue is `<queue>.parking`. Replay moves each
message back to the handler's queue (attempt and delivery counters reset) and removes the
parked copy only once the broker has confirmed it took the new one: if the handler's queue
is gone (a renamed or removed handler), nothing is replayed and nothing is lost.
"""
import argparse
import json
import sys

import kombu
from amqp.exceptions import NotFound

from . import config
from .amqp import discard, open_connection
from .nameko_glue import ATTEMPT_HEADER, DELIVERIES_HEADER
from .nameko_glue.event_handler import ERROR_HEADER, REASON_HEADER
from .events import parse_time, utcnow
from .publisher import Publisher, Unroutable
from .retention import RetentionPolicy

# what the handler added on its way to parking; a replayed message starts afresh
PARKING_HEADERS = (ATTEMPT_HEADER, DELIVERIES_HEADER, ERROR_HEADER, REASON_HEADER,
                   "x-crm-parked-at", "x-crm-queue")


class NoSuchQueue(Exception):
    pass


def parked(queue: str) -> str:
    return queue if queue.endswith(".parking") else f"{queue}.parking"


def list_parked(amqp_uri: str, queue: str) -> list[dict]:
    """Peek: every message is read, then returned to the queue untouched."""
    items = []
    connection = open_connection(amqp_uri, heartbeat=0)
    try:
        channel = connection.channel()
        source = kombu.Queue(parked(queue), durable=True)(channel)
        source.declare()
        while True:
            message = source.get(no_ack=False, accept=["json"])
            if message is None:
                break
            items.append({"message_id": message.properties.get("message_id"),
                          "reason": message.headers.get(REASON_HEADER),
                          "attempts": message.headers.get(ATTEMPT_HEADER),
                          "deliveries": message.headers.get(DELIVERIES_HEADER),
                          "error": message.headers.get(ERROR_HEADER),
                          "parked_at": message.headers.get("x-crm-parked-at"),
                          "content_type": message.content_type,
                          "body": _text(message.body)})
    finally:
        discard(connection)  # unacked messages go back to the queue
    return items


def _text(body) -> str:
    # py-amqp hands a body over as str when the message names its content_encoding
    return body if isinstance(body, str) else body.decode("utf-8", "replace")


def replay(amqp_uri: str, queue: str, limit: int | None = None) -> int:
    """Move parked messages back to `queue`; returns how many the broker took."""
    target = queue.removesuffix(".parking")
    publisher = Publisher(amqp_uri, heartbeat=0, name="crm-parking")
    connection = open_connection(amqp_uri, heartbeat=0)
    moved = 0
    try:
        try:
            publisher.declare(kombu.Queue(target), passive=True)
        except NotFound:
            raise NoSuchQueue(f"queue {target} does not exist (a renamed or removed handler?); "
                              f"nothing was replayed") from None
        source = kombu.Queue(parked(queue), durable=True)(connection.channel())
        source.declare()
        while limit is None or moved < limit:
            message = source.get(no_ack=False, accept=["json"])
            if message is None:
                break
            headers = {k: v for k, v in message.headers.items() if k not in PARKING_HEADERS}
            try:
                publisher.publish(
                    message.body, exchange="", routing_key=target, mandatory=True,
                    headers=headers, content_type=message.content_type,
                    content_encoding=message.content_encoding or "binary", delivery_mode=2,
                    message_id=message.properties.get("message_id"))
            except Unroutable as exc:
                raise NoSuchQueue(f"queue {target} went away during the replay ({exc}); "
                                  f"{moved} replayed, the rest stays parked") from None
            message.ack()
            moved += 1
    finally:
        discard(connection)
        publisher.close()
    return moved


def older_than_the_inbox(items: list[dict], now=None) -> list[dict]:
    """Parked messages older than the inbox retention: the rows that made their handlers
    idempotent may be gone, so a replay could apply them a second time."""
    keep = RetentionPolicy.from_env().inbox
    if keep is None:
        return []
    now = now or utcnow()
    return [item for item in items
            if item.get("parked_at") and now - parse_time(item["parked_at"]) > keep]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("queue")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    uri = config.amqp_uri()
    items = list_parked(uri, args.queue)
    old = older_than_the_inbox(items)
    if args.command == "list":
        for item in items:
            print(json.dumps(item, ensure_ascii=False))
    if old:
        print(f"crm-parking: warning: {len(old)} message(s) parked for longer than "
              f"INBOX_RETENTION_DAYS; their handlers may no longer recognise them as handled "
              f"and could apply them twice", file=sys.stderr)
    if args.command == "list":
        return
    try:
        print(f"replayed {replay(uri, args.queue, args.limit)} message(s)")
    except NoSuchQueue as exc:
        sys.exit(f"crm-parking: {exc}")


if __name__ == "__main__":
    main()
