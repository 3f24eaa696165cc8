"""/healthz, /readyz and /metrics: open, outside the documented API.

/readyz means "this gateway can serve": it reaches the broker. It asks no service: one
service being down must not take every gateway out of its load balancer (that service's
endpoints answer 503 instead), and a probe must stay cheap. Service health is
GET /api/v1/status (authenticated).
"""
import logging

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crm_common.rpc import NotSent

from . import observability, rpc
from .cache import cached_check

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


def broker_report() -> dict:
    """{"broker": "ok" | "blocked" | "unavailable"} (+ "error"), never raises."""
    try:
        return {"broker": rpc.broker_state(float(current_app.config["READY_TIMEOUT"]))}
    except NotSent as exc:
        log.warning("the broker cannot be reached: %s", exc)
        cause = exc.__cause__ or exc
        return {"broker": "unavailable", "error": type(cause).__name__}


@bp.get("/readyz")
def readyz():
    """Ready while the broker answers this gateway. A broker that blocks publishers (memory
    or disk alarm) still counts: every gateway sees the same broker, and a ready gateway
    answers such requests at once with a 503 problem instead of the load balancer's error."""
    report = cached_check("readyz", float(current_app.config["READY_CACHE_SECONDS"])).get(
        broker_report)
    ready = report["broker"] != "unavailable"
    response = jsonify({"status": "ready" if ready else "unavailable", **report})
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = str(current_app.config.get("RETRY_AFTER", 5))
    return response


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(observability.metrics().registry),
                    mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})
