"""Settings from the environment; a dict given to `create_app` overrides them."""
import os

from crm_common.config import amqp_heartbeat, amqp_timeout, amqp_uri, env_float

# the services GET /api/v1/status asks for `health`
STATUS_SERVICES = ("clients", "deals", "activities", "ares", "importer")


def load(overrides: dict | None = None) -> dict:
    settings = {
        "AMQP_URI": amqp_uri(),
        "CRM_BOOTSTRAP_ADMIN_TOKEN": os.environ.get("CRM_BOOTSTRAP_ADMIN_TOKEN") or None,
        "RPC_TIMEOUT": env_float("RPC_TIMEOUT", 10.0),  # each RPC's deadline
        # broker connections of one gateway process: at most this many at once (a request
        # holds one per call in flight: gunicorn's threads, plus 8 for a fan-out), and
        # this many kept while idle
        "RPC_MAX_CONNECTIONS": int(env_float("GATEWAY_RPC_CONNECTIONS", 64)),
        "RPC_MAX_IDLE": int(env_float("GATEWAY_RPC_IDLE", 24)),
        "AMQP_HEARTBEAT": amqp_heartbeat(),  # seconds, the RPC pool's connections
        "AMQP_TIMEOUT": amqp_timeout(),  # bound on connecting and any one broker operation
        # /readyz: can this gateway reach the broker (bounded, cached, one check at a time)
        "READY_TIMEOUT": env_float("READY_TIMEOUT", 2.0),
        "READY_CACHE_SECONDS": env_float("READY_CACHE_SECONDS", 1.0),
        # GET /api/v1/status: every service's `health`, in parallel, cached
        "STATUS_SERVICES": STATUS_SERVICES,
        "STATUS_TIMEOUT": env_float("STATUS_TIMEOUT", 2.0),
        "STATUS_CACHE_SECONDS": env_float("STATUS_CACHE_SECONDS", 5.0),
        "RETRY_AFTER": 5,  # seconds, on 503 and 504 answers
        # GET /clients/{id}/card: how long its sections may take (a late one is unavailable)
        "CARD_TIMEOUT": env_float("CARD_TIMEOUT", 2.0),
        # /metrics: the token a Prometheus scraper sends (or any API token); or open to all
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        "METRICS_PUBLIC": os.environ.get("METRICS_PUBLIC", "").lower() in ("1", "true", "yes"),
        # Strict-Transport-Security on answers over HTTPS (0: never)
        "HSTS_SECONDS": int(env_float("HSTS_SECONDS", 31536000)),
        # the gateway's own database: users, tokens, sessions, settings, audit log
        # (GATEWAY_DATABASE_URL; SQLite under var/ by default)
        "DATABASE_URL": None,
        # how long a token or session, and the settings, are remembered by one process:
        # a revocation or a settings change reaches every process within this time
        "AUTH_CACHE_SECONDS": env_float("AUTH_CACHE_SECONDS", 5.0),
        "SETTINGS_CACHE_SECONDS": env_float("SETTINGS_CACHE_SECONDS", 5.0),
        # password login: a session lasts this long; failed logins in a window, per account
        # and per address, after which logins are refused (429) until the window moves on
        "SESSION_HOURS": env_float("SESSION_HOURS", 12.0),
        "LOGIN_WINDOW_SECONDS": env_float("LOGIN_WINDOW_SECONDS", 900.0),
        "LOGIN_FAILURES_PER_ACCOUNT": int(env_float("LOGIN_FAILURES_PER_ACCOUNT", 5)),
        "LOGIN_FAILURES_PER_IP": int(env_float("LOGIN_FAILURES_PER_IP", 20)),
        # the audit log keeps this many days
        "AUDIT_RETENTION_DAYS": env_float("AUDIT_RETENTION_DAYS", 400.0),
        # reverse proxies in front of the gateway whose X-Forwarded-For/-Proto to believe
        # (the client's address in the audit log and the login limits; HTTPS for cookies)
        "TRUSTED_PROXIES": int(env_float("GATEWAY_TRUSTED_PROXIES", 0)),
        # a one-time link to create the first administrator (`python -m crm_gateway.setup`)
        "SETUP_TOKEN_HOURS": env_float("SETUP_TOKEN_HOURS", 24.0),
        "RPC": None,  # an object with `call`/`fan_out` (tests); else an RpcPool, made lazily
        # flask-smorest / OpenAPI
        "API_TITLE": "CRM API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": os.environ.get("OPENAPI_SWAGGER_UI_URL")
        or "/api/docs/assets/",  # served by ui.py from the swagger-ui-bundle package
        "OPENAPI_SWAGGER_UI_CONFIG": {"persistAuthorization": True},
        "API_SPEC_OPTIONS": {
            "security": [{"bearerAuth": []}, {"sessionCookie": []}],
            "info": {"description": "REST API of the CRM. Errors are RFC 9457 "
                                    "application/problem+json."},
        },
        "JSON_SORT_KEYS": False,
        # a JSON API: larger bodies are refused (413 problem+json) before they are read;
        # room for a batch of 1,000 full clients
        "MAX_CONTENT_LENGTH": int(env_float("GATEWAY_MAX_BODY_BYTES", 4 * 1024 * 1024)),
        # an attachment (the one body over that: streamed to the activities service in
        # pieces, 413 above this); the activities service reads the same variable
        "ATTACHMENTS_MAX_BYTES": int(env_float("ATTACHMENTS_MAX_BYTES", 25 * 1024 * 1024)),
        "IMPORT_MAX_BYTES": int(env_float("IMPORT_MAX_BYTES", 50 * 1000 * 1000)),
    }
    settings.update(overrides or {})
    return settings
