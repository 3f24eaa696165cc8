"""/api/v1 timeline entries (notes, meetings, calls, e-mails, tasks), the timelines of
contact persons, tasks, and activity plans applied (the activities service).

An entry is visible to whoever sees its client: every call checks the client (and the deal)
with their services first, which answer 404 for a record the caller may not see."""
from flask_smorest import Blueprint
from marshmallow import RAISE
from werkzeug.exceptions import Forbidden, NotFound as NoSuchUser

from crm_common.errors import Conflict, NotFound, ValidationFailed
from crm_common.rpc import RemoteError

from .. import rpc
from ..accounts import store, users
from ..activity_schemas import (ActivityCreateSchema, ActivityHistorySchema,
                                ActivityPageSchema, ActivityPatchSchema, ActivitySchema,
                                PlanApplySchema, PlanRunListSchema, PlanRunSchema,
                                TaskQuerySchema, TimelineFilterSchema)
from ..auth import caller, current_principal
from . import (ETAG_HEADER, IDEMPOTENCY_HEADER, IF_MATCH_HEADER, LINK_HEADER, idempotency_key,
               if_match, paged, problem_responses, require_json, takes_no_body, with_etag,
               with_ids)

blp = Blueprint("activities", __name__, url_prefix="/api/v1",
                description="Timeline entries, tasks and the timelines of contact persons")
with_ids(blp)
blp.before_request(require_json)

EDITORS = ("manager",)  # besides the author (and administrators): who edit anyone's entries


def errors(*codes):
    return problem_responses(blp, *codes)


# -- checks ---------------------------------------------------------------------------


def _not_found_as(field: str, message: str):
    def convert(exc: RemoteError):
        if exc.exc_type == "NotFound":
            raise ValidationFailed({field: [message]}) from exc
        raise exc
    return convert


def _call_or(convert, service: str, method: str, **kwargs):
    try:
        return rpc.call(service, method, **kwargs)
    except RemoteError as exc:
        convert(exc)


def writable_client(client_id: str) -> dict:
    """The client an entry is written to: one the caller sees (else 404), not merged away."""
    client = rpc.call("clients", "get", client_id=client_id)
    if client.get("merged_into"):
        raise Conflict(f"client {client_id} was merged into {client['merged_into']}: write "
                       "there", {"existing_id": client["merged_into"]})
    return client


def _check_links(data: dict, client_id: str) -> None:
    """The deal, contact persons, attendees and assignee an entry names exist and belong
    to its client (a 422 saying which one does not)."""
    if data.get("deal_id"):
        deal = _call_or(_not_found_as("deal_id", "No such deal."), "deals", "get",
                        deal_id=data["deal_id"])
        if deal["client_id"] != client_id:
            raise ValidationFailed({"deal_id": ["A deal of another client."]})
    contacts = list(data.get("contact_ids") or [])
    contacts += [a["id"] for a in data.get("attendees") or [] if a["kind"] == "contact"]
    for contact_id in dict.fromkeys(contacts):
        contact = _call_or(_not_found_as("contact_ids", f"No contact person {contact_id}."),
                           "clients", "get_contact", contact_id=contact_id)
        if client_id not in {link["client_id"] for link in contact.get("clients") or []}:
            raise ValidationFailed({"contact_ids": [
                f"{contact_id} is not a contact person of this client."]})
    people = [a["id"] for a in data.get("attendees") or [] if a["kind"] == "user"]
    if data.get("assignee_id"):
        people.append(data["assignee_id"])
    with store.transaction() as connection:
        for user_id in dict.fromkeys(people):
            try:
                active = users.get_row(connection, user_id).active
            except NoSuchUser:
                active = False
            if not active:
                field = "assignee_id" if user_id == data.get("assignee_id") else "attendees"
                raise ValidationFailed({field: [f"No active user {user_id}."]})


