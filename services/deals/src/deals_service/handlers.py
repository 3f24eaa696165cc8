"""Use cases of deals. Each runs in one unit of work and stages its events.

The gateway has checked the client (it exists, the caller sees it, it is not archived)
before a deal is created for it; `client_name` comes with that check.
"""
import uuid
from datetime import timedelta

from crm_common.access import Caller
from crm_common.concurrency import concurrent_writes
from crm_common.db import take_turns
from crm_common.errors import Conflict, PreconditionFailed, ValidationFailed
from crm_common.events import rfc3339, to_utc, utcnow
from crm_common.fields import load

from . import money
from .domain import LOST, OPEN, STATUSES, WON, Deal, Pipeline, Stage, time_in_stages
from .repository import SORT_COLUMNS, Deals, Pipelines
from .schemas import CloseSchema, DealCreateSchema, DealFiltersSchema, DealPatchSchema

CREATE = "deals.create"  # the scopes of their Idempotency-Keys
UPDATE = "deals.update"
CLOSE = "deals.close"
REOPEN = "deals.reopen"
DELETE = "deals.delete"
SORT_NAMES = [order for name in SORT_COLUMNS for order in (name, f"-{name}")]
_create_schema = DealCreateSchema()
_patch_schema = DealPatchSchema()
_close_schema = CloseSchema()
_filters_schema = DealFiltersSchema()


def deals_of(uow) -> Deals:
    """The deals as the caller may see them."""
    return Deals(uow.session, uow.context.caller)


def to_resource(deal: Deal, stage: Stage | None = None) -> dict:
    """The deal as the API shows it: amounts as exact decimal strings."""
    weighted = money.weighted(deal.value_minor * deal.probability, deal.currency) \
        if deal.value_minor is not None else None
    return {
        "id": deal.id, "title": deal.title, "client_id": deal.client_id,
        "contact_id": deal.contact_id, "owner_id": deal.owner_id,
        "pipeline_id": deal.pipeline_id, "stage_id": deal.stage_id,
        "stage_name": stage.name if stage else None,
        "value": money.from_minor(deal.value_minor, deal.currency), "currency": deal.currency,
        "weighted_value": weighted, "probability": deal.probability,
        "probability_manual": deal.probability_manual,
        "expected_close_date": deal.expected_close_date.isoformat()
        if deal.expected_close_date else None,
        "source": deal.source, "description": deal.description, "tags": list(deal.tags),
        "custom_fields": dict(deal.custom_fields), "status": deal.status,
        "closed_at": _time(deal.closed_at),
        "lost_reason": deal.lost_reason, "lost_note": deal.lost_note,
        "client_archived": deal.client_archived,
        "stage_entered_at": _time(deal.stage_entered_at),
        "created_by": deal.created_by, "updated_by": deal.updated_by,
        "created_at": _time(deal.created_at), "updated_at": _time(deal.updated_at),
        "version": deal.version}


def deal_event(deal: Deal, stage: Stage | None) -> dict:
    """The deal as events carry it (deal.v1 in docs/events), its own contract."""
    return {"id": deal.id, "title": deal.title, "client_id": deal.client_id,
            "contact_id": deal.contact_id, "owner_id": deal.owner_id,
            "pipeline_id": deal.pipeline_id, "stage_id": deal.stage_id,
            "stage_name": stage.name if stage else None,
            "value": money.from_minor(deal.value_minor, deal.currency),
            "currency": deal.currency, "probability": deal.probability,
            "expected_close_date": deal.expected_close_date.isoformat()
            if deal.expected_close_date else None,
            "custom_fields": dict(deal.custom_fields), "status": deal.status,
            "closed_at": _time(deal.closed_at), "lost_reason": deal.lost_reason,
            "version": deal.version}


def _time(moment):
    return rfc3339(moment) if moment else None


def _owned_by_default(data: dict, caller: Caller) -> dict:
    if data.get("owner_id") is None and caller.user_id:
        data["owner_id"] = caller.user_id
    return data


