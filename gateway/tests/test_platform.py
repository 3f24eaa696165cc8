"""Correlation ids, health, metrics, OpenAPI."""
import logging
import threading
import time
import uuid

import pytest

from openapi_spec_validator import validate
from gateway_support import AUTH, CLIENT

CLIENT_URL = f"/api/v1/clients/{CLIENT['id']}"

from crm_common.context import CorrelationFilter
from crm_common.rpc import BrokerBlocked, NotSent, RemoteError, RpcTimeout

SERVICES = ("clients", "deals", "activities", "ares", "importer")


def test_correlation_id_is_propagated_and_echoed(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    response = client.get(CLIENT_URL, headers={**AUTH, "X-Correlation-ID": "req-42"})
    assert response.headers["X-Correlation-ID"] == "req-42"
    assert rpc.calls[0][3] == {"correlation_id": "req-42", "actor": "admin:bootstrap",
                               "caller_id": None, "caller_role": "admin", "own_only": False}


def test_correlation_id_is_generated(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    response = client.get(CLIENT_URL, headers={**AUTH, "X-Correlation-ID": "bad id <script>"})
    generated = response.headers["X-Correlation-ID"]
    assert str(uuid.UUID(generated)) == generated
    assert rpc.calls[0][3]["correlation_id"] == generated
    # errors carry it too
    response = client.get(CLIENT_URL, headers={"X-Correlation-ID": "c-1"})
    assert response.headers["X-Correlation-ID"] == "c-1"
    assert response.json["correlation_id"] == "c-1"


def test_log_lines_carry_the_correlation_id(client, rpc, caplog):
    rpc.answers[("clients", "get")] = CLIENT
    caplog.handler.addFilter(CorrelationFilter())
    with caplog.at_level(logging.INFO, logger="crm_gateway"):
        client.get(CLIENT_URL, headers={**AUTH, "X-Correlation-ID": "log-1"})
    assert any(getattr(r, "correlation_id", None) == "log-1" for r in caplog.records)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_asks_the_broker_not_the_services(client, rpc):
    rpc.answers[("importer", "health")] = RpcTimeout("importer stopped")  # irrelevant here
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "broker": "ok"}
    assert rpc.calls == [] and rpc.broker_checks == 1


def test_readyz_503_when_the_broker_cannot_be_reached(client, rpc):
    rpc.broker = NotSent("connection refused")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["broker"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_readyz_stays_ready_while_the_broker_blocks_publishers(client, rpc):
    rpc.broker = "blocked"  # every gateway sees it; they answer 503 problems at once
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["broker"] == "blocked"


def test_readyz_is_cached_and_checked_once_for_concurrent_probes(app, rpc):
    gate = threading.Event()

    def slow_check(timeout):
        rpc.broker_checks += 1
        gate.wait(5)
        return "ok"

    rpc.check_broker = slow_check
    statuses = []

    def probe():
        statuses.append(app.test_client().get("/readyz").status_code)

    probes = [threading.Thread(target=probe) for _ in range(40)]
    for thread in probes:
        thread.start()
    time.sleep(0.2)  # all 40 arrive while the one check runs
    gate.set()
    for thread in probes:
        thread.join(10)
    assert statuses == [200] * 40 and rpc.broker_checks == 1
    app.test_client().get("/readyz")
    assert rpc.broker_checks == 1  # still fresh
    app.extensions["crm_cached_checks"]["readyz"].ttl = 0  # as if the second had passed
    app.test_client().get("/readyz")
    assert rpc.broker_checks == 2


def test_status_needs_a_token(client, rpc):
    response = client.get("/api/v1/status")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert rpc.calls == [] and rpc.broker_checks == 0


def test_status_reports_every_service(client, rpc):
    rpc.answers.update({(s, "health"): {"service": s, "status": "ok"} for s in SERVICES})
    response = client.get("/api/v1/status", headers=AUTH)
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok" and body["broker"] == "ok"
    assert set(body["services"]) == set(SERVICES)
    assert body["services"]["clients"] == {"status": "ok", "latency_ms": 1.2}
    assert body["checked_at"].endswith("Z")
    assert {c[:2] for c in rpc.calls} == {(s, "health") for s in SERVICES}


def test_status_is_degraded_when_one_fails_and_says_why(client, rpc):
    rpc.answers.update({(s, "health"): {"status": "ok"} for s in SERVICES})
    rpc.answers[("ares", "health")] = RpcTimeout("ares.health did not answer")
    rpc.answers[("deals", "health")] = RemoteError("ServiceUnavailable", "none", [])
    rpc.answers[("importer", "health")] = RemoteError("OperationalError", "db locked", [])
    response = client.get("/api/v1/status", headers=AUTH)
    assert response.status_code == 200
    services = response.json["services"]
    assert response.json["status"] == "degraded"
    assert services["ares"]["status"] == "unavailable" and services["ares"]["error"] == "timeout"
    assert services["deals"]["error"] == "not_consuming"
    assert services["importer"]["error"] == "OperationalError"
    assert services["clients"]["status"] == "ok"


def test_status_while_the_broker_blocks_publishers(client, rpc):
    rpc.broker = "blocked"
    rpc.answers.update({(s, "health"): BrokerBlocked("blocked") for s in SERVICES})
    body = client.get("/api/v1/status", headers=AUTH).json
    assert body["status"] == "degraded" and body["broker"] == "blocked"
    assert body["services"]["clients"]["error"] == "broker_blocked"


def test_status_is_cached(client, rpc):
    rpc.answers.update({(s, "health"): {"status": "ok"} for s in SERVICES})
    first = client.get("/api/v1/status", headers=AUTH).json
    second = client.get("/api/v1/status", headers=AUTH).json
    assert first == second and len(rpc.calls) == len(SERVICES)


def test_openapi_document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert spec["info"] == {**spec["info"], "title": "CRM API", "version": "v1"}
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/clients"])
    assert "get" in paths["/api/v1/clients/{client_id}"]
    assert "get" in paths["/api/v1/clients/{client_id}/timeline"]
    assert "post" in paths["/api/v1/clients/{client_id}/notes"]
    assert {"get", "patch"} <= set(paths["/api/v1/clients/{client_id}"])
    assert "412" in paths["/api/v1/clients/{client_id}"]["patch"]["responses"]
    assert "post" in paths["/api/v1/clients/{client_id}/archive"]
    assert "post" in paths["/api/v1/clients/{client_id}/restore"]
    assert "get" in paths["/api/v1/clients/{client_id}/history"]
    assert "get" in paths["/api/v1/status"]
    assert {"status", "broker", "services", "checked_at"} <= set(
        spec["components"]["schemas"]["Status"]["properties"])
    create = paths["/api/v1/clients"]["post"]["responses"]
    assert {"503", "504"} <= set(create)
    assert "idempotency_key" in spec["components"]["schemas"]["Problem"]["properties"]
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"], "type": "http",
        "scheme": "bearer"}
    assert {"bearerAuth": []} in spec["security"]
    client_props = spec["components"]["schemas"]["Client"]["properties"]
    assert {"id", "ico", "registered_address", "registry", "version", "nace", "emails",
            "phones", "bank_accounts", "billing", "archived_at", "tags"} <= set(client_props)
    assert {"occurred_at", "starts_at", "due_at", "message_id"} <= set(
        spec["components"]["schemas"]["Activity"]["properties"])
    errors = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    assert "application/problem+json" in errors
    validate(spec)


def test_docs_page_works_offline(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"/api/docs/assets/swagger-ui-bundle.js" in response.data
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")  # no token needed
    assert asset.status_code == 200 and len(asset.data) > 100_000


def test_oversized_body_is_refused_as_problem(client, rpc):
    response = client.post("/api/v1/clients", headers=AUTH,
                           data=b"{" + b" " * (4 * 1024 * 1024 + 10) + b"}",
                           content_type="application/json")
    assert response.status_code == 413
    assert response.content_type.startswith("application/problem+json")
    assert not [c for c in rpc.calls if c[1] == "create"]


def test_metrics(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    client.get(CLIENT_URL, headers=AUTH)
    client.get(CLIENT_URL)
    text = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert 'crm_gateway_http_requests_total{endpoint="/api/v1/clients/<client_id>",' \
           'method="GET",status="200"} 1.0' in text
    assert 'status="401"' in text
    assert "crm_gateway_http_request_duration_seconds_bucket" in text
    assert 'crm_gateway_rpc_duration_seconds_count{method="get",outcome="ok",' \
           'service="clients"} 1.0' in text


def test_ui_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Klienti" in response.get_data(as_text=True)
    assert client.get("/static/app.js").status_code == 200


def test_metrics_are_not_public(rpc):
    from crm_gateway import create_app
    app = create_app({"RPC": rpc, "CRM_BOOTSTRAP_ADMIN_TOKEN": "t" * 32,
                      "METRICS_TOKEN": "scraper-token-0123456789abcdef0123"})
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={
        "Authorization": "Bearer scraper-token-0123456789abcdef0123"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32}
                      ).status_code == 200
    assert client.get("/api/v1/status", headers={
        "Authorization": "Bearer scraper-token-0123456789abcdef0123"}).status_code == 401
    opened = create_app({"RPC": rpc, "METRICS_PUBLIC": True}).test_client()
    assert opened.get("/metrics").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/", "/api/docs", "/api/v1/clients"])
def test_security_headers_on_every_answer(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert ("'unsafe-inline'" in csp.split("script-src")[1].split(";")[0]) == \
        path.startswith("/api/docs")
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_over_https(client):
    response = client.get("/healthz", base_url="https://crm.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_correlation_id_must_match_whole():
    from crm_gateway.observability import _ACCEPTABLE_ID
    assert _ACCEPTABLE_ID.fullmatch("abc-123") and not _ACCEPTABLE_ID.fullmatch("abc\n")
