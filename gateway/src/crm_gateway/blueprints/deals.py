"""/api/v1/deals, /pipelines, /stages, /lost-reasons and a client's deal summary (the deals
service; a deal's timeline from activities)."""
from flask_smorest import Blueprint
from marshmallow import RAISE

from crm_common.errors import Conflict, ValidationFailed
from crm_common.rpc import RemoteError

from .. import rpc
from ..deal_schemas import (BoardQuerySchema, BoardSchema, ConversionQuerySchema,
                            ConversionSchema, DealCloseSchema, DealCreateSchema,
                            ForecastQuerySchema, ForecastSchema, PipelineReportQuerySchema,
                            PipelineReportSchema, WinRateQuerySchema, WinRateSchema,
                            DealDeletedSchema, DealHistorySchema, DealListQuerySchema,
                            DealPageSchema, DealPatchSchema, DealSchema, DealSummarySchema,
                            LostReasonCreateSchema, LostReasonListSchema,
                            LostReasonPatchSchema, LostReasonSchema, PipelineCreateSchema,
                            PipelineListSchema, PipelinePatchSchema, PipelineSchema,
                            StageCreateSchema, StageDeleteQuerySchema, StagePatchSchema)
from ..permissions import permission
from ..activity_schemas import ActivityPageSchema, TimelineFilterSchema
from .activities import timeline_page
from . import (ETAG_HEADER, IDEMPOTENCY_HEADER, IF_MATCH_HEADER, LINK_HEADER, idempotency_key,
               if_match, paged, problem_responses, require_json, takes_no_body, with_etag,
               with_ids)

blp = Blueprint("deals", __name__, url_prefix="/api/v1",
                description="Deals, their pipelines and stages, the board")
settings = Blueprint("pipelines", __name__, url_prefix="/api/v1",
                     description="Pipelines, stages and lost reasons (managers)")
for blueprint in (blp, settings):
    with_ids(blueprint)
    blueprint.before_request(require_json)

FILTERS = ("owner_id", "client_id", "expected_close_from", "expected_close_to", "value_min",
           "value_max", "tag", "q", "pipeline_id", "stage_id", "status")


def errors(*codes):
    return problem_responses(blp, *codes)


def settings_errors(*codes):
    return problem_responses(settings, *codes)


def _filters(query: dict) -> dict:
    return {name: query[name].isoformat() if hasattr(query[name], "isoformat")
            else query[name] for name in FILTERS if name in query}


# -- deals ------------------------------------------------------------------------------

@blp.route("/deals")
@blp.arguments(DealListQuerySchema, location="query", unknown=RAISE)
@blp.response(200, DealPageSchema, headers=LINK_HEADER)
@errors(422)
def list_deals(query):
    """Find and list deals: filters, sort, cursor pagination (newest first by default)"""
    return paged(rpc.call("deals", "list", filters=_filters(query), sort=query["sort"],
                          limit=query["limit"], cursor=query.get("cursor")))


