"""Correlation ids, request logging and Prometheus metrics."""
import logging
import re
import time
import uuid

from flask import current_app, g, request
from prometheus_client import (CollectorRegistry, Counter, Histogram, PlatformCollector,
                               ProcessCollector)

from crm_common.context import set_current
from crm_common.events import EventContext

CORRELATION_HEADER = "X-Correlation-ID"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")  # anything else: a fresh UUID
_CONVERTER = re.compile(r"<[^<>:]+:([^<>]+)>")  # `<id:client_id>` is labelled `<client_id>`
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
log = logging.getLogger("crm_gateway.access")
# a secret in a query string: the calendar feed token (GET /api/v1/calendar.ics?token=...)
_SECRET_PARAM = re.compile(r"([?&]token=)[^&\s\"]*")


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """The access lines of werkzeug's server (`python -m crm_gateway`) hold the query
    string, and so a feed token: it is redacted (this module's own line holds no query;
    gunicorn writes none)."""

    def filter(self, record):
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class Metrics:
    """Per app (so several apps in one process, as in tests, do not collide)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "crm_gateway_http_requests", "HTTP requests answered",
            ["method", "endpoint", "status"], registry=self.registry)
        self.latency = Histogram(
            "crm_gateway_http_request_duration_seconds", "HTTP request latency",
            ["method", "endpoint", "status"], registry=self.registry)
        self.rpc_latency = Histogram(
            "crm_gateway_rpc_duration_seconds", "RPC call latency by service.method",
            ["service", "method", "outcome"], registry=self.registry)


def init_app(app) -> None:
    app.extensions["crm_metrics"] = Metrics()
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactSecrets) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(RedactSecrets())
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_clear)


def metrics() -> Metrics:
    return current_app.extensions["crm_metrics"]


def observe_rpc(service: str, method: str, outcome: str, seconds: float) -> None:
    metrics().rpc_latency.labels(service, method, outcome).observe(seconds)


def bind_actor(actor: str | None) -> None:
    """Once the caller is known, the log context names them too."""
    set_current(EventContext(correlation_id=g.correlation_id, actor=actor))


def _start():
    g.started = time.perf_counter()
    incoming = request.headers.get(CORRELATION_HEADER, "")
    g.correlation_id = incoming if _ACCEPTABLE_ID.fullmatch(incoming) else str(uuid.uuid4())
    set_current(EventContext(correlation_id=g.correlation_id))


def _finish(response):
    response.headers[CORRELATION_HEADER] = g.get("correlation_id") or ""
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    endpoint = _CONVERTER.sub(r"<\1>", request.url_rule.rule) if request.url_rule else \
        "<unmatched>"
    status = str(response.status_code)
    m = metrics()
    method = request.method if request.method in KNOWN_METHODS else "other"  # bounded labels
    m.requests.labels(method, endpoint, status).inc()
    m.latency.labels(method, endpoint, status).observe(elapsed)
    # the path without its query: no feed token (`?token=`) in the log
    log.info("%s %s %s %.1fms", request.method, request.path, status, elapsed * 1000)
    return response


def _clear(_exc=None):
    set_current(None)  # type: ignore[arg-type]  - no request, no context
