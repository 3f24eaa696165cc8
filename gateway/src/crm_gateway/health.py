"""/healthz, /readyz and /metrics: open, outside the documented API."""
from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import observability, rpc

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready when every service answers `health` (which also proves the broker works)."""
    services = current_app.config["READY_SERVICES"]
    try:
        results = rpc.fan_out({name: (name, "health", {}) for name in services},
                              timeout=float(current_app.config["READY_TIMEOUT"]))
    except Exception as exc:  # noqa: BLE001 - e.g. the pool cannot even start
        results = {name: exc for name in services}
    report, failed = {}, []
    for name in services:
        result = results.get(name, RuntimeError("no answer"))
        if isinstance(result, Exception):
            failed.append(name)
            report[name] = {"status": "unavailable", "error": _reason(result)}
        else:
            report[name] = {"status": (result or {}).get("status", "ok")
                            if isinstance(result, dict) else "ok"}
    body = {"status": "unavailable" if failed else "ok", "services": report}
    if failed:
        body["failed"] = failed
    response = jsonify(body)
    response.status_code = 503 if failed else 200
    if failed:
        response.headers["Retry-After"] = str(current_app.config.get("RETRY_AFTER", 5))
    return response


def _reason(exc: Exception) -> str:
    kind = getattr(exc, "exc_type", None) or type(exc).__name__
    return {"RpcTimeout": "timeout"}.get(kind, kind)


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(observability.metrics().registry),
                    mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})
