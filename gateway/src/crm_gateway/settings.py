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
        "RPC_MAX_IDLE": int(env_float("GATEWAY_RPC_IDLE", 16)),
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
            "security": [{"bearerAuth": []}],
            "info": {"description": "REST API of the CRM. Errors are RFC 9457 "
                                    "application/problem+json."},
        },
        "JSON_SORT_KEYS": False,
        # a JSON API: larger bodies are refused (413 problem+json) before they are read;
        # room for a batch of 1,000 full clients
        "MAX_CONTENT_LENGTH": int(env_float("GATEWAY_MAX_BODY_BYTES", 4 * 1024 * 1024)),
    }
    settings.update(overrides or {})
    return settings