def _time_zone() -> str | None:
    principal = current_principal()
    if principal is None or principal.user_id is None:
        return None
    with store.transaction() as connection:
        try:
            return users.get_row(connection, principal.user_id).time_zone
        except NoSuchUser:
            return None


def _author_filter(value: str | None) -> str | None:
    if value is None:
        return None
    if value == "me":
        return current_principal().actor
    return f"user:{value}"


def _user_filter(value: str) -> list[str]:
    """`me`: the caller (the bootstrap token is nobody: no one's tasks)."""
    if value == "me":
        user_id = current_principal().user_id
        return [user_id] if user_id else []
    return [value]


def _payload(data: dict) -> dict:
    """JSON for the RPC: dates and moments as ISO text, the fields by their API names."""
    return {"from" if name == "from_" else name:
            value.isoformat() if hasattr(value, "isoformat") else value
            for name, value in data.items()}


def entry_checked(activity_id: str, *, deleted: bool = False, deal: bool = False) -> dict:
    """The entry's {client_id, deal_id, type}, after checking the caller sees its client
    (`deal`: and its deal); a hidden one is "not found" exactly as a missing one."""
    target = rpc.call("activities", "activity_target", activity_id=activity_id,
                      deleted=deleted)
    try:
        rpc.call("clients", "get", client_id=target["client_id"])
        if deal and target.get("deal_id"):
            rpc.call("deals", "get", deal_id=target["deal_id"])
    except RemoteError as exc:
        if exc.exc_type == "NotFound":
            raise NotFound(f"activity {activity_id} not found") from exc
        raise
    return target


def _may_change(activity_id: str, *, task: bool = False) -> dict:
    """Its author, a manager or an administrator change an entry (a task: its assignee
    too, who may do so even on a client the record-level rule hides from them: the task is
    on their list); anyone else: 403."""
    entry = rpc.call("activities", "get_activity", activity_id=activity_id)
    principal = current_principal()
    assigned = task and principal.user_id is not None and \
        principal.user_id == entry.get("assignee_id")
    if not assigned:
        entry_checked(activity_id)
    if assigned or principal.actor == entry.get("author") or principal.has_role(*EDITORS):
        return entry
    raise Forbidden("Only its author, a manager or an administrator change an entry"
                    + (" (a task: its assignee too)." if task else "."))


# -- entries --------------------------------------------------------------------------


def _create(data: dict, client_id: str, deal_id: str | None = None):
    key = idempotency_key()
    if deal_id:
        data["deal_id"] = deal_id
    _check_links(data, client_id)
    payload = _payload(dict(data, client_id=client_id,
                            author=current_principal().actor))
    answer = rpc.call("activities", "create_activity", payload=payload,
                      time_zone=_time_zone(), **key)
    return with_etag(answer["activity"], 201 if answer["created"] else 200)


CREATE_DOC = """

    `type` is note, meeting, call, email or task; every entry has a title and a body (a
    meeting's body is its minutes, an e-mail's its text, a task's its description). An
    e-mail with a `message_id` already logged on this client is that entry (`200`).
    Emits `activity.created`."""


