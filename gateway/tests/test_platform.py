"""Correlation ids, health, metrics, OpenAPI."""
import logging
import uuid

from openapi_spec_validator import validate
from gateway_support import AUTH, CLIENT

from crm_common.context import CorrelationFilter
from crm_common.rpc import RemoteError, RpcTimeout

SERVICES = ("clients", "deals", "activities", "ares", "importer")


def test_correlation_id_is_propagated_and_echoed(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    response = client.get("/api/v1/clients/1", headers={**AUTH, "X-Correlation-ID": "req-42"})
    assert response.headers["X-Correlation-ID"] == "req-42"
    assert rpc.calls[0][3] == {"correlation_id": "req-42", "actor": "admin:bootstrap"}


def test_correlation_id_is_generated(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    response = client.get("/api/v1/clients/1", headers={**AUTH, "X-Correlation-ID": "bad id <script>"})
    generated = response.headers["X-Correlation-ID"]
    assert str(uuid.UUID(generated)) == generated
    assert rpc.calls[0][3]["correlation_id"] == generated
    # errors carry it too
    response = client.get("/api/v1/clients/1", headers={"X-Correlation-ID": "c-1"})
    assert response.headers["X-Correlation-ID"] == "c-1"
    assert response.json["correlation_id"] == "c-1"


def test_log_lines_carry_the_correlation_id(client, rpc, caplog):
    rpc.answers[("clients", "get")] = CLIENT
    caplog.handler.addFilter(CorrelationFilter())
    with caplog.at_level(logging.INFO, logger="crm_gateway"):
        client.get("/api/v1/clients/1", headers={**AUTH, "X-Correlation-ID": "log-1"})
    assert any(getattr(r, "correlation_id", None) == "log-1" for r in caplog.records)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_all_answer(client, rpc):
    rpc.answers.update({(s, "health"): {"service": s, "status": "ok"} for s in SERVICES})
    response = client.get("/readyz")
    assert response.status_code == 200
    assert set(response.json["services"]) == set(SERVICES)
    assert {c[:2] for c in rpc.calls} == {(s, "health") for s in SERVICES}


def test_readyz_503_when_one_fails(client, rpc):
    rpc.answers.update({(s, "health"): {"status": "ok"} for s in SERVICES})
    rpc.answers[("ares", "health")] = RpcTimeout("ares.health did not answer")
    rpc.answers[("deals", "health")] = RemoteError("ServiceUnavailable", "none", [])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert sorted(response.json["failed"]) == ["ares", "deals"]
    assert response.json["services"]["ares"] == {"status": "unavailable", "error": "timeout"}
    assert response.json["services"]["clients"]["status"] == "ok"


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
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        **spec["components"]["securitySchemes"]["bearerAuth"], "type": "http",
        "scheme": "bearer"}
    assert {"bearerAuth": []} in spec["security"]
    client_props = spec["components"]["schemas"]["Client"]["properties"]
    assert {"id", "ico", "registered_address", "registry", "version", "nace"} <= set(client_props)
    assert "occurred_at" in spec["components"]["schemas"]["TimelineEntry"]["properties"]
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
                           data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                           content_type="application/json")
    assert response.status_code == 413
    assert response.content_type.startswith("application/problem+json")
    assert not [c for c in rpc.calls if c[1] == "create"]


def test_metrics(client, rpc):
    rpc.answers[("clients", "get")] = CLIENT
    client.get("/api/v1/clients/1", headers=AUTH)
    client.get("/api/v1/clients/1")
    text = client.get("/metrics").get_data(as_text=True)
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
