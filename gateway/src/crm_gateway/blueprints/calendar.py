"""/api/v1/calendar.ics: your meetings and open tasks as an iCalendar feed (the activities
service writes it), and /api/v1/calendar/feed: the feed token that lets a calendar app
(Outlook, Google Calendar) subscribe to it, for apps send no headers. See docs/calendar.md."""
from flask import Response, url_for
from flask_smorest import Blueprint
from marshmallow import RAISE
from werkzeug.exceptions import NotFound

from .. import auth, rpc
from ..account_schemas import CalendarFeedSchema, CalendarQuerySchema, NewCalendarFeedSchema
from ..accounts import calendar_feeds, store, users
from ..permissions import feed_token, permission
from . import problem_responses, require_json, takes_no_body, with_ids

blp = Blueprint("calendar", __name__, url_prefix="/api/v1",
                description="Your calendar feed (iCalendar) and its token")
with_ids(blp)
blp.before_request(require_json)

ICS = "text/calendar"
ICS_DOC = {
    # the usual credentials, or the feed token
    "security": [{"bearerAuth": []}, {"sessionCookie": []}, {"calendarFeedToken": []}],
    "responses": {"200": {"description": "iCalendar (RFC 5545), UTF-8",
                          "content": {ICS: {"schema": {"type": "string"}}}}}}
LOCATION = {"Location": {"schema": {"type": "string"}}}


def errors(*codes):
    return problem_responses(blp, *codes)


def _own_user() -> str:
    principal = auth.current_principal()
    if principal.user_id is None:
        raise NotFound("The bootstrap token is not a user: it has no calendar.")
    return principal.user_id


@blp.route("/calendar.ics")
@feed_token
@blp.arguments(CalendarQuerySchema, location="query", unknown=RAISE)
@blp.doc(**ICS_DOC)
@errors(404, 422)
def calendar_ics(query):
    """Your meetings and open tasks, for a calendar app to subscribe to

    Subscribe with the `url` of `POST /api/v1/calendar/feed` (its `token` query parameter
    is all it needs); with your bearer token or session it works without one. Meetings you
    wrote or attend from 90 days ago on, and the open tasks assigned to you or written by
    you. Times in UTC; the calendar's zone is Europe/Prague. An unknown, revoked or replaced
    feed token, or one of a deactivated user, is a `401`."""
    text = rpc.call("activities", "calendar", user_id=_own_user(), tasks=query["tasks"])
    # the URL carries a secret: no shared cache keeps the answer
    return Response(text, content_type=f"{ICS}; charset=utf-8", headers={
        "Content-Disposition": 'inline; filename="crm.ics"', "Cache-Control": "no-store"})


@blp.route("/calendar/feed")
@blp.response(200, CalendarFeedSchema)
@errors(404)
def get_feed():
    """Whether you have a calendar feed URL, since when, and when it was last fetched
    (never the URL: it is shown once)"""
    with store.transaction() as connection:
        return calendar_feeds.status(connection, _own_user())


@blp.route("/calendar/feed", methods=["POST"])
@takes_no_body
@blp.response(201, NewCalendarFeedSchema, headers=LOCATION)
@errors(400, 404, 415)
def create_feed():
    """Make your calendar feed URL; a new one replaces the old (which stops working)

    Keep `url` to yourself: whoever has it reads your meetings and tasks, and nothing
    else. It is shown this once."""
    user_id = _own_user()
    with store.transaction() as connection:
        made = calendar_feeds.create(connection, user_id)
    auth.forget_principals()  # the replaced token: refused by this process at once
    url = url_for(".calendar_ics", token=made["token"], _external=True)
    return dict(made, url=url), 201, {"Location": url_for(".get_feed")}


@blp.route("/calendar/feed", methods=["DELETE"])
@blp.response(204)
@errors(404)
def revoke_feed():
    """Revoke your calendar feed URL (refused by every gateway process within
    `AUTH_CACHE_SECONDS`)"""
    user_id = _own_user()
    with store.transaction() as connection:
        calendar_feeds.revoke(connection, user_id)
    auth.forget_principals()
    return "", 204


@blp.route("/users/<id:user_id>/calendar-feed", methods=["DELETE"])
@permission("users.write")
@blp.response(204)
@errors(404)
def revoke_users_feed(user_id):
    """Revoke a user's calendar feed URL (administrators: a leaked link)"""
    with store.transaction() as connection:
        users.get_row(connection, user_id)  # 404 for nobody
        calendar_feeds.revoke(connection, user_id)
    auth.forget_principals()
    return "", 204
