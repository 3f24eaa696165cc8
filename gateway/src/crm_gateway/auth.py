"""Who is calling. Bearer tokens only for now; users, sessions and API tokens plug in later
as more authenticators (`token -> Principal | None`) in `app.extensions["crm_authenticators"]`.
"""
import functools
import hmac
from dataclasses import dataclass, field

from flask import current_app, g, request
from werkzeug.exceptions import Forbidden

from . import observability
from .security import metrics_token_ok
from .problems import problem

ROLES = ("admin", "manager", "sales", "readonly")
# open without a token: probes, the API description and the UI shell (no data in it);
# /metrics takes METRICS_TOKEN or an API token (METRICS_PUBLIC=true opens it)
PUBLIC_PATHS = {"/healthz", "/readyz", "/api/openapi.json", "/", "/favicon.ico"}
METRICS_PATH = "/metrics"
PUBLIC_PREFIXES = ("/api/docs", "/static/")


@dataclass(frozen=True)
class Principal:
    id: str
    actor: str  # goes into RPC context and events: "admin:bootstrap", "user:<id>", ...
    roles: frozenset = field(default_factory=frozenset)

    def has_role(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)


BOOTSTRAP_ADMIN = Principal(id="bootstrap", actor="admin:bootstrap", roles=frozenset({"admin"}))


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


def bootstrap_token(token: str) -> Principal | None:
    """`CRM_BOOTSTRAP_ADMIN_TOKEN`, when set, is an admin token."""
    expected = current_app.config.get("CRM_BOOTSTRAP_ADMIN_TOKEN")
    if expected and hmac.compare_digest(token.encode(), str(expected).encode()):
        return BOOTSTRAP_ADMIN
    return None


def authenticate(token: str) -> Principal | None:
    for authenticator in current_app.extensions["crm_authenticators"]:
        principal = authenticator(token)
        if principal is not None:
            return principal
    return None


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def current_principal() -> Principal | None:
    return g.get("principal")


def require_role(*roles: str) -> None:
    """403 unless the caller has one of `roles` (an admin has every role)."""
    principal = current_principal()
    if principal is None or not principal.has_role(*roles):
        raise Forbidden(f"This needs the role {' or '.join(roles)}.")


def requires(*roles: str):
    """An endpoint for these roles only: checked before its input is even read (put it
    right under `@blp.route`)."""
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            require_role(*roles)
            return view(*args, **kwargs)
        guarded.required_roles = roles  # read by the blueprints' before_request checks
        return guarded
    return decorate


def is_public(path: str) -> bool:
    if path == METRICS_PATH and current_app.config.get("METRICS_PUBLIC"):
        return True
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _require_principal():
    if request.method == "OPTIONS" or is_public(request.path):
        return None
    token = bearer_token()
    if request.path == METRICS_PATH and metrics_token_ok(token):
        return None
    principal = authenticate(token) if token else None
    if principal is None:
        challenge = 'Bearer realm="crm"' + ('' if token is None else ', error="invalid_token"')
        return problem(401, "A valid bearer token is required." if token is None
                       else "The bearer token is not valid.",
                       headers={"WWW-Authenticate": challenge})
    g.principal = principal
    observability.bind_actor(principal.actor)
    return None


def init_app(app) -> None:
    check_bootstrap_token(app.config.get("CRM_BOOTSTRAP_ADMIN_TOKEN"))  # refused at start
    app.extensions["crm_authenticators"] = [bootstrap_token]
    app.before_request(_require_principal)
