"""The gateway's way to the services: one RPC pool per app, the request's context on every call.

What a failed call means for the caller (problems.py turns these into answers):
`RemoteError` - the service answered with an error; `NotSent` (and `BrokerUnavailable`) -
nothing was done; `RpcTimeout` - the outcome is unknown.
"""
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import amqp.exceptions
import kombu.exceptions
from flask import current_app, g

from crm_common.rpc import BrokerBlocked, NotSent, RemoteError, RpcPool, RpcTimeout

from . import observability

_lock = threading.Lock()
# raw broker errors from an RPC object that does not sort them itself (RpcPool does)
CONNECTION_ERRORS = (OSError, kombu.exceptions.KombuError, amqp.exceptions.AMQPError)


class BrokerUnavailable(NotSent):
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
                    app.config["AMQP_URI"], timeout=float(app.config["RPC_TIMEOUT"]),
                    heartbeat=int(app.config["AMQP_HEARTBEAT"]),
                    operation_timeout=float(app.config["AMQP_TIMEOUT"]),
                    max_connections=int(app.config["RPC_MAX_CONNECTIONS"]),
                    max_idle=int(app.config["RPC_MAX_IDLE"]))
                app.extensions["crm_rpc"] = rpc
    return rpc


def context() -> dict:
    """What travels with every call: the correlation id, who acts (for events and history)
    and the caller the service applies its access rules to."""
    caller = g.get("caller")
    if caller is None:
        from .auth import caller as current_caller  # noqa: PLC0415 - auth imports rpc's users
        caller = g.caller = current_caller()
    principal = g.get("principal")
    return {"correlation_id": g.get("correlation_id"),
            "actor": principal.actor if principal else None, **caller.to_context()}


def call(service: str, method: str, **kwargs):
    """Call `service.method(**kwargs)`; RemoteError/RpcTimeout/NotSent on failure."""
    return _call(pool(), context(), service, method, kwargs)


# a call started ahead, for each request thread of a worker (gunicorn_conf's threads)
_ahead = ThreadPoolExecutor(int(os.environ.get("GATEWAY_THREADS") or 16),
                            thread_name_prefix="rpc-ahead")


def call_ahead(service: str, method: str, **kwargs) -> Future:
    """`call`, started now in a thread of its own; `.result()` answers or raises as `call`
    does (an export asks for its next page while it writes this one). The request's
    context is taken here."""
    rpc, request_context = pool(), context()
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            return _call(rpc, request_context, service, method, kwargs)
    return _ahead.submit(run)


def _call(rpc, request_context: dict, service: str, method: str, kwargs: dict):
    started = time.perf_counter()
    outcome = "ok"
    try:
        return rpc.call(service, method, kwargs, context=request_context)
    except RemoteError as exc:
        outcome = exc.exc_type or "error"
        raise
    except RpcTimeout:
        outcome = "timeout"
        raise
    except BrokerBlocked:
        outcome = "broker_blocked"
        raise
    except NotSent:
        outcome = "not_sent"
        raise
    except CONNECTION_ERRORS as exc:
        outcome = "not_sent"
        raise BrokerUnavailable(f"{service}.{method}: {exc}") from exc
    finally:
        observability.observe_rpc(service, method, outcome, time.perf_counter() - started)


def fan_out(calls: dict, timeout: float | None = None, timings: dict | None = None) -> dict:
    """{name: (service, method, kwargs)} -> {name: result or exception}, in parallel;
    `timings` receives {name: seconds}."""
    return pool().fan_out(calls, context=context(), timeout=timeout, timings=timings)


def broker_state(timeout: float) -> str:
    """"ok" | "blocked" (the broker refuses publishers: memory or disk alarm); raises
    NotSent when this gateway cannot reach the broker within `timeout`."""
    try:
        return pool().check_broker(timeout)
    except NotSent:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever it is, we cannot reach the broker
        raise BrokerUnavailable(str(exc)) from exc