@blp.route("/deals", methods=["POST"])
@blp.arguments(DealCreateSchema)
@blp.response(201, DealSchema, headers=ETAG_HEADER)
@errors(400, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def create_deal(deal):
    """Create a deal of a client

    The client must exist (for you) and not be archived. Without a stage it starts in the
    first stage of its pipeline (default: the default pipeline), with that stage's
    probability. Amounts are decimal strings (`"1000000.70"`), exact. Emits `deal.created`.
    """
    key = idempotency_key()
    client = _client_for_deal(deal["client_id"])
    _contact_of(deal.get("contact_id"), client["id"])
    payload = dict(deal, client_name=client["name"], client_version=client["version"],
                   **_custom_fields(deal.get("custom_fields"), {}, creating=True))
    if payload.get("expected_close_date") is not None:
        payload["expected_close_date"] = payload["expected_close_date"].isoformat()
    return with_etag(rpc.call("deals", "create", payload=payload, **key), 201)


def _custom_fields(sent, current: dict, creating: bool) -> dict:
    """The deal's custom fields after `sent`, checked against the definitions (the clients
    service keeps them); the deals service checks the unique ones among its deals."""
    checked = rpc.call("clients", "check_custom_values", applies_to="deal", sent=sent or {},
                       current=current, creating=creating)
    if checked["errors"]:
        raise ValidationFailed(checked["errors"])
    return {"custom_fields": checked["values"], "unique_custom_fields": checked["unique"]}


def _contact_of(contact_id: str | None, client_id: str) -> None:
    """A deal's contact person is one of its client's."""
    if not contact_id:
        return
    try:
        contact = rpc.call("clients", "get_contact", contact_id=contact_id)
    except RemoteError as exc:
        if exc.exc_type == "NotFound":
            raise ValidationFailed({"contact_id": [f"Contact {contact_id} does not exist."]}) \
                from exc
        raise
    if client_id not in {link["client_id"] for link in contact.get("clients") or []}:
        raise ValidationFailed({"contact_id": ["Not a contact person of the deal's client."]})


def _client_for_deal(client_id: str) -> dict:
    try:
        client = rpc.call("clients", "get", client_id=client_id)
    except RemoteError as exc:
        if exc.exc_type == "NotFound":
            raise ValidationFailed({"client_id": [f"Client {client_id} does not exist."]}) \
                from exc
        raise
    if client.get("merged_into"):
        raise Conflict(f"client_id: client {client_id} was merged into "
                       f"{client['merged_into']}", {"existing_id": client["merged_into"]})
    if client.get("archived_at"):
        raise Conflict(f"client_id: client {client_id} is archived: restore it first")
    return client


@blp.route("/deals/<id:deal_id>")
@blp.response(200, DealSchema, headers=ETAG_HEADER)
@errors(404)
def get_deal(deal_id):
    """One deal"""
    return with_etag(rpc.call("deals", "get", deal_id=deal_id))


@blp.route("/deals/<id:deal_id>", methods=["PATCH"])
@blp.arguments(DealPatchSchema)
@blp.response(200, DealSchema, headers=ETAG_HEADER)
@errors(400, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def update_deal(changes, deal_id):
    """Change a deal; a new `stage_id` moves it

    Send `If-Match` (its ETag): two people dragging one card do not overwrite each other
    (the second gets `412`). A move emits `deal.stage_changed` and is in its stage history;
    other changes emit `deal.updated`.
    """
    key = idempotency_key()
    if changes.get("expected_close_date") is not None:
        changes["expected_close_date"] = changes["expected_close_date"].isoformat()
    if "custom_fields" in changes or changes.get("contact_id"):
        current = rpc.call("deals", "get", deal_id=deal_id)
        _contact_of(changes.get("contact_id"), current["client_id"])
        if "custom_fields" in changes:
            changes.update(_custom_fields(changes["custom_fields"], current["custom_fields"],
                                          creating=False))
    return with_etag(rpc.call("deals", "update", deal_id=deal_id, changes=changes,
                              if_match=if_match(), **key))


@blp.route("/deals/<id:deal_id>", methods=["DELETE"])
@blp.response(200, DealDeletedSchema)
@errors(400, 404, 412, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def delete_deal(deal_id):
    """Delete a deal (its history stays); emits `deal.deleted`"""
    key = idempotency_key()
    return rpc.call("deals", "delete", deal_id=deal_id, if_match=if_match(), **key)


def _close(deal_id: str, status: str, body: dict | None):
    key = idempotency_key()
    return with_etag(rpc.call("deals", "close", deal_id=deal_id, status=status,
                              payload=body or {}, if_match=if_match(), **key))


@blp.route("/deals/<id:deal_id>/won", methods=["POST"])
@takes_no_body
@blp.response(200, DealSchema, headers=ETAG_HEADER)
@errors(400, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def win_deal(deal_id):
    """Mark a deal won (closed now, probability 100); emits `deal.won`"""
    return _close(deal_id, "won", None)


@blp.route("/deals/<id:deal_id>/lost", methods=["POST"])
@blp.arguments(DealCloseSchema)
@blp.response(200, DealSchema, headers=ETAG_HEADER)
@errors(400, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def lose_deal(body, deal_id):
    """Mark a deal lost, with a reason (from /api/v1/lost-reasons) and a note; emits
    `deal.lost`"""
    return _close(deal_id, "lost", body)


@blp.route("/deals/<id:deal_id>/reopen", methods=["POST"])
@takes_no_body
@blp.response(200, DealSchema, headers=ETAG_HEADER)
@errors(400, 404, 409, 412, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def reopen_deal(deal_id):
    """Reopen a won or lost deal (in the stage it was in); emits `deal.reopened`"""
    key = idempotency_key()
    return with_etag(rpc.call("deals", "reopen", deal_id=deal_id, if_match=if_match(), **key))


@blp.route("/deals/<id:deal_id>/history")
@blp.response(200, DealHistorySchema)
@errors(404)
def deal_history(deal_id):
    """Every change of the deal, oldest first, and the time it spent in each stage"""
    return rpc.call("deals", "history", deal_id=deal_id)


@blp.route("/deals/<id:deal_id>/timeline")
@permission("activities.read")
@blp.arguments(TimelineFilterSchema, location="query", unknown=RAISE)
@blp.response(200, ActivityPageSchema, headers=LINK_HEADER)
@errors(404, 422)
def deal_timeline(query, deal_id):
    """The deal's timeline, newest first (filters as on a client's timeline)"""
    rpc.call("deals", "get", deal_id=deal_id)  # NotFound -> 404
    return timeline_page(query, deal_id=deal_id)


@blp.route("/clients/<id:client_id>/deal-summary")
@blp.response(200, DealSummarySchema)
@errors(404)
def client_deal_summary(client_id):
    """How much have we done with this client: open deals, won (all time and the last 12
    months), lost, win rate; per currency"""
    rpc.call("clients", "get", client_id=client_id)  # NotFound -> 404
    return rpc.call("deals", "client_summary", client_id=client_id)


@blp.route("/pipelines/<id:pipeline_id>/board")
@blp.arguments(BoardQuerySchema, location="query", unknown=RAISE)
@blp.response(200, BoardSchema)
@errors(404, 422)
def pipeline_board(query, pipeline_id):
    """The kanban board: the pipeline's stages in order, each with its count, its totals
    per currency (value and weighted value, exact) and the first page of its open deals;
    `stage_id` with `cursor` pages one column; `base_currency` adds each column's totals
    converted with the ČNB's daily rates (the rates and their date stated)"""
    filters = {name: value for name, value in _filters(query).items() if name != "stage_id"}
    return rpc.call("deals", "board", pipeline_id=pipeline_id, filters=filters,
                    stage_id=query.get("stage_id"), cursor=query.get("cursor"),
                    limit=query["limit"], base_currency=query.get("base_currency"))


# -- reports ----------------------------------------------------------------------------

@blp.route("/reports/pipeline")
@blp.arguments(PipelineReportQuerySchema, location="query", unknown=RAISE)
@blp.response(200, PipelineReportSchema)
@errors(404, 422)
def report_pipeline(query):
    """The pipeline's open deals by stage: count, value and weighted value per currency"""
    filters = {name: value for name, value in _filters(query).items() if name != "pipeline_id"}
    return rpc.call("deals", "report_pipeline", pipeline_id=query["pipeline_id"],
                    filters=filters)


@blp.route("/reports/forecast")
@blp.arguments(ForecastQuerySchema, location="query", unknown=RAISE)
@blp.response(200, ForecastSchema)
@errors(422)
def report_forecast(query):
    """Open deals' value and weighted value by the month they are expected to close"""
    return rpc.call("deals", "report_forecast", filters=_filters(query))


@blp.route("/reports/win-rate")
@blp.arguments(WinRateQuerySchema, location="query", unknown=RAISE)
@blp.response(200, WinRateSchema)
@errors(422)
def report_win_rate(query):
    """Won and lost deals by owner and pipeline: win rate, average days to close"""
    return rpc.call("deals", "report_win_rate", pipeline_id=query.get("pipeline_id"), **{
        name: query[name].isoformat() for name in ("closed_from", "closed_to")
        if name in query})


@blp.route("/reports/conversion")
@blp.arguments(ConversionQuerySchema, location="query", unknown=RAISE)
@blp.response(200, ConversionSchema)
@errors(404, 422)
def report_conversion(query):
    """Stage to stage: of the deals that reached each stage, how many went on"""
    return rpc.call("deals", "report_conversion", pipeline_id=query["pipeline_id"])


# -- pipelines, stages, lost reasons --------------------------------------------------

@settings.route("/pipelines")
@settings.response(200, PipelineListSchema)
@settings_errors()
def list_pipelines():
    """The pipelines with their stages in order"""
    return rpc.call("deals", "pipelines")


@settings.route("/pipelines", methods=["POST"])
@settings.arguments(PipelineCreateSchema)
@settings.response(201, PipelineSchema, headers=ETAG_HEADER)
@settings_errors(400, 415, 422)
def create_pipeline(pipeline):
    """A new pipeline (new business, renewals...); emits `pipeline.updated`"""
    return with_etag(rpc.call("deals", "create_pipeline", payload=pipeline), 201)


@settings.route("/pipelines/<id:pipeline_id>")
@settings.response(200, PipelineSchema, headers=ETAG_HEADER)
@settings_errors(404)
def get_pipeline(pipeline_id):
    """One pipeline with its stages"""
    return with_etag(rpc.call("deals", "get_pipeline", pipeline_id=pipeline_id))


@settings.route("/pipelines/<id:pipeline_id>", methods=["PATCH"])
@settings.arguments(PipelinePatchSchema)
@settings.response(200, PipelineSchema, headers=ETAG_HEADER)
@settings_errors(400, 404, 409, 412, 415, 422)
@settings.doc(parameters=[IF_MATCH_HEADER])
def update_pipeline(changes, pipeline_id):
    """Rename, reorder, make it the default, archive it"""
    return with_etag(rpc.call("deals", "update_pipeline", pipeline_id=pipeline_id,
                              changes=changes, if_match=if_match()))


@settings.route("/pipelines/<id:pipeline_id>/stages", methods=["POST"])
@settings.arguments(StageCreateSchema)
@settings.response(201, PipelineSchema, headers=ETAG_HEADER)
@settings_errors(400, 404, 409, 415, 422)
def add_stage(stage, pipeline_id):
    """A new stage at `position` (default: last); answers the whole pipeline"""
    return with_etag(rpc.call("deals", "add_stage", pipeline_id=pipeline_id, payload=stage),
                     201)


@settings.route("/stages/<id:stage_id>", methods=["PATCH"])
@settings.arguments(StagePatchSchema)
@settings.response(200, PipelineSchema, headers=ETAG_HEADER)
@settings_errors(400, 404, 409, 412, 415, 422)
@settings.doc(parameters=[IF_MATCH_HEADER])
def update_stage(changes, stage_id):
    """Rename, reorder or change the default probability of a stage (`If-Match`: the
    stage's version); answers the whole pipeline"""
    return with_etag(rpc.call("deals", "update_stage", stage_id=stage_id, changes=changes,
                              if_match=if_match()))


@settings.route("/stages/<id:stage_id>", methods=["DELETE"])
@settings.arguments(StageDeleteQuerySchema, location="query")
@settings.response(200, PipelineSchema, headers=ETAG_HEADER)
@settings_errors(404, 409, 422)
def delete_stage(query, stage_id):
    """Remove a stage; its deals move to `move_to` (refused without it while it holds
    deals, and for the last stage of a pipeline); answers the pipeline"""
    return with_etag(rpc.call("deals", "delete_stage", stage_id=stage_id,
                              move_to=query.get("move_to")))


@settings.route("/lost-reasons")
@settings.response(200, LostReasonListSchema)
@settings_errors()
def list_lost_reasons():
    """The reasons a deal can be lost for (the active ones)"""
    return rpc.call("deals", "lost_reasons")


@settings.route("/lost-reasons", methods=["POST"])
@settings.arguments(LostReasonCreateSchema)
@settings.response(201, LostReasonSchema)
@settings_errors(400, 409, 415, 422)
def create_lost_reason(reason):
    """A new reason for losing a deal"""
    return rpc.call("deals", "create_lost_reason", payload=reason), 201


@settings.route("/lost-reasons/<id:reason_id>", methods=["PATCH"])
@settings.arguments(LostReasonPatchSchema)
@settings.response(200, LostReasonSchema)
@settings_errors(400, 404, 409, 415, 422)
def update_lost_reason(changes, reason_id):
    """Rename, reorder or retire (`active: false`) a lost reason"""
    return rpc.call("deals", "update_lost_reason", reason_id=reason_id, changes=changes)
