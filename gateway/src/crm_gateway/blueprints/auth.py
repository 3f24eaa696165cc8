"""/api/v1/auth: password login for people (a session cookie plus a CSRF token), logout,
one's own session and password, and the one-time setup of the first administrator."""
from flask import current_app, g, jsonify, make_response, request
from flask_smorest import Blueprint

from .. import auth
from ..account_schemas import (LoginSchema, PasswordChangeSchema, SessionSchema,
                               SetupSchema, UserSchema)
from ..accounts import passwords, sessions, setup, store, users
from ..permissions import public
from ..problems import problem, validation_problem
from . import problem_responses, require_json, takes_no_body

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                description="Logging in and out (people); your own session and password")

blp.before_request(require_json)


def errors(*codes, public: bool = False):
    return problem_responses(blp, *codes, public=public)


def _limits() -> dict:
    config = current_app.config
    return {"window": float(config["LOGIN_WINDOW_SECONDS"]),
            "per_account": int(config["LOGIN_FAILURES_PER_ACCOUNT"]),
            "per_ip": int(config["LOGIN_FAILURES_PER_IP"]),
            "session_hours": float(config["SESSION_HOURS"])}


def _address() -> str:
    return (request.remote_addr or "-")[:45]


def _with_cookie(answer: dict, cookie: str, status: int = 200):
    response = make_response(jsonify(answer), status)
    response.set_cookie(sessions.COOKIE, cookie, httponly=True, secure=request.is_secure,
                        samesite="Lax", path="/",
                        max_age=int(float(current_app.config["SESSION_HOURS"]) * 3600))
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/login", methods=["POST"])
@public
@blp.doc(security=[])  # anyone
@blp.arguments(LoginSchema)
@blp.alt_response(200, schema=SessionSchema, success=True, description=(
    "Logged in: the session cookie is set (HttpOnly, SameSite=Lax, Secure over HTTPS)"))
@errors(400, 401, 415, 422, 429, public=True)
def login(credentials):
    """Log in with e-mail and password: a session cookie for the web UI

    Send the answer's `csrf_token` as `X-CSRF-Token` with every write made with the
    cookie. After too many failed attempts for one account or from one address, logins
    are refused for a while (`429` with `Retry-After`), the right password included.
    """
    try:
        answer, cookie = sessions.login(store.transaction, credentials["email"],
                                        credentials["password"], _address(), _limits())
    except sessions.TooManyAttempts as exc:
        return problem(429, "Too many failed logins; try again later.",
                       headers={"Retry-After": str(exc.retry_after)})
    except sessions.LoginFailed:
        return problem(401, "The e-mail or the password is wrong.")
    g.audit_user_id = answer["user"]["id"]
    return _with_cookie(dict(answer, role=answer["user"]["role"], via="session",
                             scopes=None), cookie)


@blp.route("/logout", methods=["POST"])
@public
@blp.doc(security=[])  # anyone
@takes_no_body
@blp.response(204)
@errors(400, 415, public=True)
def logout():
    """End this session (the cookie's); nothing to do without one"""
    cookie = request.cookies.get(sessions.COOKIE)
    principal = auth.authenticate_cookie(cookie) if cookie else None
    if principal is not None:
        with store.transaction() as connection:
            sessions.logout(connection, cookie)
        auth.forget_principal("session", cookie)
        g.principal = principal  # the audit log names who logged out
    else:
        g.not_audited = True  # nothing happened
    response = make_response("", 204)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="Lax",
                           secure=request.is_secure)
    return response


@blp.route("/session")
@blp.response(200, SessionSchema)
@errors(403)
def session():
    """Who you are: your user, role, how you authenticated and, with the cookie, the CSRF
    token to send with writes"""
    principal = auth.current_principal()
    user = None
    if principal.user_id:
        with store.transaction() as connection:
            user = users.to_resource(users.get_row(connection, principal.user_id))
    return {"user": user, "role": principal.role, "via": principal.via,
            "csrf_token": principal.csrf_token,
            "scopes": list(principal.scopes) if principal.scopes is not None else None}


@blp.route("/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(200, UserSchema)
@errors(400, 403, 415, 422)
def change_password(change):
    """Change your own password (give the current one); your other sessions end

    Wrong current passwords count as failed logins of your account (`429` when too many)."""
    principal = auth.current_principal()
    if principal.user_id is None:
        return problem(403, "The bootstrap token has no password.")
    with store.transaction() as connection:  # guesses of the current one count as logins
        row = users.get_row(connection, principal.user_id)
        try:
            attempt = sessions.count_attempt(connection, row.email, _address(), _limits())
        except sessions.TooManyAttempts as exc:
            return problem(429, "Too many wrong passwords; try again later.",
                           headers={"Retry-After": str(exc.retry_after)})
    if not passwords.verify(row.password_hash, change["current_password"]):
        return validation_problem({"current_password": ["Not your current password."]},
                                  location="json")
    with store.transaction() as connection:
        sessions.forgive(connection, attempt)
        user = users.set_password(connection, row.id, change["new_password"],
                                  keep_session=principal.session_id)
    auth.forget_principals()
    return user


@blp.route("/setup", methods=["POST"])
@public
@blp.doc(security=[])  # anyone
@blp.arguments(SetupSchema)
@blp.alt_response(201, schema=SessionSchema, success=True,
                  description="The first administrator, logged in")
@errors(400, 403, 415, 422, public=True)
def first_administrator(data):
    """Create the first administrator with the one-time setup token `make run` printed

    Works once, while no user exists and the token has not expired."""
    with store.transaction() as connection:
        if not setup.redeem(connection, data["token"]):
            return problem(403, "The setup token is wrong, used or expired; run "
                                "`python -m crm_gateway.setup` for a new one.")
        user = users.create(connection, {"email": data["email"], "name": data["name"],
                                         "role": "admin", "password": data["password"]})
        answer, cookie = sessions.start(connection, users.get_row(connection, user["id"]),
                                        _address(), _limits())
    return _with_cookie(dict(answer, user=user, role="admin", via="session", scopes=None),
                        cookie, 201)
