"""Users, password login with sessions and CSRF, the login rate limit, API tokens and
their scopes, settings, the audit log and the first administrator's setup."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gateway_support import AUTH, CLIENT, user_with_token

from crm_gateway.accounts import orm, setup, store

PASSWORD = "Správné-heslo-2026"
PROBLEM = "application/problem+json"


def make_user(client, role="sales", email=None, password=PASSWORD, **extra):
    response = client.post("/api/v1/users", headers=AUTH, json=dict(
        {"email": email or f"{role}@firma.cz", "name": f"{role} user", "role": role,
         "password": password}, **extra))
    assert response.status_code == 201, response.json
    return response.json


def login(client, email, password=PASSWORD, **kwargs):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       **kwargs)


# -- users -----------------------------------------------------------------------------

def test_an_administrator_manages_users(client):
    user = make_user(client, "manager", email="Jana.Novakova@Firma.cz", time_zone="Europe/Bratislava",
                     language="sk")
    assert user["email"] == "jana.novakova@firma.cz" and user["role"] == "manager"
    assert user["has_password"] and "password" not in user and user["active"]
    assert user["time_zone"] == "Europe/Bratislava" and user["language"] == "sk"
    again = client.post("/api/v1/users", headers=AUTH, json={
        "email": "JANA.novakova@firma.cz", "name": "Jiná", "role": "sales"})
    assert again.status_code == 409 and again.mimetype == PROBLEM
    got = client.get(f"/api/v1/users/{user['id']}", headers=AUTH)
    assert got.json == user and got.headers["ETag"] == 'W/"1"'
    changed = client.patch(f"/api/v1/users/{user['id']}", headers=dict(AUTH, **{
        "If-Match": 'W/"1"'}), json={"role": "sales", "name": "Jana Nováková"})
    assert changed.status_code == 200 and changed.json["role"] == "sales"
    assert changed.json["version"] == 2
    stale = client.patch(f"/api/v1/users/{user['id']}", headers=dict(AUTH, **{
        "If-Match": 'W/"1"'}), json={"name": "X"})
    assert stale.status_code == 412
    listed = client.get("/api/v1/users?role=sales&q=nováková", headers=AUTH).json["items"]
    assert [u["id"] for u in listed] == [user["id"]]


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email", "name": "A", "role": "sales"}, "email"),
    ({"email": "a@firma.cz", "name": "A", "role": "boss"}, "role"),
    ({"email": "a@firma.cz", "name": "A", "role": "sales", "time_zone": "Mars/Olympus"},
     "time_zone"),
    ({"email": "a@firma.cz", "name": "A", "role": "sales", "password": "short"}, "password"),
    ({"email": "a@firma.cz", "name": "A", "role": "sales", "password": "a" * 300},
     "password"),
    ({"email": "a@firma.cz", "name": "\ud800", "role": "sales"}, "name"),
    ({"email": "a@firma.cz", "name": "A", "role": "sales", "is_admin": True}, "is_admin"),
])
def test_a_bad_user_is_422_naming_the_field(client, body, field):
    response = client.post("/api/v1/users", headers=AUTH, json=body)
    assert response.status_code == 422 and field in response.json["fields"]


def test_only_administrators_change_users(app, client):
    _, manager = user_with_token(app, "manager")
    response = client.post("/api/v1/users", headers=manager, json={
        "email": "x@firma.cz", "name": "X", "role": "admin"})
    assert response.status_code == 403
    assert client.get("/api/v1/users", headers=manager).status_code == 200


# -- login, session, CSRF --------------------------------------------------------------

def test_login_sets_a_safe_cookie_and_writes_need_the_csrf_token(client, rpc):
    make_user(client, "sales", email="rep@firma.cz")
    response = login(client, "REP@firma.cz")
    assert response.status_code == 200 and response.json["user"]["email"] == "rep@firma.cz"
    cookie = response.headers["Set-Cookie"]
    assert "crm_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    csrf = response.json["csrf_token"]
    rpc.answers[("clients", "get")] = CLIENT
    assert client.get(f"/api/v1/clients/{CLIENT['id']}").status_code == 200
    session = client.get("/api/v1/auth/session").json
    assert session["via"] == "session" and session["csrf_token"] == csrf
    rpc.answers[("clients", "create")] = CLIENT
    refused = client.post("/api/v1/clients", json={"name": "Firma s.r.o."})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json["detail"]
    wrong = client.post("/api/v1/clients", json={"name": "Firma"},
                        headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403 and not rpc.called("clients", "create")
    made = client.post("/api/v1/clients", json={"name": "Firma s.r.o."},
                       headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get(f"/api/v1/clients/{CLIENT['id']}").status_code == 401


def test_the_cookie_is_secure_over_https(client):
    make_user(client, "sales", email="rep@firma.cz")
    response = login(client, "rep@firma.cz", base_url="https://crm.firma.cz")
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("email, password", [("rep@firma.cz", "Špatné-heslo-2026"),
                                             ("nikdo@firma.cz", PASSWORD)])
def test_a_wrong_login_is_401_saying_nothing_about_which_part(client, email, password):
    make_user(client, "sales", email="rep@firma.cz")
    response = login(client, email, password)
    assert response.status_code == 401 and "Set-Cookie" not in response.headers
    assert response.json["detail"] == "The e-mail or the password is wrong."


def test_an_inactive_user_cannot_log_in_and_their_session_ends(client):
    user = make_user(client, "sales", email="rep@firma.cz")
    assert login(client, "rep@firma.cz").status_code == 200
    client.patch(f"/api/v1/users/{user['id']}", headers=AUTH, json={"active": False})
    assert client.get("/api/v1/auth/session").status_code == 401
    assert login(client, "rep@firma.cz").status_code == 401


def test_failed_logins_lock_the_account_for_a_while(app, client):
    make_user(client, "sales", email="rep@firma.cz")
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"]):
        assert login(client, "rep@firma.cz", "Hádám-heslo-0000").status_code == 401
    locked = login(client, "rep@firma.cz")  # even the right password
    assert locked.status_code == 429 and locked.mimetype == PROBLEM
    assert 0 < int(locked.headers["Retry-After"]) <= app.config["LOGIN_WINDOW_SECONDS"] + 1
    make_user(client, "manager", email="boss@firma.cz")
    assert login(client, "boss@firma.cz").status_code == 200  # another account: fine


def test_failed_logins_from_one_address_are_limited_across_accounts(app, client):
    app.config["LOGIN_FAILURES_PER_IP"] = 3
    make_user(client, "sales", email="rep@firma.cz")
    for n in range(3):
        assert login(client, f"guess{n}@firma.cz").status_code == 401
    assert login(client, "rep@firma.cz").status_code == 429
    other = login(client, "rep@firma.cz", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_a_successful_login_clears_the_account_s_failures(app, client):
    make_user(client, "sales", email="rep@firma.cz")
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"] - 1):
        login(client, "rep@firma.cz", "Hádám-heslo-0000")
    assert login(client, "rep@firma.cz").status_code == 200
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"] - 1):
        assert login(client, "rep@firma.cz", "Hádám-heslo-0000").status_code == 401


def test_an_administrator_resets_a_password_and_old_sessions_end(app, client):
    user = make_user(client, "sales", email="rep@firma.cz")
    rep = app.test_client()
    assert login(rep, "rep@firma.cz").status_code == 200
    reset = client.post(f"/api/v1/users/{user['id']}/password", headers=AUTH,
                        json={"password": "Nové-heslo-od-admina-1"})
    assert reset.status_code == 200
    assert rep.get("/api/v1/auth/session").status_code == 401
    assert login(rep, "rep@firma.cz").status_code == 401
    assert login(rep, "rep@firma.cz", "Nové-heslo-od-admina-1").status_code == 200


def test_a_user_changes_their_own_password(app, client):
    make_user(client, "readonly", email="ro@firma.cz")
    answer = login(client, "ro@firma.cz").json
    csrf = {"X-CSRF-Token": answer["csrf_token"]}
    wrong = client.post("/api/v1/auth/password", headers=csrf, json={
        "current_password": "nope", "new_password": "Úplně-nové-heslo-7"})
    assert wrong.status_code == 422 and "current_password" in wrong.json["fields"]
    done = client.post("/api/v1/auth/password", headers=csrf, json={
        "current_password": PASSWORD, "new_password": "Úplně-nové-heslo-7"})
    assert done.status_code == 200
    assert client.get("/api/v1/auth/session").status_code == 200  # this session stays
    assert login(app.test_client(), "ro@firma.cz", "Úplně-nové-heslo-7").status_code == 200


# -- API tokens ------------------------------------------------------------------------

def test_a_token_is_shown_once_and_stored_hashed(app, client):
    user = make_user(client, "sales", email="rep@firma.cz")
    made = client.post("/api/v1/tokens", headers=AUTH, json={
        "name": "Fakturace", "user_id": user["id"], "scopes": ["clients:read"]})
    assert made.status_code == 201 and made.json["token"].startswith("crm_")
    secret = made.json["token"]
    assert "token" not in client.get(f"/api/v1/tokens/{made.json['id']}", headers=AUTH).json
    with app.app_context(), store.transaction() as connection:
        stored = connection.execute(select(orm.api_tokens)).one()
    assert secret not in stored.token_hash and stored.prefix == secret[:10]
    assert stored.last_used_at is None
    bearer = {"Authorization": f"Bearer {secret}"}
    client.get("/api/v1/users/me", headers=bearer)
    with app.app_context(), store.transaction() as connection:
        assert connection.execute(select(orm.api_tokens)).one().last_used_at is not None


def test_scopes_narrow_a_token(app, client, rpc):
    _, reader = user_with_token(app, "manager", scopes=["clients:read"])
    rpc.answers[("clients", "get")] = CLIENT
    rpc.answers[("clients", "create")] = CLIENT
    assert client.get(f"/api/v1/clients/{CLIENT['id']}", headers=reader).status_code == 200
    refused = client.post("/api/v1/clients", headers=reader, json={"name": "X"})
    assert refused.status_code == 403 and "clients:write" in refused.json["detail"]
    assert client.get("/api/v1/custom-fields", headers=reader).status_code == 403
    assert not rpc.called("clients", "create")
    _, writer = user_with_token(app, "manager", scopes=["clients:write"])
    assert client.get(f"/api/v1/clients/{CLIENT['id']}", headers=writer).status_code == 200
    assert client.post("/api/v1/clients", headers=writer, json={"name": "X"}).status_code == 201


def test_a_token_never_exceeds_its_user_s_role(app, client, rpc):
    _, readonly = user_with_token(app, "readonly", scopes=["write"])
    response = client.post("/api/v1/clients", headers=readonly, json={"name": "X"})
    assert response.status_code == 403 and "readonly" in response.json["detail"]


def test_unknown_scopes_are_422(client):
    user = make_user(client, "sales", email="rep@firma.cz")
    response = client.post("/api/v1/tokens", headers=AUTH, json={
        "name": "x", "user_id": user["id"], "scopes": ["clients:delete", "everything"]})
    assert response.status_code == 422 and "scopes.0" in response.json["fields"]


def test_expired_and_revoked_tokens_are_refused(app, client):
    user = make_user(client, "sales", email="rep@firma.cz")
    soon = (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat()
    expiring = client.post("/api/v1/tokens", headers=AUTH, json={
        "name": "krátký", "user_id": user["id"], "scopes": ["read"], "expires_at": soon}).json
    with app.app_context(), store.transaction() as connection:  # an hour has passed
        connection.execute(orm.api_tokens.update().values(
            expires_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    expired = client.get("/api/v1/users/me", headers={
        "Authorization": f"Bearer {expiring['token']}"})
    assert expired.status_code == 401 and "invalid_token" in expired.headers[
        "WWW-Authenticate"]
    kept = client.post("/api/v1/tokens", headers=AUTH, json={
        "name": "trvalý", "user_id": user["id"], "scopes": ["read"]}).json
    bearer = {"Authorization": f"Bearer {kept['token']}"}
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 200
    revoked = client.delete(f"/api/v1/tokens/{kept['id']}", headers=AUTH)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert not revoked.json["active"]
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 401


def test_users_manage_their_own_tokens_only(app, client):
    rep, rep_auth = user_with_token(app, "sales", scopes=["write"])
    other, _ = user_with_token(app, "sales")
    mine = client.post("/api/v1/tokens", headers=rep_auth, json={
        "name": "můj", "scopes": ["clients:read"]})
    assert mine.status_code == 201 and mine.json["user_id"] == rep["id"]
    for_other = client.post("/api/v1/tokens", headers=rep_auth, json={
        "name": "cizí", "scopes": ["read"], "user_id": other["id"]})
    assert for_other.status_code == 403
    others = client.get(f"/api/v1/tokens?user_id={other['id']}", headers=rep_auth)
    assert others.status_code == 403
    theirs = client.get("/api/v1/tokens?user_id=*", headers=AUTH).json["items"]
    other_token = next(t for t in theirs if t["user_id"] == other["id"])
    assert client.get(f"/api/v1/tokens/{other_token['id']}", headers=rep_auth
                      ).status_code == 404
    assert client.delete(f"/api/v1/tokens/{other_token['id']}", headers=rep_auth
                         ).status_code == 404
    listed = client.get("/api/v1/tokens", headers=rep_auth).json["items"]
    assert {t["user_id"] for t in listed} == {rep["id"]}


def test_a_deactivated_user_s_tokens_stop_working(app, client):
    user, bearer = user_with_token(app, "sales")
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 200
    client.patch(f"/api/v1/users/{user['id']}", headers=AUTH, json={"active": False})
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 401


# -- the record-level rule travels with every call -------------------------------------

def test_the_caller_and_the_rule_go_with_every_rpc(app, client, rpc):
    rep, rep_auth = user_with_token(app, "sales")
    manager, manager_auth = user_with_token(app, "manager")
    rpc.answers[("clients", "get")] = CLIENT
    client.get(f"/api/v1/clients/{CLIENT['id']}", headers=rep_auth)
    assert rpc.calls[-1][3]["caller_id"] == rep["id"]
    assert rpc.calls[-1][3]["own_only"] is False
    sales_refused = client.patch("/api/v1/settings", headers=rep_auth,
                                 json={"sales_see_own_only": True})
    assert sales_refused.status_code == 403
    switched = client.patch("/api/v1/settings", headers=AUTH,
                            json={"sales_see_own_only": True})
    assert switched.status_code == 200 and switched.json == {"sales_see_own_only": True}
    client.get(f"/api/v1/clients/{CLIENT['id']}", headers=rep_auth)
    assert rpc.calls[-1][3] | {"correlation_id": None} == {
        "correlation_id": None, "actor": f"user:{rep['id']}", "caller_id": rep["id"],
        "caller_role": "sales", "own_only": True}
    client.get(f"/api/v1/clients/{CLIENT['id']}", headers=manager_auth)
    assert rpc.calls[-1][3]["own_only"] is False  # managers see all
    assert client.get("/api/v1/settings", headers=rep_auth).json["sales_see_own_only"]


@pytest.mark.parametrize("body", [{"sales_see_own_only": None}, {"sales_see_own_only": "yes"},
                                  {"other": 1}])
def test_bad_settings_are_422(client, body):
    assert client.patch("/api/v1/settings", headers=AUTH, json=body).status_code == 422


# -- audit -----------------------------------------------------------------------------

def test_every_write_is_in_the_audit_log(app, client, rpc):
    rep, rep_auth = user_with_token(app, "sales")
    rpc.answers[("clients", "create")] = CLIENT
    rpc.answers[("clients", "list")] = {"items": [], "next_cursor": None}
    client.post("/api/v1/clients", headers=rep_auth, json={"name": "Firma"},
                environ_base={"REMOTE_ADDR": "192.0.2.7"})
    client.post("/api/v1/users", headers=rep_auth, json={
        "email": "x@firma.cz", "name": "X", "role": "admin"})  # refused: audited too
    login(client, "nikdo@firma.cz")
    client.get("/api/v1/clients", headers=rep_auth)  # a read: not audited
    entries = client.get("/api/v1/audit", headers=AUTH).json["items"]
    by_action = {e["action"]: e for e in entries}
    created = by_action["create_client"]
    assert created["user_id"] == rep["id"] and created["ip"] == "192.0.2.7"
    assert created["resource"] == "clients" and created["status"] == 201
    assert created["token_id"] and created["method"] == "POST"
    assert by_action["create_user"]["status"] == 403
    assert by_action["login"]["actor"] == "login:nikdo@firma.cz"
    assert by_action["login"]["status"] == 401
    assert "list_clients" not in by_action
    assert len(entries) == 3
    mine = client.get(f"/api/v1/audit?user_id={rep['id']}&resource=clients",
                      headers=AUTH).json["items"]
    assert [e["action"] for e in mine] == ["create_client"]
    assert client.get("/api/v1/audit", headers=rep_auth).status_code == 403


def test_the_audit_log_pages_newest_first(client):
    for n in range(5):
        client.patch("/api/v1/settings", headers=AUTH, json={"sales_see_own_only": n % 2 == 0})
    first = client.get("/api/v1/audit?limit=2", headers=AUTH)
    ids = [e["id"] for e in first.json["items"]]
    second = client.get(f"/api/v1/audit?limit=2&cursor={first.json['next_cursor']}",
                        headers=AUTH).json
    assert ids[0] > ids[1] > second["items"][0]["id"]
    assert client.get("/api/v1/audit?cursor=@", headers=AUTH).status_code == 422


# -- the first administrator -----------------------------------------------------------

def test_the_setup_link_creates_the_first_administrator_once(app, client):
    with app.app_context(), store.transaction() as connection:
        token = setup.issue(connection, 1)
    wrong = client.post("/api/v1/auth/setup", json={
        "token": "guess", "email": "admin@firma.cz", "name": "Admin", "password": PASSWORD})
    assert wrong.status_code == 403
    made = client.post("/api/v1/auth/setup", json={
        "token": token, "email": "admin@firma.cz", "name": "Admin", "password": PASSWORD})
    assert made.status_code == 201 and made.json["user"]["role"] == "admin"
    assert client.get("/api/v1/users", headers={"X-CSRF-Token": made.json["csrf_token"]}
                      ).status_code == 200
    again = app.test_client().post("/api/v1/auth/setup", json={
        "token": token, "email": "evil@firma.cz", "name": "Evil", "password": PASSWORD})
    assert again.status_code == 403


def test_a_token_cannot_make_a_wider_token(app, client):
    user, narrow = user_with_token(app, "sales", scopes=["tokens:write", "clients:read"])
    other, _ = user_with_token(app, "sales")
    wider = client.post("/api/v1/tokens", headers=narrow, json={
        "name": "víc", "scopes": ["write"]})
    assert wider.status_code == 422 and "scopes" in wider.json["fields"]
    assert client.post("/api/v1/tokens", headers=narrow, json={
        "name": "cizí", "scopes": ["clients:read"], "user_id": other["id"]}
                       ).status_code == 403
    same = client.post("/api/v1/tokens", headers=narrow, json={
        "name": "stejný", "scopes": ["clients:read"]})
    assert same.status_code == 201
    _, admin_narrow = user_with_token(app, "admin", scopes=["tokens:write"])
    assert client.post("/api/v1/tokens", headers=admin_narrow, json={
        "name": "x", "scopes": ["write"], "user_id": user["id"]}).status_code == 403


def test_deactivating_revokes_tokens_for_good_and_the_last_admin_stays(app, client):
    user, bearer = user_with_token(app, "sales")
    client.patch(f"/api/v1/users/{user['id']}", headers=AUTH, json={"active": False})
    client.patch(f"/api/v1/users/{user['id']}", headers=AUTH, json={"active": True})
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 401
    tokens = client.get(f"/api/v1/tokens?user_id={user['id']}", headers=AUTH).json["items"]
    assert tokens[0]["revoked_at"]
    fresh = client.post("/api/v1/tokens", headers=AUTH, json={
        "name": "x", "scopes": ["read"], "user_id": user["id"]})
    assert fresh.status_code == 201  # active again: a new token works
    admin = make_user(client, "admin", email="jediny@firma.cz")
    last = client.patch(f"/api/v1/users/{admin['id']}", headers=AUTH, json={"role": "sales"})
    assert last.status_code == 409
    make_user(client, "admin", email="druhy@firma.cz")
    assert client.patch(f"/api/v1/users/{admin['id']}", headers=AUTH,
                        json={"role": "sales"}).status_code == 200


def test_an_inactive_user_gets_no_token(client):
    user = make_user(client, "sales", email="rep@firma.cz", active=False)
    response = client.post("/api/v1/tokens", headers=AUTH, json={
        "name": "x", "scopes": ["read"], "user_id": user["id"]})
    assert response.status_code == 409


def test_times_with_offsets_mean_the_same_moment(client):
    user = make_user(client, "sales", email="rep@firma.cz")
    past = (datetime.now(timezone(timedelta(hours=14))) - timedelta(minutes=1)).isoformat()
    token = client.post("/api/v1/tokens", headers=AUTH, json={
        "name": "x", "scopes": ["read"], "user_id": user["id"], "expires_at": past}).json
    assert token["active"] is False
    assert client.get("/api/v1/users/me", headers={
        "Authorization": f"Bearer {token['token']}"}).status_code == 401


def test_anonymous_logouts_change_nothing_and_are_not_audited(client):
    client.set_cookie("crm_session", "junk")
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/audit", headers=AUTH).json["items"] == []


def test_setup_works_while_the_address_is_locked(app, client):
    app.config["LOGIN_FAILURES_PER_IP"] = 2
    for n in range(2):
        login(client, f"x{n}@firma.cz")
    with app.app_context(), store.transaction() as connection:
        token = setup.issue(connection, 1)
    made = client.post("/api/v1/auth/setup", json={
        "token": token, "email": "admin@firma.cz", "name": "Admin", "password": PASSWORD})
    assert made.status_code == 201


def test_a_long_correlation_id_is_audited_whole(client):
    correlation = "c" * 128
    client.patch("/api/v1/settings", headers=dict(AUTH, **{"X-Correlation-ID": correlation}),
                 json={"sales_see_own_only": False})
    entry = client.get("/api/v1/audit", headers=AUTH).json["items"][0]
    assert entry["correlation_id"] == correlation


def test_ids_no_database_could_hold_are_404(client):
    assert client.get("/api/v1/users/a%00b", headers=AUTH).status_code == 404
    assert client.get("/api/v1/tokens/" + "x" * 300, headers=AUTH).status_code == 404


# -- saved views -----------------------------------------------------------------------

def test_saved_views_are_private_or_shared_and_only_their_owner_changes_them(app, client):
    anna, anna_auth = user_with_token(app, "sales")
    _, bob_auth = user_with_token(app, "sales")
    private = client.post("/api/v1/views", headers=anna_auth, json={
        "name": "Moji VIP", "filters": {"tag": ["VIP"], "relationship": "customer",
                                        "custom_fields": {"segment": "B2B"},
                                        "created_after": "2026-01-01T00:00:00+01:00"},
        "sort": "name", "columns": ["name", "ico", "city"]})
    assert private.status_code == 201, private.json
    assert private.json["owner_id"] == anna["id"] and private.json["shared"] is False
    assert private.json["filters"]["created_after"] == "2026-01-01T00:00:00+01:00"
    shared = client.post("/api/v1/views", headers=anna_auth, json={
        "name": "Praha", "filters": {"city": "Praha"}, "shared": True}).json
    seen_by_bob = client.get("/api/v1/views", headers=bob_auth).json["items"]
    assert [v["name"] for v in seen_by_bob] == ["Praha"]
    assert client.get(f"/api/v1/views/{private.json['id']}", headers=bob_auth
                      ).status_code == 404
    assert client.patch(f"/api/v1/views/{shared['id']}", headers=bob_auth,
                        json={"name": "Moje"}).status_code == 403
    renamed = client.patch(f"/api/v1/views/{shared['id']}", headers=dict(
        anna_auth, **{"If-Match": 'W/"1"'}), json={"name": "Praha a okolí"})
    assert renamed.status_code == 200 and renamed.json["version"] == 2
    assert client.delete(f"/api/v1/views/{shared['id']}", headers=bob_auth
                         ).status_code == 403
    assert client.delete(f"/api/v1/views/{shared['id']}", headers=AUTH).status_code == 204


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "filters": {"colour": "red"}}, "filters"),
    ({"name": "x", "filters": {"limit": "5"}}, "filters"),
    ({"name": "x", "filters": {"relationship": "friend"}}, "filters"),
    ({"name": "x", "columns": ["password"]}, "columns.0"),
    ({"name": "x", "sort": "ico"}, "sort"),
    ({"name": ""}, "name"),
])
def test_a_bad_view_is_422(app, client, body, field):
    _, auth_headers = user_with_token(app, "sales")
    response = client.post("/api/v1/views", headers=auth_headers, json=body)
    assert response.status_code == 422, response.json
    assert any(name == field or name.startswith(field + ".") for name in
               response.json["fields"]), response.json


@pytest.mark.parametrize("filters", [[None, None], "tag=VIP", 5])
def test_view_filters_must_be_an_object(app, client, filters):
    _, auth_headers = user_with_token(app, "sales")
    response = client.post("/api/v1/views", headers=auth_headers,
                           json={"name": "x", "filters": filters})
    assert response.status_code == 422
