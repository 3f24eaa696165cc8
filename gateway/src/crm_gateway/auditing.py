"""Every write through the API goes into the audit log once its answer is known: who, which
resource and action, which record, the outcome, from which address and token. Failed
logins too (as `login:<e-mail>`); a request nobody authenticated is not a write."""
import logging
import re
import threading
import time

from flask import current_app, g, request

from . import permissions
from .accounts import audit, sessions, store

log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EMAIL_LIKE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
PRUNE_EVERY = 3600.0  # seconds, per process
_pruned = {"at": 0.0}
_lock = threading.Lock()


LENGTHS = {"actor": 100, "user_id": 36, "token_id": 36, "ip": 45, "path": 500,
           "resource": 40, "action": 60, "record_id": 100, "correlation_id": 128}


def _entry(response) -> dict | None:
    if request.method not in WRITE_METHODS or not request.path.startswith("/api/") \
            or request.endpoint is None or g.get("not_audited"):
        return None
    principal = g.get("principal")
    view = current_app.view_functions.get(request.endpoint)
    actor = principal.actor if principal else None
    user_id = principal.user_id if principal else g.get("audit_user_id")
    if principal is None:
        if not getattr(view, "public", False) or response.status_code == 429:
            return None  # refused before anything happened (401; a locked login)
        actor = _login_actor() if request.endpoint.endswith(".login") else None
    name = permissions.of_view(view, request.blueprint, request.method) or "other.write"
    record_id = next(iter((request.view_args or {}).values()), None)
    if record_id is None and response.status_code in (201, 202) and response.is_json:
        # what was created (202: the job started)
        record_id = (response.get_json(silent=True) or {}).get("id")
    return _clipped({
        "actor": actor, "user_id": user_id,
        "token_id": principal.token_id if principal else None, "ip": request.remote_addr,
        "method": request.method, "path": request.path, "resource": name.split(".")[0],
        "action": request.endpoint.rsplit(".", 1)[-1],
        "record_id": str(record_id) if record_id is not None else None,
        "status": response.status_code, "correlation_id": g.get("correlation_id")})


def _login_actor() -> str:
    """`login:<e-mail>` of an attempt; not what was typed when it is no e-mail (a password
    typed into the wrong box must not land in the log)."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if isinstance(email, str) and EMAIL_LIKE.fullmatch(email.strip()):
        return f"login:{email.strip().lower()}"
    return "login:?"


def _clipped(entry: dict) -> dict:
    """Every text as its column holds it, storable whatever the request held."""
    for name, length in LENGTHS.items():
        value = entry.get(name)
        if isinstance(value, str):
            value = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
            entry[name] = value[:length] or None
    return entry


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
