import pytest

from gateway_support import AUTH, CLIENT

from crm_gateway import create_app


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}])
def test_api_needs_a_valid_token(client, rpc, headers):
    response = client.get("/api/v1/clients", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["status"] == 401 and response.json["title"]
    assert rpc.calls == []


def test_bootstrap_token_is_admin(client, rpc):
    rpc.answers[("clients", "list")] = {"items": [CLIENT], "next_cursor": None}
    response = client.get("/api/v1/clients", headers=AUTH)
    assert response.status_code == 200
    assert rpc.calls[0][3]["actor"] == "admin:bootstrap"


def test_no_bootstrap_token_configured_accepts_nothing(rpc, monkeypatch):
    monkeypatch.delenv("CRM_BOOTSTRAP_ADMIN_TOKEN", raising=False)
    client = create_app({"RPC": rpc}).test_client()
    assert client.get("/api/v1/clients", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/api/v1/clients", headers={"Authorization": "Bearer None"}
                      ).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/api/openapi.json", "/api/docs", "/"])
def test_open_endpoints(client, path):
    assert client.get(path).status_code == 200


def test_readyz_is_open(client, rpc):
    assert client.get("/readyz").status_code == 200


def test_unknown_route_is_a_problem(client):
    response = client.get("/api/v1/nothing", headers=AUTH)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_wrong_method_is_a_problem(client):
    response = client.delete("/api/v1/clients", headers=AUTH)
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("token", ["change-me", "short-but-random-9f2", "CHANGE_ME_LONG_RANDOM_TOKEN",
                                   "replace-with-a-long-random-token-please",
                                   "example-token-0123456789abcdef0123456789"])
def test_an_unsafe_bootstrap_token_stops_the_gateway_at_start(token):
    from crm_gateway import create_app
    from crm_gateway.auth import UnsafeBootstrapToken
    with pytest.raises(UnsafeBootstrapToken, match="CRM_BOOTSTRAP_ADMIN_TOKEN"):
        create_app({"CRM_BOOTSTRAP_ADMIN_TOKEN": token})


def test_a_long_random_bootstrap_token_is_taken():
    from crm_gateway import create_app
    from gateway_support import FakeRpc
    token = "Jq7x2Vb9-kR4mZ1pT6wY3nL8sD5fH0gC"
    client = create_app({"CRM_BOOTSTRAP_ADMIN_TOKEN": token, "RPC": FakeRpc()}).test_client()
    assert client.get("/api/v1/status", headers={
        "Authorization": f"Bearer {token}"}).status_code == 200
