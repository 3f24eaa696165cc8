"""/api/v1/activity-plans: the steps a sales rep goes through (managers define them;
applying one to a client or a deal is in blueprints/activities.py)."""
from flask_smorest import Blueprint
from marshmallow import RAISE

from werkzeug.exceptions import NotFound as NoSuchUser

from crm_common.errors import ValidationFailed

from .. import rpc
from ..accounts import store, users
from ..activity_schemas import (PlanCreateSchema, PlanListQuerySchema, PlanListSchema,
                                PlanPatchSchema, PlanSchema)
from . import (ETAG_HEADER, IDEMPOTENCY_HEADER, IF_MATCH_HEADER, idempotency_key, if_match,
               problem_responses, require_json, with_etag, with_ids)

blp = Blueprint("activity_plans", __name__, url_prefix="/api/v1",
                description="Activity plans: steps a rep goes through (managers)")
with_ids(blp)
blp.before_request(require_json)


def plan_errors(*codes):
    return problem_responses(blp, *codes)


def _check_step_users(body: dict) -> None:
    """A step's assignee is `owner`, `author` or an active user (as a task's is)."""
    with store.transaction() as connection:
        for number, step in enumerate(body.get("steps") or []):
            assignee = step.get("assignee")
            if assignee in (None, "owner", "author"):
                continue
            try:
                active = users.get_row(connection, assignee).active
            except NoSuchUser:
                active = False
            if not active:
                raise ValidationFailed({f"steps.{number}.assignee": [
                    f"`owner`, `author` or an active user's id, not {assignee!r}."]})


@blp.route("/activity-plans")
@blp.arguments(PlanListQuerySchema, location="query", unknown=RAISE)
@blp.response(200, PlanListSchema)
@plan_errors(422)
def list_plans(query):
    """Activity plans (the retired ones too with `include_inactive=true`)"""
    return rpc.call("activities", "activity_plans",
                    include_inactive=query["include_inactive"])


@blp.route("/activity-plans", methods=["POST"])
@blp.arguments(PlanCreateSchema)
@blp.response(201, PlanSchema, headers=ETAG_HEADER)
@plan_errors(400, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def create_plan(body):
    """Define an activity plan: ordered steps, each a title, days after it is applied and
    an assignee; emits `activity_plan.created`"""
    key = idempotency_key()
    _check_step_users(body)
    return with_etag(rpc.call("activities", "create_activity_plan", payload=body, **key),
                     201)


@blp.route("/activity-plans/<id:plan_id>")
@blp.response(200, PlanSchema, headers=ETAG_HEADER)
@plan_errors(404)
def get_plan(plan_id):
    """One activity plan"""
    return with_etag(rpc.call("activities", "get_activity_plan", plan_id=plan_id))


@blp.route("/activity-plans/<id:plan_id>", methods=["PATCH"])
@blp.arguments(PlanPatchSchema(partial=("name", "description", "steps", "active")))
@blp.response(200, PlanSchema, headers=ETAG_HEADER)
@plan_errors(400, 404, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def update_plan(body, plan_id):
    """Change an activity plan or retire it (`active: false`); tasks made from it stay;
    emits `activity_plan.updated`"""
    key = idempotency_key()
    _check_step_users(body)
    return with_etag(rpc.call("activities", "update_activity_plan", plan_id=plan_id,
                              payload=body, if_match=if_match(), **key))
