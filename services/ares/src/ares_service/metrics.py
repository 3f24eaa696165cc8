"""Prometheus metrics of the ares service, served on a port of its own
(ARES_METRICS_PORT, 9102 by default; 0 turns it off). A second process on the same host
finds the port taken and goes on without (one warning)."""
from __future__ import annotations

import collections
import logging
import threading
import time

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

LOOKUPS = Counter("ares_lookups_total", "Lookups answered, by outcome",
                  ["outcome"])  # found | not_found | invalid | unavailable
CACHE_HITS = Counter("ares_cache_hits_total", "Lookups answered from the cache")
REQUESTS = Counter("ares_requests_total", "HTTP requests made to ARES",
                   ["endpoint", "outcome"])
LATENCY = Histogram("ares_request_seconds", "Time ARES took to answer a request",
                    ["endpoint"], buckets=(.05, .1, .25, .5, 1, 2, 5, 10, 30))
QUEUE_DEPTH = Gauge("ares_queue_depth", "Lookups waiting for ARES (all replicas)")
BREAKER = Gauge("ares_breaker_open", "Circuit breaker: 0 closed, 1 half open, 2 open")
PER_MINUTE = Gauge("ares_requests_per_minute",
                   "HTTP requests to ARES this process made in the last 60 s")
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

_recent: collections.deque = collections.deque()
_recent_lock = threading.Lock()


def observe_request(endpoint: str, outcome: str, seconds: float) -> None:
    """AresClient's `observe` hook: one HTTP request to ARES."""
    REQUESTS.labels(endpoint, outcome).inc()
    LATENCY.labels(endpoint).observe(seconds)
    now = time.monotonic()
    with _recent_lock:
        _recent.append(now)
        while _recent and _recent[0] < now - 60:
            _recent.popleft()
        PER_MINUTE.set(len(_recent))


def breaker_changed(state: str) -> None:
    BREAKER.set(BREAKER_STATES[state])


def tick(breaker_state: str) -> None:
    """Gauges that change with time alone (the dispatcher calls this every few seconds)."""
    breaker_changed(breaker_state)
    now = time.monotonic()
    with _recent_lock:
        while _recent and _recent[0] < now - 60:
            _recent.popleft()
        PER_MINUTE.set(len(_recent))


def serve(port: int) -> bool:
    if not port:
        return False
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("ARES metrics not served on port %s: %s", port, exc)
        return False
    return True
