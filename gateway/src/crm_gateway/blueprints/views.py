"""/api/v1/views: saved views of the client list, a user's own or shared with everyone."""
from flask import url_for
from flask_smorest import Blueprint
from werkzeug.exceptions import Forbidden

from .. import auth
from ..account_schemas import ViewCreateSchema, ViewFieldsSchema, ViewPageSchema, ViewSchema
from ..accounts import store, views
from ..schemas import PageQuerySchema
from . import (ETAG_HEADER, IF_MATCH_HEADER, if_match, next_link, offset_of, page_cursor,
               problem_responses, require_json, with_etag, with_ids)

blp = Blueprint("views", __name__, url_prefix="/api/v1/views",
                description="Saved views of the client list (filters, sort, columns)")

with_ids(blp)
blp.before_request(require_json)


def errors(*codes):
    return problem_responses(blp, *codes)


def _user_id() -> str | None:
    return auth.current_principal().user_id


def _mine(row) -> None:
    """Only the owner (or an administrator) changes a view, shared or not."""
    principal = auth.current_principal()
    if row.owner_id != principal.user_id and principal.role != "admin":
        raise Forbidden("Only its owner or an administrator changes a view.")


@blp.route("")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, ViewPageSchema)
@errors(422)
def list_views(query):
    """Your views and the shared ones, by name"""
    offset = offset_of(query.get("cursor"))
    with store.transaction() as connection:
        items, more = views.page(connection, _user_id(), query["limit"], offset)
    cursor = page_cursor(offset + query["limit"] if more else None)
    return {"items": items, "next_cursor": cursor}, 200, next_link(cursor,
                                                                  limit=query["limit"])


@blp.route("", methods=["POST"])
@blp.arguments(ViewCreateSchema)
@blp.response(201, ViewSchema, headers={"Location": {"schema": {"type": "string"}}})
@errors(400, 415, 422)
def create_view(data):
    """Save a view (yours; `shared: true` shows it to everyone)"""
    if _user_id() is None:
        raise Forbidden("The bootstrap token is nobody: log in as a user to save views.")
    with store.transaction() as connection:
        view = views.create(connection, _user_id(), data)
    return view, 201, {"Location": url_for(".get_view", view_id=view["id"])}


@blp.route("/<id:view_id>")
@blp.response(200, ViewSchema, headers=ETAG_HEADER)
@errors(404)
def get_view(view_id):
    """One view (yours or a shared one)"""
    with store.transaction() as connection:
        return with_etag(views.to_resource(views.get_row(connection, view_id, _user_id())))


@blp.route("/<id:view_id>", methods=["PATCH"])
@blp.arguments(ViewFieldsSchema)
@blp.response(200, ViewSchema, headers=ETAG_HEADER)
@errors(400, 404, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER])
def update_view(changes, view_id):
    """Change a view: its name, filters, sort, columns, or whether it is shared"""
    expected = if_match()
    with store.transaction() as connection:
        row = views.get_row(connection, view_id, _user_id())
        _mine(row)
        return with_etag(views.change(connection, row, changes, expected))


@blp.route("/<id:view_id>", methods=["DELETE"])
@blp.response(204)
@errors(404)
def delete_view(view_id):
    """Delete a view"""
    with store.transaction() as connection:
        row = views.get_row(connection, view_id, _user_id())
        _mine(row)
        views.delete(connection, row)
    return "", 204
