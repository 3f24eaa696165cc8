"""The calendar feed's token: shown once, stored hashed, replaced by a new one, revoked by
its user or an administrator, dead with a deactivated user, good for the feed only, and
never written to a log."""
import hashlib
import logging
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from gateway_support import AUTH, user_with_token

from crm_gateway.accounts import orm, store
from crm_gateway.observability import redact

FEED = "/api/v1/calendar.ics"
ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//CRM//x//EN\r\nX-WR-CALNAME:Schůzky\r\n" \
      "END:VCALENDAR\r\n"


def _feed_token(client, headers) -> str:
    made = client.post("/api/v1/calendar/feed", headers=headers)
    assert made.status_code == 201, made.json
    assert made.headers["Location"].endswith("/api/v1/calendar/feed")
    url = urlsplit(made.json["url"])
    assert url.path == FEED and parse_qs(url.query) == {"token": [made.json["token"]]}
    assert made.json["token"].startswith("crmcal_") and made.json["created_at"]
    return made.json["token"]


def _fetch(client, token, **params):
    return client.get(FEED, query_string={"token": token, **params})


def _answering(rpc):
    rpc.answers[("activities", "calendar")] = lambda **kwargs: ICS


def test_the_feed_url_is_shown_once_and_stored_hashed(app, client, rpc):
    _answering(rpc)
    user, bearer = user_with_token(app, "readonly")
    assert client.get("/api/v1/calendar/feed", headers=bearer).json == {
        "active": False, "created_at": None, "last_used_at": None}
    token = _feed_token(client, bearer)
    shown = client.get("/api/v1/calendar/feed", headers=bearer)
    assert shown.json["active"] and shown.json["last_used_at"] is None
    assert token not in shown.get_data(as_text=True) and "url" not in shown.json
    with app.app_context(), store.transaction() as connection:
        stored = connection.execute(select(orm.calendar_feeds)).one()
    assert stored.user_id == user["id"] and token not in tuple(map(str, stored))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()

    fetched = _fetch(client, token)  # no other credentials: calendar apps send none
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert fetched.get_data(as_text=True) == ICS
    assert fetched.headers["Cache-Control"] == "no-store"
    service, method, kwargs, context = rpc.calls[-1]
    assert (service, method, kwargs) == ("activities", "calendar",
                                         {"user_id": user["id"], "tasks": "events"})
    assert context["actor"] == f"user:{user['id']}"
    assert client.get("/api/v1/calendar/feed", headers=bearer).json["last_used_at"]
    assert _fetch(client, token, tasks="todos").status_code == 200
    assert rpc.calls[-1][2]["tasks"] == "todos"


def test_a_new_url_replaces_the_old_and_revoking_ends_it(app, client, rpc):
    _answering(rpc)
    _, bearer = user_with_token(app, "sales")
    old = _feed_token(client, bearer)
    assert _fetch(client, old).status_code == 200
    new = _feed_token(client, bearer)
    refused = _fetch(client, old)
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert "invalid_token" in refused.headers["WWW-Authenticate"]
    assert _fetch(client, new).status_code == 200
    assert client.delete("/api/v1/calendar/feed", headers=bearer).status_code == 204
    assert _fetch(client, new).status_code == 401
    assert client.get("/api/v1/calendar/feed", headers=bearer).json["active"] is False
    assert client.delete("/api/v1/calendar/feed", headers=bearer).status_code == 204  # again


def test_an_administrator_revokes_anyone_s(app, client, rpc):
    _answering(rpc)
    user, bearer = user_with_token(app, "sales")
    _, colleague = user_with_token(app, "manager")
    token = _feed_token(client, bearer)
    path = f"/api/v1/users/{user['id']}/calendar-feed"
    assert client.delete(path, headers=colleague).status_code == 403
    assert _fetch(client, token).status_code == 200
    assert client.delete(path, headers=AUTH).status_code == 204
    assert _fetch(client, token).status_code == 401
    missing = client.delete("/api/v1/users/6c1f3b0e-0000-4000-8000-00000000dead/"
                            "calendar-feed", headers=AUTH)
    assert missing.status_code == 404


def test_a_deactivated_user_s_feed_stops_for_good(app, client, rpc):
    _answering(rpc)
    user, bearer = user_with_token(app, "sales")
    token = _feed_token(client, bearer)
    client.patch(f"/api/v1/users/{user['id']}", headers=AUTH, json={"active": False})
    assert _fetch(client, token).status_code == 401
    client.patch(f"/api/v1/users/{user['id']}", headers=AUTH, json={"active": True})
    assert _fetch(client, token).status_code == 401  # back again: a new URL is needed


def test_the_token_opens_the_feed_and_nothing_else(app, client, rpc):
    _answering(rpc)
    user, bearer = user_with_token(app, "admin")
    token = _feed_token(client, bearer)
    as_bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/users/me", headers=as_bearer).status_code == 401
    assert client.get(FEED, headers=as_bearer).status_code == 401
    assert client.get("/api/v1/users", query_string={"token": token}).status_code == 401
    assert client.post(FEED, query_string={"token": token}).status_code == 405
    # an API token is no feed token, and the feed token is the only credential looked at
    api_token = bearer["Authorization"].split()[1]
    assert _fetch(client, api_token).status_code == 401
    assert client.get(FEED, headers=bearer, query_string={"token": "crmcal_x"}
                      ).status_code == 401
    assert _fetch(client, token, tasks="everything").status_code == 422
    assert _fetch(client, token, limit="5").status_code == 422  # unknown parameters too
    assert len(rpc.called("activities", "calendar")) == 0
    assert user


def test_signed_in_users_read_their_own_feed_without_a_token(app, client, rpc):
    _answering(rpc)
    user, bearer = user_with_token(app, "readonly", scopes=["calendar:read"])
    response = client.get(FEED, headers=bearer)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert rpc.calls[-1][2]["user_id"] == user["id"]
    _, narrow = user_with_token(app, "sales", scopes=["clients:read"])
    assert client.get(FEED, headers=narrow).status_code == 403
    nobody = client.get(FEED, headers=AUTH)  # the bootstrap token is no user
    assert nobody.status_code == 404
    assert client.post("/api/v1/calendar/feed", headers=AUTH).status_code == 404
    assert client.get(FEED).status_code == 401


def test_the_token_is_in_no_log_line(app, client, rpc, caplog):
    _answering(rpc)
    _, bearer = user_with_token(app, "sales")
    token = _feed_token(client, bearer)
    with caplog.at_level(logging.DEBUG):
        assert _fetch(client, token).status_code == 200
        _fetch(client, token + "x")
        # werkzeug's own server (python -m crm_gateway) logs the request line, query and all
        logging.getLogger("werkzeug").info('"%s" %s %s', f"GET {FEED}?tasks=todos&token="
                                           f"{token} HTTP/1.1", "200", "-")
    access = [r for r in caplog.records if r.name == "crm_gateway.access"]
    assert len(access) == 2 and all(FEED in r.getMessage() for r in access)
    assert not [r for r in caplog.records if token in r.getMessage()]
    assert "tasks=todos&token=[redacted] HTTP/1.1" in caplog.records[-1].getMessage()
    with app.app_context(), store.transaction() as connection:
        paths = connection.execute(select(orm.audit_log.c.path)).scalars().all()
    assert paths and not [path for path in paths if token in path]
    assert redact(f"{FEED}?token={token}&tasks=none") == f"{FEED}?token=[redacted]&tasks=none"
