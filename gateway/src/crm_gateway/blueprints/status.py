"""/api/v1/status: every service's health as this gateway sees it (authenticated, cached)."""
from flask import current_app
from flask_smorest import Blueprint

from crm_common.events import rfc3339, utcnow
from crm_common.rpc import BrokerBlocked, NotSent, RemoteError, RpcTimeout

from .. import rpc
from ..cache import cached_check
from ..health import broker_report
from ..schemas import StatusSchema

blp = Blueprint("status", __name__, url_prefix="/api/v1/status",
                description="Health of the broker and the services")


@blp.route("")
@blp.response(200, StatusSchema)
@blp.alt_response(401, response="UNAUTHORIZED")  # never 503/504: it reports them
def status():
    """The broker and every service: do they answer, and how fast (cached a few seconds)"""
    config = current_app.config
    return cached_check("status", float(config["STATUS_CACHE_SECONDS"])).get(check_all)


def check_all() -> dict:
    config = current_app.config
    names = config["STATUS_SERVICES"]
    broker = broker_report()["broker"]
    timings: dict[str, float] = {}
    try:
        results = rpc.fan_out({name: (name, "health", {}) for name in names},
                              timeout=float(config["STATUS_TIMEOUT"]), timings=timings)
    except Exception as exc:  # noqa: BLE001 - e.g. the pool cannot even start
        results = {name: exc for name in names}
    services = {}
    for name in names:
        report = _service_report(results.get(name, RuntimeError("no answer")))
        if name in timings:
            report["latency_ms"] = round(timings[name] * 1000, 1)
        services[name] = report
    healthy = broker == "ok" and all(s["status"] == "ok" for s in services.values())
    return {"status": "ok" if healthy else "degraded", "broker": broker,
            "services": services, "checked_at": rfc3339(utcnow())}


def _service_report(result) -> dict:
    if not isinstance(result, Exception):
        said = result.get("status", "ok") if isinstance(result, dict) else "ok"
        return {"status": "ok"} if said == "ok" else {"status": "unavailable",
                                                       "error": f"reported {said}"}
    return {"status": "unavailable", "error": _reason(result)}


def _reason(exc: Exception) -> str:
    if isinstance(exc, RpcTimeout):
        return "timeout"
    if isinstance(exc, BrokerBlocked):
        return "broker_blocked"
    if isinstance(exc, NotSent):
        return "broker_unavailable"
    if isinstance(exc, RemoteError):
        return "not_consuming" if exc.exc_type == "ServiceUnavailable" else exc.exc_type
    return type(exc).__name__
