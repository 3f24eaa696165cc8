"""Contact persons through the gateway (the clients service faked at the RPC boundary)."""
import pytest
from gateway_support import AUTH, CLIENT, MISSING_ID, user_with_token

from crm_common.rpc import RemoteError

PROBLEM = "application/problem+json"
CONTACT = {"id": "7b0c1a52-6a1e-4c55-9d59-3b1f0f3c8a7e", "name": "Ing. Jan Novák",
           "first_name": "Jan", "last_name": "Novák", "degree": "Ing.", "position": None,
           "email": None, "phone": None, "emails": [], "phones": [], "note": None,
           "custom_fields": {}, "clients": [{"client_id": CLIENT["id"], "position": None,
                                             "primary": True}],
           "created_by": "admin:bootstrap", "updated_by": "admin:bootstrap",
           "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T10:00:00Z",
           "version": 1}
VCARD = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ing. Jan Novák\r\nEND:VCARD\r\n"


def test_add_a_contact_answers_201_with_its_location(client, rpc):
    rpc.answers[("clients", "add_contact")] = CONTACT
    body = {"first_name": "Jan", "last_name": "Novák", "degree": "Ing.", "primary": True}
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/contacts", json=body,
                           headers=AUTH)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/contacts/{CONTACT['id']}"
    kwargs = rpc.calls[0][2]
    assert kwargs["client_id"] == CLIENT["id"] and kwargs["contact"] == body


@pytest.mark.parametrize("body, field", [
    ({"last_name": "X", "phones": "603"}, "phones"), ({"last_name": "X" * 101}, "last_name"),
    ({"last_name": "X", "primary": "maybe"}, "primary"), ({"last_name": "X", "age": 3}, "age"),
])
def test_bad_contacts_are_422_before_any_call(client, rpc, body, field):
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/contacts", json=body,
                           headers=AUTH)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert any(e["field"].startswith(field) for e in response.json["errors"])
    assert rpc.calls == []


def test_patch_a_contact_with_if_match(client, rpc):
    rpc.answers[("clients", "update_contact")] = dict(CONTACT, version=2)
    response = client.patch(f"/api/v1/contacts/{CONTACT['id']}", json={"degree": "Mgr."},
                            headers=dict(AUTH, **{"If-Match": 'W/"1"'}))
    assert response.status_code == 200 and response.headers["ETag"] == 'W/"2"'
    assert rpc.calls[0][2]["if_match"] == 1


def test_a_second_primary_at_the_same_moment_is_409(client, rpc):
    rpc.answers[("clients", "update_contact_link")] = RemoteError(
        "Conflict", "another primary contact was set at the same time; try again", [])
    response = client.patch(f"/api/v1/clients/{CLIENT['id']}/contacts/{CONTACT['id']}",
                            json={"primary": True}, headers=AUTH)
    assert response.status_code == 409 and response.mimetype == PROBLEM


def test_delete_is_204(client, rpc):
    rpc.answers[("clients", "delete_contact")] = {"id": CONTACT["id"], "deleted": True}
    response = client.delete(f"/api/v1/contacts/{CONTACT['id']}", headers=AUTH)
    assert response.status_code == 204 and response.data == b""


@pytest.mark.parametrize("path, method", [
    (f"/api/v1/contacts/{CONTACT['id']}/vcard", "contact_vcard"),
    (f"/api/v1/clients/{CLIENT['id']}/contacts/vcard", "client_vcards")])
def test_vcards_are_utf8_text_vcard_attachments(client, rpc, path, method):
    rpc.answers[("clients", method)] = VCARD
    response = client.get(path, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/vcard; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.get_data(as_text=True) == VCARD


def test_a_missing_contact_is_404(client, rpc):
    rpc.answers[("clients", "get_contact")] = RemoteError("NotFound", "contact x", [])
    response = client.get(f"/api/v1/contacts/{MISSING_ID}", headers=AUTH)
    assert response.status_code == 404 and response.mimetype == PROBLEM


@pytest.fixture
def sales(app):
    """A sales rep's API token."""
    return user_with_token(app, "sales")[1]


@pytest.mark.parametrize("method, path", [
    ("post", f"/api/v1/clients/{CLIENT['id']}/erase"),
    ("post", f"/api/v1/contacts/{CONTACT['id']}/erase"),
    ("post", "/api/v1/custom-fields"),
    ("patch", f"/api/v1/custom-fields/{MISSING_ID}"),
    ("post", f"/api/v1/custom-fields/{MISSING_ID}/retire"),
])
def test_administrators_only(client, rpc, sales, method, path):
    body = {"json": {"label": "X"}} if method == "patch" or path.endswith("fields") else {}
    response = getattr(client, method)(path, headers=sales, **body)
    assert response.status_code == 403 and response.mimetype == PROBLEM
    assert rpc.calls == []


def test_an_administrator_erases(client, rpc):
    rpc.answers[("clients", "erase")] = dict(CLIENT, erased_at="2026-01-01T10:00:00Z")
    response = client.post(f"/api/v1/clients/{CLIENT['id']}/erase", headers=AUTH)
    assert response.status_code == 200 and response.json["erased_at"]
    assert rpc.calls[0][1] == "erase"


def test_a_non_administrator_gets_403_before_any_word_about_the_body(client, rpc, sales):
    response = client.post("/api/v1/custom-fields", data="not json",
                           headers=dict(sales, **{"Content-Type": "text/plain"}))
    assert response.status_code == 403