def create_deal(uow, payload: dict, idempotency_key: str | None = None) -> dict:
    replayed = uow.replay(CREATE, idempotency_key, payload)
    if replayed is not None:
        return replayed
    data = _owned_by_default(load(_create_schema, payload), uow.context.caller)
    pipelines = Pipelines(uow.session)
    stage = _stage_for(pipelines, data.get("pipeline_id"), data.get("stage_id"))
    actor, now = uow.context.actor, utcnow()
    manual = data.get("probability") is not None
    deal = Deal(
        id=str(uuid.uuid4()), title=data["title"].strip(), client_id=data["client_id"],
        client_name=data.get("client_name"), client_version=data.get("client_version"),
        contact_id=data.get("contact_id"), owner_id=data.get("owner_id"),
        pipeline_id=stage.pipeline_id, stage_id=stage.id, currency=data["currency"],
        value_minor=_minor(data.get("value"), data["currency"]),
        expected_close_date=data.get("expected_close_date"),
        probability=data["probability"] if manual else stage.probability,
        probability_manual=manual, source=data.get("source"),
        description=data.get("description"), tags=_tags(data.get("tags")),
        custom_fields=data.get("custom_fields") or {}, status=OPEN,
        stage_entered_at=now, created_by=actor, updated_by=actor, created_at=now,
        updated_at=now)
    _unique_values(uow, deal.id, deal.custom_fields, data["unique_custom_fields"])
    uow.session.add(deal)
    repo = deals_of(uow)
    repo.reindex(deal)
    resource = to_resource(deal, stage)
    repo.record(deal, "created", {name: {"before": None, "after": value} for name, value in
                                  resource.items() if name in _HISTORY_FIELDS and
                                  value not in (None, [], "")}, actor, now, to_stage=stage)
    uow.emit("deal.created", deal.id, {"deal": deal_event(deal, stage)})
    return uow.commit_once(CREATE, idempotency_key, payload, resource)


_HISTORY_FIELDS = ("title", "client_id", "contact_id", "owner_id", "pipeline_id", "stage_id",
                   "value", "currency", "expected_close_date", "probability", "source",
                   "description", "tags", "custom_fields")


def _stage_for(pipelines: Pipelines, pipeline_id: str | None, stage_id: str | None) -> Stage:
    """The stage a new deal starts in: the one named, else the first of the pipeline named,
    else the first of the default pipeline."""
    if stage_id:
        stage = _existing_stage(pipelines, stage_id)
        if pipeline_id and stage.pipeline_id != pipeline_id:
            raise ValidationFailed({"stage_id": ["A stage of the pipeline named."]})
        return stage
    pipeline = _existing_pipeline(pipelines, pipeline_id) if pipeline_id else \
        pipelines.default()
    if pipeline.archived_at is not None:
        raise Conflict(f"pipeline {pipeline.id} is archived: it takes no new deals")
    first = next(iter(pipelines.stages_of(pipeline.id)), None)
    if first is None:
        raise Conflict(f"pipeline {pipeline.id} has no stages")
    return first


def _existing_stage(pipelines: Pipelines, stage_id: str) -> Stage:
    stage = pipelines.stages_by_id([stage_id]).get(stage_id)
    if stage is None:
        raise ValidationFailed({"stage_id": [f"Stage {stage_id} does not exist."]})
    return stage


def _existing_pipeline(pipelines: Pipelines, pipeline_id: str) -> Pipeline:
    pipeline = pipelines.find(pipeline_id)
    if pipeline is None:
        raise ValidationFailed({"pipeline_id": [f"Pipeline {pipeline_id} does not exist."]})
    return pipeline


def _unique_values(uow, deal_id: str, values: dict, unique: list[str]) -> None:
    """Values of unique custom fields no other deal holds (writers take turns per field)."""
    errors = {}
    for key in sorted(set(unique) & set(values)):
        take_turns(uow.session, f"deals:custom_field:{key}")
        if values[key] is not None and deals_of(uow).custom_value_taken(key, values[key],
                                                                        deal_id):
            errors[f"custom_fields.{key}"] = ["Another deal has this value already."]
    if errors:
        raise ValidationFailed(errors)


def _minor(value: str | None, currency: str) -> int | None:
    return None if value is None else money.to_minor(value, currency)


