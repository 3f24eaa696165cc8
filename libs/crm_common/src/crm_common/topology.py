"""The broker topology a service needs before it first runs.

A topic exchange drops what no queue is bound to: if clients published `client.created`
before the ares service had ever started, ares would never see it. So the release step
(`crm-migrate --queues`, run once before the services start) declares every event
handler's durable queue and binding, read from the service class itself.
"""
import importlib
import inspect

import kombu
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from .amqp import events_exchange
from .nameko_glue import ReliableEventHandler


def handler_queues(service_class) -> list[kombu.Queue]:
    """The queues nameko declares for the class's event handlers (same names and flags)."""
    queues = []
    for method_name, method in inspect.getmembers(service_class, inspect.isfunction):
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, ReliableEventHandler):
                name = (f"evt-{entrypoint.source_service}-{entrypoint.event_type}--"
                        f"{service_class.name}.{method_name}")
                queues.append(kombu.Queue(name, exchange=events_exchange(
                    entrypoint.source_service), routing_key=entrypoint.event_type,
                    durable=True, auto_delete=False, exclusive=False))
    return queues


def load_service_class(path: str):
    """`package.module:Class` -> the class."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def declare(amqp_uri: str, service_class) -> list[str]:
    """Declare the service's own exchange and its handlers' queues; returns the queues."""
    queues = handler_queues(service_class)
    with kombu.Connection(amqp_uri, connect_timeout=10) as conn:
        channel = conn.channel()
        events_exchange(service_class.name)(channel).declare()
        for queue in queues:
            queue(channel).declare()
    return [q.name for q in queues]
