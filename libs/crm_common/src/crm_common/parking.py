"""Parked messages: what a handler failed on after every retry. List them, replay them.

    crm-parking list   <queue>          # e.g. evt-clients-client.created--activities.on_client_created
    crm-parking replay <queue> [--limit N]

`<queue>` is the handler's queue; its parking queue is `<queue>.parking`. Replay moves each
message back to the handler's queue (attempt counter reset) and only then removes it.
"""
import argparse
import json

import kombu

from . import config
from .nameko_glue import ATTEMPT_HEADER


def parked(queue: str) -> str:
    return queue if queue.endswith(".parking") else f"{queue}.parking"


def list_parked(amqp_uri: str, queue: str) -> list[dict]:
    """Peek: every message is read, then returned to the queue untouched."""
    items = []
    with kombu.Connection(amqp_uri) as conn:
        channel = conn.channel()
        simple = kombu.Queue(parked(queue), durable=True)(channel)
        simple.declare()
        while True:
            message = simple.get(no_ack=False, accept=["json"])
            if message is None:
                break
            items.append({"message_id": message.properties.get("message_id"),
                          "attempts": message.headers.get(ATTEMPT_HEADER),
                          "error": message.headers.get("x-crm-error"),
                          "body": message.body.decode("utf-8", "replace")})
        channel.close()  # unacked messages go back to the queue
    return items


def replay(amqp_uri: str, queue: str, limit: int | None = None) -> int:
    moved = 0
    with kombu.Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        source = kombu.Queue(parked(queue), durable=True)(channel)
        source.declare()
        producer = kombu.Producer(channel)
        while limit is None or moved < limit:
            message = source.get(no_ack=False, accept=["json"])
            if message is None:
                break
            headers = {k: v for k, v in message.headers.items()
                       if k not in (ATTEMPT_HEADER, "x-crm-error")}
            producer.publish(message.body, exchange="", routing_key=queue.removesuffix(".parking"),
                             headers=headers, content_type=message.content_type,
                             content_encoding=message.content_encoding, delivery_mode=2,
                             message_id=message.properties.get("message_id"), retry=False)
            message.ack()
            moved += 1
    return moved


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("queue")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    uri = config.amqp_uri()
    if args.command == "list":
        for item in list_parked(uri, args.queue):
            print(json.dumps(item, ensure_ascii=False))
    else:
        print(f"replayed {replay(uri, args.queue, args.limit)} message(s)")


if __name__ == "__main__":
    main()