def _tags(tags) -> list[str]:
    """Tags once each (whatever their case), in the order given."""
    seen, kept = set(), []
    for tag in tags or []:
        if tag.strip().lower() not in seen:
            seen.add(tag.strip().lower())
            kept.append(tag.strip())
    return kept


def get_deal(uow, deal_id: str) -> dict:
    deal = deals_of(uow).get(deal_id)
    return to_resource(deal, Pipelines(uow.session).stages_by_id([deal.stage_id]).get(
        deal.stage_id))


def list_deals(uow, filters: dict | None = None, sort: str | None = None, limit: int = 50,
               cursor: str | None = None) -> dict:
    """Deals filtered, in the order `sort` names (default: newest first)."""
    [page] = _with_stages(uow, [_deal_page(uow, filters, sort, limit, cursor)])
    return page


def _deal_page(uow, filters: dict | None, sort: str | None, limit: int,
               cursor: str | None) -> dict:
    """A page of deals (the domain objects), filtered and sorted."""
    wanted = load(_filters_schema, dict(filters or {}))
    sort = sort or "-created_at"
    if sort not in SORT_NAMES:
        raise ValidationFailed({"sort": [f"One of {', '.join(SORT_NAMES)}."]})
    return deals_of(uow).page(wanted, sort, limit, cursor, lambda deal: deal)


def _with_stages(uow, pages: list[dict]) -> list[dict]:
    """Pages of deals as resources, the stage names of all of them found in one query."""
    names = Pipelines(uow.session).stages_by_id(
        deal.stage_id for page in pages for deal in page["items"])
    return [{"items": [to_resource(d, names.get(d.stage_id)) for d in page["items"]],
             "next_cursor": page["next_cursor"]} for page in pages]


def update_deal(uow, deal_id: str, payload: dict, if_match: int | None = None,
                idempotency_key: str | None = None) -> dict:
    """A user's change; a new `stage_id` moves the deal (`deal.stage_changed`, the stage
    history), the rest is `deal.updated`. `if_match`: the version the caller read."""
    request = {"deal_id": deal_id, "changes": payload, "if_match": if_match}
    replayed = uow.replay(UPDATE, idempotency_key, request)
    if replayed is not None:
        return replayed
    data = load(_patch_schema, payload)
    deal = _current(uow, deal_id, if_match)
    pipelines = Pipelines(uow.session)
    if "stage_id" in data:
        _existing_stage(pipelines, data["stage_id"])
    stages = pipelines.stages_by_id([deal.stage_id, data.get("stage_id")])
    currency = data.get("currency", deal.currency)
    if "value" in data or "currency" in data:
        value = data["value"] if "value" in data else money.from_minor(deal.value_minor,
                                                                      deal.currency)
        try:
            data["value_minor"] = _minor(value, currency)
        except money.InvalidAmount as exc:
            raise ValidationFailed({"value": [str(exc)]}) from exc
        data.pop("value", None)
    if "tags" in data:
        data["tags"] = _tags(data["tags"])
    unique = data.pop("unique_custom_fields")
    if "custom_fields" in data:
        changed = {key: value for key, value in data["custom_fields"].items()
                   if deal.custom_fields.get(key) != value}
        _unique_values(uow, deal.id, changed, unique)
    if "title" in data:
        data["title"] = data["title"].strip()
    actor, now = uow.context.actor, utcnow()
    before_stage = stages[deal.stage_id]
    changes = deal.edit(data, stages, actor, now)
    if "value_minor" in changes:
        change = changes.pop("value_minor")
        changes["value"] = {"before": money.from_minor(change["before"], deal.currency if
                                                       "currency" not in changes else
                                                       changes["currency"]["before"]),
                            "after": money.from_minor(change["after"], deal.currency)}
    if changes:
        _flush(uow, deal_id)
        after_stage = stages[deal.stage_id]
        repo = deals_of(uow)
        repo.reindex(deal)
        moved = "stage_id" in changes
        repo.record(deal, "stage_changed" if moved else "updated", _shown(changes),
                    actor, now, from_stage=before_stage if moved else None,
                    to_stage=after_stage if moved else None)
        if moved:
            uow.emit("deal.stage_changed", deal.id, {
                "deal": deal_event(deal, after_stage),
                "from_stage": {"id": before_stage.id, "name": before_stage.name},
                "to_stage": {"id": after_stage.id, "name": after_stage.name}})
        rest = {name: change for name, change in changes.items()
                if name not in ("stage_id", "pipeline_id")}
        if rest and not (moved and set(rest) <= {"probability"}):
            uow.emit("deal.updated", deal.id, {"deal": deal_event(deal, after_stage),
                                               "changes": _shown(rest)})
    return uow.commit_once(UPDATE, idempotency_key, request,
                           to_resource(deal, stages[deal.stage_id]))


