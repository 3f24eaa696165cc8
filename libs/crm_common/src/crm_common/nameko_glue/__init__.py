"""nameko at the edge: the database + outbox relay dependency, RPC entrypoints that honour
their caller's deadline, and reliable event consumers (per message, or in batches).

Services import from here in their thin `service.py`; domain and handlers never do. Every
`@rpc` of a service must come from here (not `nameko.rpc`): nameko shares one RPC consumer
per consumer class, and two classes would compete for the service's `rpc-<name>` queue.
"""
from .batching import ReliableBatchHandler, handle_events, reliable_batch_handler
from .database import Database, context_from
from .event_handler import (ATTEMPT_HEADER, DELIVERIES_HEADER, ReliableEventHandler,
                            handle_event, reliable_event_handler)
from .rpc import DEADLINE_KEY, HealthCheck, rpc

__all__ = ["ATTEMPT_HEADER", "DEADLINE_KEY", "DELIVERIES_HEADER", "Database",
           "HealthCheck", "ReliableBatchHandler", "ReliableEventHandler", "context_from",
           "handle_event", "handle_events", "reliable_batch_handler",
           "reliable_event_handler", "rpc"]
