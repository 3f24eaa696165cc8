"""Every write through the API goes into the audit log once its answer is known: who, which
resource and action, which record, the outcome, from which address and token. Failed
logins too (as `login:<e-mail>`); a request nobody authenticated is not a write."""
import logging
import threading
import time

from flask import current_app, g, request

from . import permissions
from .accounts import audit, sessions, store

log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PRUNE_EVERY = 3600.0  # seconds, per process
_pruned = {"at": 0.0}
_lock = threading.Lock()


def _entry(response) -> dict | None:
    if request.method not in WRITE_METHODS or not request.path.startswith("/api/") \
            or request.endpoint is None:
        return None
    principal = g.get("principal")
    view = current_app.view_functions.get(request.endpoint)
    actor = principal.actor if principal else None
    if principal is None:
        if not getattr(view, "public", False):
            return None  # refused before anything happened (401)
        if request.endpoint.endswith(".login"):
            body = request.get_json(silent=True)
            email = body.get("email") if isinstance(body, dict) else None
            actor = f"login:{str(email)[:90]}" if email else "login:?"
    name = permissions.of_view(view, request.blueprint, request.method) or "other.write"
    record_id = next(iter((request.view_args or {}).values()), None)
    return {"actor": actor, "user_id": principal.user_id if principal else None,
            "token_id": principal.token_id if principal else None,
            "ip": (request.remote_addr or "")[:45] or None, "method": request.method,
            "path": request.path[:500], "resource": name.split(".")[0],
            "action": request.endpoint.rsplit(".", 1)[-1][:60],
            "record_id": str(record_id)[:100] if record_id is not None else None,
            "status": response.status_code, "correlation_id": g.get("correlation_id")}


def _record(response):
    entry = _entry(response)
    if entry is None:
        return response
    try:
        with store.transaction() as connection:
            audit.record(connection, entry)
            _prune(connection)
    except Exception:  # noqa: BLE001 - the write is done; its answer must still go out
        log.exception("could not write the audit log entry of %s %s", request.method,
                      request.path)
    return response


def _prune(connection) -> None:
    now = time.monotonic()
    if now - _pruned["at"] < PRUNE_EVERY:
        return
    with _lock:
        if now - _pruned["at"] < PRUNE_EVERY:
            return
        _pruned["at"] = now
    config = current_app.config
    audit.prune(connection, float(config["AUDIT_RETENTION_DAYS"]))
    sessions.prune(connection, float(config["LOGIN_WINDOW_SECONDS"]))


def init_app(app) -> None:
    app.after_request(_record)