def _shown(changes: dict) -> dict:
    """Changes as the history and the events tell them (dates as text)."""
    shown = {}
    for name, change in changes.items():
        shown[name] = {side: value.isoformat() if hasattr(value, "isoformat") else value
                       for side, value in change.items()}
    return shown


def close_deal(uow, deal_id: str, status: str, payload: dict | None = None,
               if_match: int | None = None, idempotency_key: str | None = None) -> dict:
    """Won or lost (`reason` from the lost reasons, and a `note`): `deal.won` /
    `deal.lost`. Closing a closed deal is a 409 (reopen it first)."""
    if status not in (WON, LOST):
        raise ValidationFailed({"status": ["won or lost"]})
    request = {"deal_id": deal_id, "status": status, "payload": payload, "if_match": if_match}
    replayed = uow.replay(CLOSE, idempotency_key, request)
    if replayed is not None:
        return replayed
    data = load(_close_schema, payload or {})
    if status == WON and (data.get("reason") or data.get("note")):
        raise ValidationFailed({"reason": ["A reason and a note are for a lost deal."]})
    if status == LOST and data.get("reason"):
        labels = {r["label"] for r in Pipelines(uow.session).lost_reasons()}
        if data["reason"] not in labels:
            raise ValidationFailed({"reason": [f"One of: {', '.join(sorted(labels))} "
                                               "(see /api/v1/lost-reasons)."]})
    deal = _current(uow, deal_id, if_match)
    actor, now = uow.context.actor, utcnow()
    try:
        changes = deal.close(status, actor, now, data.get("reason"), data.get("note"))
    except ValueError as exc:
        raise Conflict(f"deal {deal_id}: {exc}; reopen it first") from exc
    _flush(uow, deal_id)
    stage = Pipelines(uow.session).stages_by_id([deal.stage_id]).get(deal.stage_id)
    extra = {"reason": deal.lost_reason, "note": deal.lost_note} if status == LOST else {}
    deals_of(uow).record(deal, status, {**changes, **{k: {"before": None, "after": v}
                                                      for k, v in extra.items() if v}},
                         actor, now)
    uow.emit(f"deal.{status}", deal.id, {"deal": deal_event(deal, stage), **extra})
    return uow.commit_once(CLOSE, idempotency_key, request, to_resource(deal, stage))


def reopen_deal(uow, deal_id: str, if_match: int | None = None,
                idempotency_key: str | None = None) -> dict:
    request = {"deal_id": deal_id, "if_match": if_match}
    replayed = uow.replay(REOPEN, idempotency_key, request)
    if replayed is not None:
        return replayed
    deal = _current(uow, deal_id, if_match)
    stage = Pipelines(uow.session).stage(deal.stage_id)
    actor, now = uow.context.actor, utcnow()
    try:
        changes = deal.reopen(stage, actor, now)
    except ValueError as exc:
        raise Conflict(f"deal {deal_id}: {exc}") from exc
    _flush(uow, deal_id)
    deals_of(uow).record(deal, "reopened", changes, actor, now)
    uow.emit("deal.reopened", deal.id, {"deal": deal_event(deal, stage)})
    return uow.commit_once(REOPEN, idempotency_key, request, to_resource(deal, stage))


