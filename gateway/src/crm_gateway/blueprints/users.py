"""/api/v1/users: the people who use the CRM. Everyone may read them (the owner and
assignee pickers); administrators manage them."""
from flask import url_for
from flask_smorest import Blueprint

from .. import auth
from ..account_schemas import (PasswordSetSchema, UserCreateSchema, UserPageSchema,
                               UserPatchSchema, UserQuerySchema, UserSchema)
from ..accounts import store, users
from ..permissions import permission
from . import (ETAG_HEADER, IF_MATCH_HEADER, if_match, next_link, offset_of, page_cursor,
               problem_responses, require_json, with_etag, with_ids)

blp = Blueprint("users", __name__, url_prefix="/api/v1/users",
                description="Users, their roles and passwords (administrators)")

with_ids(blp)
blp.before_request(require_json)


def errors(*codes):
    return problem_responses(blp, *codes)


@blp.route("")
@blp.arguments(UserQuerySchema, location="query")
@blp.response(200, UserPageSchema)
@errors(403, 422)
def list_users(query):
    """Users by name; filter by role, active, or part of the name or e-mail"""
    offset = offset_of(query.get("cursor"))
    with store.transaction() as connection:
        items, more = users.page(connection, query["limit"], offset, query.get("role"),
                                 query.get("active"), query.get("q"))
    cursor = page_cursor(offset + query["limit"] if more else None)
    return {"items": items, "next_cursor": cursor}, 200, next_link(
        cursor, limit=query["limit"], role=query.get("role"), q=query.get("q"),
        active=None if query.get("active") is None else str(query["active"]).lower())


@blp.route("", methods=["POST"])
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema, headers={"Location": {"schema": {"type": "string"}}})
@errors(400, 403, 409, 415, 422)
def create_user(data):
    """Create a user (administrators); with `password` they can log in at once"""
    with store.transaction() as connection:
        user = users.create(connection, data)
    return user, 201, {"Location": url_for(".get_user", user_id=user["id"])}


@blp.route("/me")
@permission("account.read")
@blp.response(200, UserSchema, headers=ETAG_HEADER)
@errors(403, 404)
def get_me():
    """Your own user (404 for the bootstrap token, which is nobody)"""
    principal = auth.current_principal()
    if principal.user_id is None:
        from werkzeug.exceptions import NotFound  # noqa: PLC0415
        raise NotFound("The bootstrap token is not a user.")
    with store.transaction() as connection:
        return with_etag(users.to_resource(users.get_row(connection, principal.user_id)))


@blp.route("/<id:user_id>")
@blp.response(200, UserSchema, headers=ETAG_HEADER)
@errors(403, 404)
def get_user(user_id):
    """One user"""
    with store.transaction() as connection:
        return with_etag(users.to_resource(users.get_row(connection, user_id)))


@blp.route("/<id:user_id>", methods=["PATCH"])
@blp.arguments(UserPatchSchema)
@blp.response(200, UserSchema, headers=ETAG_HEADER)
@errors(400, 403, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER])
def update_user(changes, user_id):
    """Change a user: name, e-mail, role, active, time zone, language (administrators)

    A deactivated user can no longer log in, their sessions end and their tokens stop
    working; a changed role applies to their tokens too."""
    expected = if_match()
    with store.transaction() as connection:
        user = users.change(connection, user_id, changes, expected)
    auth.forget_principals()
    return with_etag(user)


@blp.route("/<id:user_id>/password", methods=["POST"])
@blp.arguments(PasswordSetSchema)
@blp.response(200, UserSchema)
@errors(400, 403, 404, 415, 422)
def reset_password(data, user_id):
    """Set a user's password (administrators: a reset); their sessions end"""
    with store.transaction() as connection:
        user = users.set_password(connection, user_id, data["password"])
    auth.forget_principals()
    return user
