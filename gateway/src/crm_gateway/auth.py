"""Who is calling, and may they: every request but the public ones is authenticated, then
checked against the permission matrix (permissions.py), a token's scopes and, for a
cookie-authenticated write, the CSRF token.

Three ways in: `Authorization: Bearer <API token>` (integrations), the session cookie of a
password login (the web UI), and `CRM_BOOTSTRAP_ADMIN_TOKEN` (first setup, automation).
A fourth for one endpoint only: the calendar feed (`feed_token` views) also takes a feed
token in its `token` query parameter, because calendar apps send no headers; when that
parameter is there it is the only credential looked at, and it reads that feed, nothing
else.
What a token or a session resolves to is cached for `AUTH_CACHE_SECONDS`, so a revoked
token or a deactivated user is refused by every gateway process within that time (at
once by the process that made the change).
"""
import hmac
import threading
import time
from dataclasses import dataclass

from flask import current_app, g, request
from werkzeug.exceptions import Forbidden, MethodNotAllowed

from crm_common.access import RESTRICTED_ROLES, Caller
from crm_common.fields import unstorable_text

from . import observability, permissions
from .accounts import calendar_feeds, org_settings, sessions, store, tokens
from .problems import problem
from .security import metrics_token_ok

ROLES = permissions.ROLES
# open without a token: probes, the API description and the UI shell (no data in it);
# /metrics takes METRICS_TOKEN or an API token (METRICS_PUBLIC=true opens it)
PUBLIC_PATHS = {"/healthz", "/readyz", "/api/openapi.json", "/", "/favicon.ico"}
METRICS_PATH = "/metrics"
PUBLIC_PREFIXES = ("/api/docs", "/static/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
FEED_TOKEN_PARAM = "token"
FEED_SCOPES = ("calendar:read",)  # all a feed token can do, wherever it is sent


@dataclass(frozen=True)
class Principal:
    id: str  # the user's id; "bootstrap" for the bootstrap token
    actor: str  # goes into RPC context and events: "user:<id>", "admin:bootstrap"
    role: str
    user_id: str | None = None
    via: str = "token"  # "token" | "session" | "bootstrap"
    scopes: tuple | None = None  # an API token's; None: not narrowed
    token_id: str | None = None
    csrf_token: str | None = None  # a session's
    session_id: str | None = None
    expires_at: object = None  # a token's: the tokens it makes expire no later

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles

    def may(self, name: str) -> bool:
        """The permission `name`, by role and, for a token, by scope."""
        return permissions.allowed(self.role, name) and tokens.allows(
            None if self.scopes is None else list(self.scopes), name.split(".")[0],
            permissions.scope_kind(name))


BOOTSTRAP_ADMIN = Principal(id="bootstrap", actor="admin:bootstrap", role="admin",
                            via="bootstrap")


MIN_BOOTSTRAP_TOKEN = 32
# what example files and tutorials put there instead of a token
_PLACEHOLDERS = ("change", "example", "placeholder", "replace", "your-", "your_", "xxxx",
                 "token-here", "secret-here", "password")


class UnsafeBootstrapToken(ValueError):
    """CRM_BOOTSTRAP_ADMIN_TOKEN is too short or a placeholder: the gateway does not start."""


def check_bootstrap_token(token: str | None) -> None:
    if not token:
        return
    if len(token) < MIN_BOOTSTRAP_TOKEN:
        raise UnsafeBootstrapToken(
            f"CRM_BOOTSTRAP_ADMIN_TOKEN has {len(token)} characters; an admin token needs at "
            f"least {MIN_BOOTSTRAP_TOKEN}. Make one with: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'")
    if any(word in token.lower() for word in _PLACEHOLDERS):
        raise UnsafeBootstrapToken(
            "CRM_BOOTSTRAP_ADMIN_TOKEN is a placeholder from an example, not a token. Make "
            "one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")


class _Cache:
    """secret digest -> (principal, until): a bounded, short-lived memory of who a token
    or a session is."""

    LIMIT = 10000

    def __init__(self):
        self.entries: dict = {}
        self.lock = threading.Lock()

    def get(self, key):
        found = self.entries.get(key)
        if found and found[1] > time.monotonic():
            return found[0]
        return None

    def put(self, key, principal, seconds: float):
        with self.lock:
            if len(self.entries) >= self.LIMIT:
                self.entries.clear()
            self.entries[key] = (principal, time.monotonic() + seconds)

    def clear(self):
        with self.lock:
            self.entries.clear()

    def drop(self, key):
        with self.lock:
            self.entries.pop(key, None)


def forget_principals() -> None:
    """After a revocation, a deactivation: this process asks the database again."""
    current_app.extensions["crm_auth_cache"].clear()


def forget_principal(kind: str, secret: str) -> None:
    """One token or session (a logout) is asked for again."""
    current_app.extensions["crm_auth_cache"].drop((kind, tokens.digest(secret)))


def _cached(kind: str, secret: str, look_up):
    cache = current_app.extensions["crm_auth_cache"]
    key = (kind, tokens.digest(secret))
    principal = cache.get(key)
    if principal is None:
        with store.transaction() as connection:
            principal = look_up(connection, secret)
        if principal is not None:
            cache.put(key, principal, float(current_app.config["AUTH_CACHE_SECONDS"]))
    return principal


def _from_api_token(connection, secret: str) -> Principal | None:
    found = tokens.authenticate(connection, secret)
    if found is None:
        return None
    return Principal(id=found.user_id, actor=f"user:{found.user_id}", role=found.role,
                     user_id=found.user_id, via="token", scopes=tuple(found.scopes),
                     token_id=found.id, expires_at=store.aware(found.expires_at))


def _from_session(connection, cookie: str) -> Principal | None:
    found = sessions.authenticate(connection, cookie)
    if found is None:
        return None
    return Principal(id=found.user_id, actor=f"user:{found.user_id}", role=found.role,
                     user_id=found.user_id, via="session", csrf_token=found.csrf_token,
                     session_id=found.session_id)


def _from_feed_token(connection, secret: str) -> Principal | None:
    found = calendar_feeds.authenticate(connection, secret)
    if found is None:
        return None
    return Principal(id=found.user_id, actor=f"user:{found.user_id}", role=found.role,
                     user_id=found.user_id, via="calendar_feed", scopes=FEED_SCOPES)


def authenticate_feed_token(secret: str) -> Principal | None:
    if not secret.startswith(calendar_feeds.PREFIX) or len(secret) > 200:
        return None
    return _cached("feed", secret, _from_feed_token)


def authenticate_bearer(token: str) -> Principal | None:
    expected = current_app.config.get("CRM_BOOTSTRAP_ADMIN_TOKEN")
    if expected and hmac.compare_digest(token.encode("utf-8", "surrogatepass"),
                                        str(expected).encode()):
        return BOOTSTRAP_ADMIN
    if not token.startswith(tokens.PREFIX) or len(token) > 200:
        return None
    return _cached("token", token, _from_api_token)


def authenticate_cookie(cookie: str) -> Principal | None:
    if not cookie or len(cookie) > 200:
        return None
    return _cached("session", cookie, _from_session)


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def current_principal() -> Principal | None:
    return g.get("principal")


def caller() -> Caller:
    """Whom the services answer: the user, their role and, for a role the record-level
    rule narrows, whether it is switched on."""
    principal = current_principal()
    if principal is None or principal.user_id is None:
        return Caller(role=principal.role if principal else None)
    own_only = principal.role in RESTRICTED_ROLES and bool(current_settings()[
        "sales_see_own_only"])
    return Caller(user_id=principal.user_id, role=principal.role, own_only=own_only)


def current_settings() -> dict:
    app = current_app
    return org_settings.current(app.extensions["crm_settings_cache"], store.transaction,
                                float(app.config["SETTINGS_CACHE_SECONDS"]))


def require_role(*roles: str) -> None:
    """403 unless the caller has one of `roles` (an admin has every role)."""
    principal = current_principal()
    if principal is None or not principal.has_role(*roles):
        raise Forbidden(f"This needs the role {' or '.join(roles)}.")


def is_public(path: str) -> bool:
    if path == METRICS_PATH and current_app.config.get("METRICS_PUBLIC"):
        return True
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _view():
    return current_app.view_functions.get(request.endpoint) if request.endpoint else None


def _authenticate() -> Principal | None:
    token = bearer_token()
    if token is not None:
        return authenticate_bearer(token)
    cookie = request.cookies.get(sessions.COOKIE)
    return authenticate_cookie(cookie) if cookie else None


def _require_principal():
    if request.method == "OPTIONS" or is_public(request.path) or \
            isinstance(request.routing_exception, MethodNotAllowed):
        return None  # a method the path does not have is a 405 to anyone
    view = _view()
    if getattr(view, "public", False):
        return None
    token = bearer_token()
    if request.path == METRICS_PATH and metrics_token_ok(token):
        return None
    feed_token = request.args.get(FEED_TOKEN_PARAM) if getattr(view, "feed_token", False) \
        else None
    if feed_token is not None:
        principal = authenticate_feed_token(feed_token)
        if principal is None:  # unknown, revoked, replaced, or its user deactivated: alike
            return problem(401, "The calendar feed token is not valid (revoked, replaced by "
                                "a newer one, or its user deactivated).",
                           headers={"WWW-Authenticate": 'Bearer realm="crm", '
                                                        'error="invalid_token"'})
    else:
        principal = _authenticate()
    if principal is None:
        challenge = 'Bearer realm="crm"' + ('' if token is None else ', error="invalid_token"')
        return problem(401, "Log in, or send a valid bearer token." if token is None
                       else "The bearer token is not valid.",
                       headers={"WWW-Authenticate": challenge})
    g.principal = principal
    observability.bind_actor(principal.actor)
    if request.view_args and not all(_storable(v) for v in request.view_args.values()):
        return problem(404, "No such resource.")  # no record has such an id
    if principal.via == "session" and request.method not in SAFE_METHODS and \
            not sessions.csrf_ok(principal.csrf_token, request.headers.get(
                sessions.CSRF_HEADER)):
        return problem(403, f"A write with the session cookie needs the header "
                            f"{sessions.CSRF_HEADER} (the csrf_token of the login).")
    name = permissions.of_view(view, request.blueprint, request.method) if view else None
    if name is not None and not principal.may(name):
        if not permissions.allowed(principal.role, name):
            return problem(403, f"The role {principal.role} may not do this ({name}).")
        return problem(403, f"This token's scopes do not cover {name.split('.')[0]}:"
                            f"{permissions.scope_kind(name)}.")
    return None


def _storable(value) -> bool:
    return not isinstance(value, str) or (len(value) <= 200 and
                                          unstorable_text(value) is None)


def init_app(app) -> None:
    check_bootstrap_token(app.config.get("CRM_BOOTSTRAP_ADMIN_TOKEN"))  # refused at start
    app.extensions["crm_auth_cache"] = _Cache()
    app.extensions["crm_settings_cache"] = {}
    app.before_request(_require_principal)
