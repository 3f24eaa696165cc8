"""The gateway's way to the services: one RPC pool per app, the request's context on every call."""
import threading
import time

import amqp.exceptions
import kombu.exceptions
from flask import current_app, g

from crm_common.rpc import RemoteError, RpcPool, RpcTimeout

from . import observability

_lock = threading.Lock()
# the broker cannot be reached or the connection broke: the caller should retry later
CONNECTION_ERRORS = (OSError, kombu.exceptions.KombuError, amqp.exceptions.AMQPError)


class BrokerUnavailable(Exception):
    pass


def pool():
    """The app's RPC client (an RpcPool, or whatever `RPC` the config injected)."""
    app = current_app._get_current_object()
    rpc = app.extensions.get("crm_rpc")
    if rpc is None:
        with _lock:
            rpc = app.extensions.get("crm_rpc")
            if rpc is None:
                rpc = app.config.get("RPC") or RpcPool(
                    app.config["AMQP_URI"], timeout=float(app.config["RPC_TIMEOUT"]))
                app.extensions["crm_rpc"] = rpc
    return rpc


def context() -> dict:
    principal = g.get("principal")
    return {"correlation_id": g.get("correlation_id"),
            "actor": principal.actor if principal else None}


def call(service: str, method: str, **kwargs):
    """Call `service.method(**kwargs)`; RemoteError/RpcTimeout/BrokerUnavailable on failure."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return pool().call(service, method, kwargs, context=context())
    except RemoteError as exc:
        outcome = exc.exc_type or "error"
        raise
    except RpcTimeout:
        outcome = "timeout"
        raise
    except CONNECTION_ERRORS as exc:
        outcome = "unavailable"
        raise BrokerUnavailable(f"{service}.{method}: {exc}") from exc
    finally:
        observability.observe_rpc(service, method, outcome, time.perf_counter() - started)


def fan_out(calls: dict, timeout: float | None = None) -> dict:
    """{name: (service, method, kwargs)} -> {name: result or exception}, in parallel."""
    return pool().fan_out(calls, context=context(), timeout=timeout)