@blp.route("/clients/<id:client_id>/activities", methods=["POST"])
@blp.arguments(ActivityCreateSchema)
@blp.response(201, ActivitySchema, headers=ETAG_HEADER)
@blp.alt_response(200, schema=ActivitySchema, description="The e-mail was logged already")
@errors(400, 404, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def create_client_activity(data, client_id):
    """Write an entry (note, meeting, call, e-mail, task) into the client's timeline"""
    writable_client(client_id)
    return _create(data, client_id)


create_client_activity.__doc__ += CREATE_DOC


@blp.route("/deals/<id:deal_id>/activities", methods=["POST"])
@blp.arguments(ActivityCreateSchema)
@blp.response(201, ActivitySchema, headers=ETAG_HEADER)
@blp.alt_response(200, schema=ActivitySchema, description="The e-mail was logged already")
@errors(400, 404, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def create_deal_activity(data, deal_id):
    """Write an entry into the deal's timeline (and its client's)"""
    deal = rpc.call("deals", "get", deal_id=deal_id)
    if data.get("deal_id") not in (None, deal_id):
        raise ValidationFailed({"deal_id": ["The entry belongs to the deal in the path."]})
    writable_client(deal["client_id"])
    return _create(data, deal["client_id"], deal_id)


create_deal_activity.__doc__ += CREATE_DOC


@blp.route("/activities/<id:activity_id>")
@blp.response(200, ActivitySchema, headers=ETAG_HEADER)
@errors(404)
def get_activity(activity_id):
    """One timeline entry"""
    entry_checked(activity_id)
    return with_etag(rpc.call("activities", "get_activity", activity_id=activity_id))


@blp.route("/activities/<id:activity_id>", methods=["PATCH"])
@blp.arguments(ActivityPatchSchema)
@blp.response(200, ActivitySchema, headers=ETAG_HEADER)
@errors(400, 403, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def update_activity(changes, activity_id):
    """Change an entry you wrote (If-Match; a stale version is a 412)

    The fields of its type (see creating one); `type` and the client stay. System entries
    are the record of what happened: `409`. Emits `activity.updated` (and `task.completed`
    when a task's `status` becomes done); the change is in its history.
    """
    key = idempotency_key()
    entry = _may_change(activity_id, task=True)
    _check_links(changes, entry["client_id"])
    return with_etag(rpc.call("activities", "update_activity", activity_id=activity_id,
                              payload=_payload(changes), if_match=if_match(),
                              time_zone=_time_zone(), **key))


@blp.route("/activities/<id:activity_id>", methods=["DELETE"])
@blp.response(204)
@errors(400, 403, 404, 409, 412, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def delete_activity(activity_id):
    """Delete an entry you wrote: gone from every timeline, kept in its history; emits
    `activity.deleted`"""
    key = idempotency_key()
    _may_change(activity_id)
    rpc.call("activities", "delete_activity", activity_id=activity_id, if_match=if_match(),
             **key)
    return None


@blp.route("/activities/<id:activity_id>/history")
@blp.response(200, ActivityHistorySchema)
@errors(404)
def activity_history(activity_id):
    """Who created, changed (from what to what) or deleted the entry (a deleted one's too)"""
    entry_checked(activity_id, deleted=True)
    return rpc.call("activities", "activity_history", activity_id=activity_id)


# -- timelines ------------------------------------------------------------------------


def timeline_page(query: dict, **where):
    """A timeline page with the query's filters, and its next page's link."""
    kwargs = {"limit": query["limit"], "cursor": query.get("cursor"), **where}
    if query.get("types"):
        kwargs["types"] = query["types"]
    if query.get("author"):
        kwargs["author"] = _author_filter(query["author"])
    for name, key in (("from_", "since"), ("to", "until")):
        if query.get(name) is not None:
            kwargs[key] = query[name].isoformat()
    if query.get("q"):
        kwargs["q"] = query["q"]
    return paged(rpc.call("activities", "timeline", **kwargs))


@blp.route("/contacts/<id:contact_id>/timeline")
@blp.arguments(TimelineFilterSchema, location="query", unknown=RAISE)
@blp.response(200, ActivityPageSchema, headers=LINK_HEADER)
@errors(404, 422)
def contact_timeline(query, contact_id):
    """The contact person's timeline, newest first: entries naming them, meetings they
    attended, their system entries (of the clients you see)"""
    contact = rpc.call("clients", "get_contact", contact_id=contact_id)  # NotFound -> 404
    where = {"contact_id": contact_id}
    if caller().restricted:
        where["client_ids"] = _visible_clients(link["client_id"]
                                               for link in contact.get("clients") or [])
    return timeline_page(query, **where)


def _visible_clients(client_ids) -> list[str]:
    visible = []
    for client_id in client_ids:
        try:
            rpc.call("clients", "get", client_id=client_id)
            visible.append(client_id)
        except RemoteError as exc:
            if exc.exc_type != "NotFound":
                raise
    return visible


# -- tasks ----------------------------------------------------------------------------


@blp.route("/tasks")
@blp.arguments(TaskQuerySchema, location="query", unknown=RAISE)
@blp.response(200, ActivityPageSchema, headers=LINK_HEADER)
@errors(422)
def list_tasks(query):
    """Tasks by due date (those without one last)

    `due`: `overdue` (due on an earlier day, or at a moment past), `today`, `week` (Monday
    to Sunday), by your time zone's calendar. A sales rep who sees only their own records
    sees the tasks assigned to them or written by them.
    """
    wanted = {name: query[name] for name in ("status", "due", "client_id", "deal_id",
                                             "cursor", "limit") if name in query}
    if query.get("assignee"):
        wanted["assignee_ids"] = _user_filter(query["assignee"])
    who = caller()
    if who.restricted:
        wanted["visible_to"] = who.user_id
    wanted["time_zone"] = _time_zone()
    return paged(rpc.call("activities", "tasks", query=wanted))


def _task_status(task_id: str, method: str):
    key = idempotency_key()
    _may_change(task_id, task=True)
    return with_etag(rpc.call("activities", method, task_id=task_id, if_match=if_match(),
                              **key))


@blp.route("/tasks/<id:task_id>/complete", methods=["POST"])
@takes_no_body
@blp.response(200, ActivitySchema, headers=ETAG_HEADER)
@errors(400, 403, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def complete_task(task_id):
    """Mark a task done (by you, now); emits `task.completed` (once)"""
    return _task_status(task_id, "complete_task")


@blp.route("/tasks/<id:task_id>/reopen", methods=["POST"])
@takes_no_body
@blp.response(200, ActivitySchema, headers=ETAG_HEADER)
@errors(400, 403, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def reopen_task(task_id):
    """Open a done task again (its `task.due` comes again if its due moment is ahead)"""
    return _task_status(task_id, "reopen_task")


# -- plans applied --------------------------------------------------------------------


def _apply(body: dict, client: dict, deal: dict | None = None):
    key = idempotency_key()
    owner = (deal or {}).get("owner_id") or client.get("owner_id")
    return rpc.call("activities", "apply_activity_plan", plan_id=body["plan_id"],
                    client_id=client["id"], deal_id=deal["id"] if deal else None,
                    owner_id=owner, time_zone=_time_zone(), **key), 201


@blp.route("/clients/<id:client_id>/plans", methods=["POST"])
@blp.arguments(PlanApplySchema)
@blp.response(201, PlanRunSchema)
@errors(400, 404, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def apply_client_plan(body, client_id):
    """Apply an activity plan to a client: its steps become tasks with due dates"""
    return _apply(body, writable_client(client_id))


@blp.route("/deals/<id:deal_id>/plans", methods=["POST"])
@blp.arguments(PlanApplySchema)
@blp.response(201, PlanRunSchema)
@errors(400, 404, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def apply_deal_plan(body, deal_id):
    """Apply an activity plan to a deal: its steps become the deal's tasks (assigned to
    the deal's owner unless a step names someone)"""
    deal = rpc.call("deals", "get", deal_id=deal_id)
    return _apply(body, writable_client(deal["client_id"]), deal)


@blp.route("/clients/<id:client_id>/plans")
@blp.response(200, PlanRunListSchema)
@errors(404)
def client_plans(client_id):
    """The plans applied to a client (and its deals), with their progress"""
    rpc.call("clients", "get", client_id=client_id)
    return rpc.call("activities", "plan_runs", client_id=client_id)


@blp.route("/deals/<id:deal_id>/plans")
@blp.response(200, PlanRunListSchema)
@errors(404)
def deal_plans(deal_id):
    """The plans applied to a deal, with their progress"""
    rpc.call("deals", "get", deal_id=deal_id)
    return rpc.call("activities", "plan_runs", deal_id=deal_id)