def delete_deal(uow, deal_id: str, if_match: int | None = None,
                idempotency_key: str | None = None) -> dict:
    """Gone from every list; its history stays (who deleted it, and what it was)."""
    request = {"deal_id": deal_id, "if_match": if_match}
    replayed = uow.replay(DELETE, idempotency_key, request)
    if replayed is not None:
        return replayed
    deal = _current(uow, deal_id, if_match)
    stage = Pipelines(uow.session).stages_by_id([deal.stage_id]).get(deal.stage_id)
    actor, now = uow.context.actor, utcnow()
    deals_of(uow).record(deal, "deleted", {"deal": {"before": to_resource(deal, stage),
                                                    "after": None}}, actor, now)
    uow.session.delete(deal)
    _flush(uow, deal_id)
    uow.emit("deal.deleted", deal_id, {"deal_id": deal_id, "client_id": deal.client_id,
                                       "title": deal.title})
    return uow.commit_once(DELETE, idempotency_key, request, {"id": deal_id, "deleted": True})


def deal_history(uow, deal_id: str) -> dict:
    """Every write of the deal, oldest first, and the time it spent in each stage."""
    deal = deals_of(uow).get(deal_id)
    rows = deals_of(uow).history(deal_id)
    entered = [(row["to_stage"]["id"], to_utc(row["at"])) for row in rows if row["to_stage"]]
    names = {row["to_stage"]["id"]: row["to_stage"]["name"] for row in rows
             if row["to_stage"]}
    until = to_utc(deal.closed_at) if deal.closed_at else utcnow()
    spent = time_in_stages(entered, until)
    return {"items": [{"id": row["id"], "at": rfc3339(row["at"]), "actor": row["actor"],
                       "action": row["action"], "changes": row["changes"],
                       "from_stage": row["from_stage"], "to_stage": row["to_stage"],
                       "version": row["version"]} for row in rows],
            "time_in_stages": [{"stage_id": stage_id, "stage_name": names[stage_id],
                                "seconds": round(seconds)}
                               for stage_id, seconds in spent.items()],
            "next_cursor": None}


def client_summary(uow, client_id: str) -> dict:
    """Open deals (count, value), won (all time and the last 12 months), lost, the win
    rate: per currency, as the caller may see them."""
    since = utcnow() - timedelta(days=365)
    currencies: dict = {}
    totals = {status: 0 for status in STATUSES}
    for status, currency, count, value, recent_count, recent_value in \
            deals_of(uow).client_summary(client_id, since):
        entry = currencies.setdefault(currency, {
            "currency": currency, "open": {"count": 0, "value": 0},
            "won": {"count": 0, "value": 0}, "won_last_12_months": {"count": 0, "value": 0},
            "lost": {"count": 0, "value": 0}})
        entry[status] = {"count": count, "value": int(value)}
        if status == WON:
            entry["won_last_12_months"] = {"count": int(recent_count or 0),
                                           "value": int(recent_value)}
        totals[status] += count
    for entry in currencies.values():
        for key in ("open", "won", "won_last_12_months", "lost"):
            entry[key]["value"] = money.from_minor(entry[key]["value"], entry["currency"])
    closed = totals[WON] + totals[LOST]
    return {"client_id": client_id, "open_count": totals[OPEN], "won_count": totals[WON],
            "lost_count": totals[LOST],
            "win_rate": round(totals[WON] / closed, 4) if closed else None,
            "currencies": sorted(currencies.values(), key=lambda e: e["currency"])}


def card(uow, client_id: str, limit: int = 10) -> dict:
    """The deals service's part of the client card in one call (one RPC instead of one per
    section): `{"open_deals", "closed_deals", "deal_summary"}`, as `list` (the most recently
    changed first) and `client_summary` answer them."""
    def recent(status):
        return _deal_page(uow, {"client_id": client_id, "status": status}, "-updated_at",
                          limit, None)
    open_deals, closed_deals = _with_stages(uow, [recent("open"), recent("closed")])
    return {"open_deals": open_deals, "closed_deals": closed_deals,
            "deal_summary": client_summary(uow, client_id)}


def _current(uow, deal_id: str, if_match: int | None) -> Deal:
    deal = deals_of(uow).get(deal_id)
    if if_match is not None and deal.version != if_match:
        raise PreconditionFailed(f"deal {deal_id} is at version {deal.version}, not "
                                 f"{if_match}: read it again and reapply your change")
    return deal


def _flush(uow, deal_id: str) -> None:
    with concurrent_writes(f"deal {deal_id} was changed by someone else at the same time: "
                           "read it again and reapply your change"):
        uow.session.flush()
