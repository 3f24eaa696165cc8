"""Authorisation generated from docs/permissions.md: every endpoint of the gateway is in its
table, and every role is refused (403, before any service is asked) exactly where the
matrix has no ✓, and let through everywhere else."""
import re
from pathlib import Path

import pytest

from gateway_support import CLIENT, FakeRpc, TOKEN, user_with_token

from crm_gateway import create_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
ROLES = ("admin", "manager", "sales", "readonly")


def _tables():
    text = DOC.read_text(encoding="utf-8")
    matrix, endpoints = {}, []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[a-z_]+\.[a-z]+", cells[0]):
            matrix[cells[0]] = {role for role, mark in zip(ROLES, cells[1:]) if mark == "✓"}
        found = re.fullmatch(r"`([A-Z]+) (/api/v1\S*)`", cells[0]) if len(cells) == 2 else None
        if found:
            endpoints.append((found.group(1), found.group(2), cells[1]))
    return matrix, endpoints


MATRIX, ENDPOINTS = _tables()
ATTACHMENT = {"id": "6c1f3b0e-0000-4000-8000-0000000000a1", "client_id": CLIENT["id"],
              "deal_id": None, "activity_id": None, "file_name": "a.txt",
              "content_type": "text/plain", "size": 0, "created_at": CLIENT["created_at"],
              "created_by": None, "sha256": "e3b0c44298fc1c149afbf4c8996fb924"
                                            "27ae41e4649b934ca495991b7852b855"}


class AnsweringRpc(FakeRpc):
    """Answers every call with something of the right kind, so an allowed request gets as
    far as the view can take it."""

    def call(self, service, method, kwargs=None, context=None, timeout=None):
        self.calls.append((service, method, kwargs or {}, context or {}))
        if method.endswith("vcard") or method.endswith("vcards"):
            return "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:X\r\nEND:VCARD\r\n"
        if method == "create_many":
            return []
        if method.startswith("attachment_"):  # a stored attachment, its bytes, its entry
            return dict(ATTACHMENT, data="", items=[], next_cursor=None)
        if method == "calendar":
            return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
        if method == "card":  # a service's sections of the client card (all of them)
            page = {"items": [], "next_cursor": None}
            return {"client": dict(CLIENT), "parent": None, **{name: page for name in (
                "contacts", "subsidiaries", "timeline", "open_tasks", "open_deals",
                "closed_deals", "deal_summary")}}
        if method == "create_activity":
            return {"activity": dict(CLIENT), "created": True}
        if service == "importer" and method == "rows":
            return {"items": [], "headers": ["Firma"], "next_cursor": None}
        # a client; as the entry of an activity call, the caller's own about that client
        return dict(CLIENT, items=[], next_cursor=None, client_id=CLIENT["id"],
                    author=(context or {}).get("actor"))


def test_the_document_parses():
    assert len(MATRIX) >= 20 and len(ENDPOINTS) >= 40
    assert {p for _, _, p in ENDPOINTS} - {"public"} <= set(MATRIX)


def test_every_endpoint_is_in_the_document():
    app = create_app({"RPC": FakeRpc(), "CRM_BOOTSTRAP_ADMIN_TOKEN": TOKEN})
    served = {(method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(method, path) for method, path, _ in ENDPOINTS}
    assert served - documented == set(), "endpoints missing from docs/permissions.md"
    assert documented - served == set(), "docs/permissions.md lists endpoints that do not exist"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """One app, one user with a token per role (their own database)."""
    import shutil

    from gateway_support import migrated_database
    template = migrated_database(tmp_path_factory.mktemp("perm") / "gateway.db")
    path = tmp_path_factory.mktemp("perm-run") / "gateway.db"
    shutil.copy(template, path)
    rpc = AnsweringRpc()
    app = create_app({"RPC": rpc, "CRM_BOOTSTRAP_ADMIN_TOKEN": TOKEN,
                      "DATABASE_URL": f"sqlite:///{path}"})
    users = {role: user_with_token(app, role, scopes=["write"]) for role in ROLES}
    return app, rpc, users


def _path(template: str, users) -> str:
    ids = {"user_id": users["sales"][0]["id"], "token_id": "6c1f3b0e-0000-4000-8000-00000000000f"}
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), CLIENT["id"]), template)


@pytest.mark.parametrize("method, path, permission", ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_what_the_matrix_says(gateway, role, method, path, permission):
    app, rpc, users = gateway
    client = app.test_client()
    headers = users[role][1]
    body = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
    before = len(rpc.calls)
    response = client.open(_path(path, users), method=method, headers=headers, **body)
    if permission == "public" or role in MATRIX[permission]:
        assert response.status_code != 403, (response.status_code, response.json)
        assert response.status_code < 500, (response.status_code, response.json)
    else:
        assert response.status_code == 403, (response.status_code, response.json)
        assert response.mimetype == "application/problem+json"
        assert len(rpc.calls) == before, "a refused request must not reach a service"


@pytest.mark.parametrize("method, path, permission",
                         [e for e in ENDPOINTS if e[2] != "public"],
                         ids=[f"{m} {p}" for m, p, x in ENDPOINTS if x != "public"])
def test_nobody_gets_in_without_credentials(gateway, method, path, permission):
    app, _, users = gateway
    response = app.test_client().open(_path(path, users), method=method,
                                      **({"json": {}} if method != "GET" else {}))
    assert response.status_code == 401


@pytest.mark.parametrize("method, path, permission", ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_a_token_needs_the_scope_of_the_resource(gateway, method, path, permission):
    """An administrator's token scoped to another resource is refused everywhere but there."""
    if permission == "public":
        return
    app, rpc, users = gateway
    resource = permission.split(".")[0]
    other = "status" if resource != "status" else "clients"
    _, narrow = user_with_token(app, "admin", scopes=[f"{other}:write"])
    response = app.test_client().open(_path(path, users), method=method, headers=narrow,
                                      **({"json": {}} if method != "GET" else {}))
    assert response.status_code == 403
    assert f"{resource}:" in response.json["detail"]
