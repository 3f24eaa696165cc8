"""/api/v1/tokens: API tokens for integrations. Everyone manages their own; an
administrator anyone's. The secret is in the answer to the POST, and never again."""
from flask import current_app, url_for
from flask_smorest import Blueprint
from werkzeug.exceptions import Conflict, Forbidden

from .. import auth
from ..account_schemas import NewTokenSchema, TokenCreateSchema, TokenPageSchema, \
    TokenQuerySchema, TokenSchema
from ..accounts import store, tokens, users
from ..permissions import RESOURCES
from ..problems import invalid
from . import (next_link, offset_of, page_cursor, problem_responses, require_json,
               with_ids)

blp = Blueprint("tokens", __name__, url_prefix="/api/v1/tokens",
                description="API tokens: scoped, expiring, revocable")

with_ids(blp)
blp.before_request(require_json)


def errors(*codes):
    return problem_responses(blp, *codes)


def _owner_filter() -> str | None:
    """Whose tokens the caller may see: an administrator's, everyone's; else their own."""
    principal = auth.current_principal()
    return None if principal.role == "admin" else principal.user_id


@blp.route("")
@blp.arguments(TokenQuerySchema, location="query")
@blp.response(200, TokenPageSchema)
@errors(403, 422)
def list_tokens(query):
    """Your tokens, newest first (administrators: `user_id=<id>`, or `*` for everyone's)"""
    principal = auth.current_principal()
    wanted = query.get("user_id")
    if wanted not in (None, principal.user_id) and principal.role != "admin":
        raise Forbidden("Only administrators see other users' tokens.")
    user_id = None if wanted == "*" else (wanted or principal.user_id)
    offset = offset_of(query.get("cursor"))
    with store.transaction() as connection:
        items, more = tokens.page(connection, user_id, query["limit"], offset)
    cursor = page_cursor(offset + query["limit"] if more else None)
    return {"items": items, "next_cursor": cursor}, 200, next_link(
        cursor, limit=query["limit"], user_id=wanted)


@blp.route("", methods=["POST"])
@blp.arguments(TokenCreateSchema)
@blp.response(201, NewTokenSchema, headers={"Location": {"schema": {"type": "string"}}})
@errors(400, 403, 404, 409, 415, 422)
def create_token(data):
    """Create a token: for yourself, or (administrators) for `user_id`

    It acts as its user, with the user's role, narrowed by its `scopes`. Keep the answer's
    `token`: it is not shown again."""
    principal = auth.current_principal()
    user_id = data.get("user_id") or principal.user_id
    if user_id is None:
        raise invalid({"user_id": ["The bootstrap token is nobody: name the user."]}, "json")
    if user_id != principal.user_id and principal.role != "admin":
        raise Forbidden("Only administrators create tokens for other users.")
    wrong = tokens.scope_problems(data["scopes"], RESOURCES)
    if wrong:
        raise invalid({"scopes": wrong}, "json")
    if principal.via == "token":
        _no_wider_than(principal, user_id, data)
    with store.transaction() as connection:
        if not users.get_row(connection, user_id).active:  # 404 for nobody
            raise Conflict("The user is inactive: their tokens would never work.")
        made = tokens.create(connection, user_id, data["name"], list(dict.fromkeys(
            data["scopes"])), data.get("expires_at"), principal.actor)
    return made, 201, {"Location": url_for(".get_token", token_id=made["id"])}


def _no_wider_than(principal, user_id: str, data: dict) -> None:
    """A token that makes a token makes one for its own user, with no scope it lacks and
    expiring no later: never a way out of its own narrowing."""
    if user_id != principal.user_id:
        raise Forbidden("A token makes tokens for its own user only.")
    scopes = list(principal.scopes) if principal.scopes is not None else None
    wider = [scope for scope in data["scopes"] if not tokens.covers(scopes, scope)]
    if wider:
        raise invalid({"scopes": [f"Wider than the token making it: {', '.join(wider)}."]},
                      "json")
    if principal.expires_at is not None and (
            data.get("expires_at") is None or data["expires_at"] > principal.expires_at):
        raise invalid({"expires_at": ["No later than the token making it expires."]}, "json")


@blp.route("/<id:token_id>")
@blp.response(200, TokenSchema)
@errors(403, 404)
def get_token(token_id):
    """One token (without its secret)"""
    with store.transaction() as connection:
        return tokens.to_resource(tokens.get_row(connection, token_id, _owner_filter()))


@blp.route("/<id:token_id>", methods=["DELETE"])
@blp.response(200, TokenSchema)
@errors(403, 404)
def revoke_token(token_id):
    """Revoke a token: refused from now on (by every gateway process within
    `AUTH_CACHE_SECONDS`); it stays listed as revoked"""
    with store.transaction() as connection:
        revoked = tokens.revoke(connection, token_id, _owner_filter())
    auth.forget_principals()
    current_app.logger.info("token %s revoked", token_id)
    return revoked
