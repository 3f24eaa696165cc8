"""Use cases of pipelines, their stages, the board and the lost reasons. Every change of a
pipeline or its stages emits `pipeline.updated` with the whole pipeline."""
import uuid
from decimal import Decimal

from sqlalchemy import insert, update

from crm_common.concurrency import concurrent_writes
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.events import rfc3339, utcnow
from crm_common.fields import load

from . import money, rates
from .domain import DEFAULT_STAGES, OPEN, Pipeline, Stage
from .handlers import deal_event, deals_of, to_resource
from .orm import lost_reasons
from .repository import Deals, Pipelines
from .schemas import (DealFiltersSchema, LostReasonPatchSchema, LostReasonSchema,
                      PipelinePatchSchema, PipelineSchema, StageCreateSchema, StagePatchSchema)

BOARD_PAGE = 20  # deals per column on the first load of a board
_filters_schema = DealFiltersSchema()


def pipeline_resource(pipeline: Pipeline, stages: list[Stage]) -> dict:
    return {"id": pipeline.id, "name": pipeline.name, "position": pipeline.position,
            "is_default": pipeline.is_default,
            "archived_at": rfc3339(pipeline.archived_at) if pipeline.archived_at else None,
            "stages": [stage_resource(stage) for stage in stages],
            "created_at": rfc3339(pipeline.created_at),
            "updated_at": rfc3339(pipeline.updated_at), "version": pipeline.version}


def stage_resource(stage: Stage) -> dict:
    return {"id": stage.id, "pipeline_id": stage.pipeline_id, "name": stage.name,
            "position": stage.position, "probability": stage.probability,
            "version": stage.version}


def list_pipelines(uow, include_archived: bool = False) -> dict:
    repo = Pipelines(uow.session)
    return {"items": [pipeline_resource(p, repo.stages_of(p.id))
                      for p in repo.all(include_archived)], "next_cursor": None}


def get_pipeline(uow, pipeline_id: str) -> dict:
    repo = Pipelines(uow.session)
    return pipeline_resource(repo.get(pipeline_id), repo.stages_of(pipeline_id))


def create_pipeline(uow, payload: dict) -> dict:
    """A pipeline with its stages in order (the four basic ones unless given)."""
    data = load(PipelineSchema(), payload)
    repo, now = Pipelines(uow.session), utcnow()
    pipeline = Pipeline(id=str(uuid.uuid4()), name=data["name"].strip(),
                        position=data.get("position", len(repo.all(True))), is_default=False,
                        created_at=now, updated_at=now)
    uow.session.add(pipeline)
    given = data.get("stages") or [{"name": name, "probability": probability}
                                   for name, probability in DEFAULT_STAGES]
    _unique_names([stage["name"] for stage in given])
    for position, stage in enumerate(given):
        uow.session.add(_new_stage(pipeline.id, stage, position, now))
    return _changed(uow, pipeline, "created")


def update_pipeline(uow, pipeline_id: str, payload: dict, if_match: int | None = None) -> dict:
    data = load(PipelinePatchSchema(), payload)
    repo, now = Pipelines(uow.session), utcnow()
    pipeline = _versioned(repo.get(pipeline_id), if_match, "pipeline")
    values = {name: data[name] for name in ("name", "position") if name in data}
    if data.get("is_default"):
        if pipeline.archived_at is not None:
            raise Conflict("an archived pipeline cannot be the default")
        repo.unset_default(but=pipeline.id)
        values["is_default"] = True
    if "archived" in data:
        if data["archived"] and pipeline.is_default:
            raise Conflict("the default pipeline cannot be archived: make another one the "
                           "default first")
        values["archived_at"] = (pipeline.archived_at or now) if data["archived"] else None
    if pipeline.edit(values, now):
        return _changed(uow, pipeline, "updated")
    return get_pipeline(uow, pipeline_id)


def add_stage(uow, pipeline_id: str, payload: dict) -> dict:
    """A stage at `position` (default: last); the ones after it move one place on."""
    data = load(StageCreateSchema(), payload)
    repo, now = Pipelines(uow.session), utcnow()
    pipeline = repo.get(pipeline_id)
    stages = repo.stages_of(pipeline_id)
    _name_free(stages, data["name"])
    stage = _new_stage(pipeline_id, data, len(stages), now)
    uow.session.add(stage)
    _reorder(stages, stage, data.get("position", len(stages)), now)
    pipeline.touch(now)
    return _changed(uow, pipeline, "stage_added")


def update_stage(uow, stage_id: str, payload: dict, if_match: int | None = None) -> dict:
    """Rename, reorder, another default probability (the open deals that follow the
    stage's default take the new one)."""
    data = load(StagePatchSchema(), payload)
    repo, now = Pipelines(uow.session), utcnow()
    stage = _versioned(repo.stage(stage_id), if_match, "stage")
    stages = repo.stages_of(stage.pipeline_id)
    if "name" in data:
        _name_free([s for s in stages if s.id != stage.id], data["name"])
    changes = stage.edit({name: data[name] for name in ("name", "probability")
                          if name in data}, now)
    if "position" in data:
        _reorder([s for s in stages if s.id != stage.id], stage, data["position"], now)
    if "probability" in changes:
        _follow_default(uow, stage, now)
    pipeline = repo.get(stage.pipeline_id)
    pipeline.touch(now)
    return _changed(uow, pipeline, "stage_updated")


def delete_stage(uow, stage_id: str, move_to: str | None = None) -> dict:
    """A stage goes; its deals move to `move_to` (required while it holds any)."""
    repo, now = Pipelines(uow.session), utcnow()
    stage = repo.stage(stage_id)
    stages = repo.stages_of(stage.pipeline_id)
    if len(stages) == 1:
        raise Conflict("a pipeline keeps at least one stage")
    if repo.deals_in(stage.id):
        if not move_to:
            raise Conflict(f"stage {stage.name} holds deals: give move_to (another stage)")
        target = repo.stages_by_id([move_to]).get(move_to)
        if target is None or target.id == stage.id:
            raise ValidationFailed({"move_to": ["Another existing stage."]})
        _move_deals(uow, stage, target, now)
    uow.session.delete(stage)
    _reorder([s for s in stages if s.id != stage.id], None, None, now)
    pipeline = repo.get(stage.pipeline_id)
    pipeline.touch(now)
    return _changed(uow, pipeline, "stage_deleted", {"deleted_stage_id": stage.id})


def _move_deals(uow, stage: Stage, target: Stage, now) -> None:
    repo, actor = Deals(uow.session), uow.context.actor  # every deal moves, whoever sees it
    for deal in repo.in_stage(stage.id):
        changes = deal.move(target, stage, now)
        deal.updated_by, deal.updated_at, deal.version = actor, now, deal.version + 1
        repo.record(deal, "stage_changed", changes, actor, now, from_stage=stage,
                    to_stage=target)
        uow.emit("deal.stage_changed", deal.id, {
            "deal": deal_event(deal, target), "from_stage": {"id": stage.id,
                                                             "name": stage.name},
            "to_stage": {"id": target.id, "name": target.name}})


def _follow_default(uow, stage: Stage, now) -> None:
    """Open deals in the stage without a probability of their own take its new default,
    each a change in its history and a `deal.updated`."""
    repo, actor = Deals(uow.session), uow.context.actor
    for deal in repo.in_stage(stage.id):
        if deal.status != OPEN or deal.probability_manual or \
                deal.probability == stage.probability:
            continue
        changes = {"probability": {"before": deal.probability, "after": stage.probability}}
        deal.probability = stage.probability
        deal.updated_by, deal.updated_at, deal.version = actor, now, deal.version + 1
        repo.record(deal, "updated", changes, actor, now)
        uow.emit("deal.updated", deal.id, {"deal": deal_event(deal, stage),
                                           "changes": changes})


def board(uow, pipeline_id: str, filters: dict | None = None, stage_id: str | None = None,
          cursor: str | None = None, limit: int = BOARD_PAGE, base_currency: str | None = None,
          rates_table=None) -> dict:
    """The pipeline's open deals by stage: each column with its count, its totals per
    currency (value and weighted value, exact) and a page of its deals (most recently
    changed first); `stage_id` (+ `cursor`) pages one column. With `base_currency`, each
    column's totals also converted with the ČNB rates of `rates_table` (rates.Table)."""
    if base_currency is not None and not money.CURRENCY.match(str(base_currency)):
        raise ValidationFailed({"base_currency": ["An ISO 4217 code such as CZK or EUR."]})
    wanted = load(_filters_schema, dict(filters or {}))
    for name in ("pipeline_id", "stage_id", "status"):
        if name in wanted:
            raise ValidationFailed({name: ["The board's own: not a filter of it."]})
    repo = Pipelines(uow.session)
    pipeline = repo.get(pipeline_id)
    stages = repo.stages_of(pipeline.id)
    if stage_id and stage_id not in {stage.id for stage in stages}:
        raise NotFound(f"pipeline {pipeline_id} has no stage {stage_id}")
    repo = deals_of(uow)
    sums = repo.column_totals(pipeline.id, wanted)
    columns = []
    for stage in stages:
        if stage_id and stage.id != stage_id:
            continue
        column = sums.get(stage.id, {"count": 0, "totals": {}})
        page = repo.page(dict(wanted, stage_id=stage.id, status=OPEN), "-updated_at",
                          limit, cursor if stage_id else None,
                          lambda deal, stage=stage: to_resource(deal, stage))
        columns.append({
            "stage": stage_resource(stage), "count": column["count"],
            "totals": [{"currency": currency, "value": money.from_minor(value, currency),
                        "weighted": money.weighted(weighted, currency)}
                       for currency, (value, weighted) in sorted(column["totals"].items())],
            **({"converted": _converted(column["totals"], base_currency, rates_table)}
               if base_currency else {}),
            **page})
    return {"pipeline": pipeline_resource(pipeline, stages), "columns": columns}


def _converted(totals: dict, base: str, table) -> dict:
    """A column's totals in `base`: value and weighted value, each rounded once."""
    value = rates.convert({code: minor for code, (minor, _) in totals.items()}, base, table)
    weighted = rates.convert({code: Decimal(minor_percent) / 100 for code, (_, minor_percent)
                              in totals.items()}, base, table)
    return {**value, "weighted": weighted["value"]}


# -- lost reasons ---------------------------------------------------------------------

def list_lost_reasons(uow, include_inactive: bool = False) -> dict:
    return {"items": [_reason(row) for row in Pipelines(uow.session).lost_reasons(
        include_inactive)], "next_cursor": None}


def create_lost_reason(uow, payload: dict) -> dict:
    data = load(LostReasonSchema(), payload)
    repo = Pipelines(uow.session)
    row = {"id": str(uuid.uuid4()), "label": data["label"].strip(),
           "position": data.get("position", len(repo.lost_reasons(True))), "active": True}
    with concurrent_writes("", f"a lost reason {row['label']!r} exists already"):
        uow.session.execute(insert(lost_reasons).values(**row))
        uow.session.flush()
    uow.commit()
    return _reason(row)


def update_lost_reason(uow, reason_id: str, payload: dict) -> dict:
    data = load(LostReasonPatchSchema(), payload)
    repo = Pipelines(uow.session)
    row = repo.lost_reason(reason_id)
    if data:
        with concurrent_writes("", f"a lost reason {data.get('label')!r} exists already"):
            uow.session.execute(update(lost_reasons).where(lost_reasons.c.id == reason_id)
                                .values(**data))
            uow.session.flush()
    uow.commit()
    return _reason({**row, **data})


def _reason(row: dict) -> dict:
    return {"id": row["id"], "label": row["label"], "position": row["position"],
            "active": row["active"]}


# -- helpers --------------------------------------------------------------------------

def _new_stage(pipeline_id: str, data: dict, position: int, now) -> Stage:
    probability = data.get("probability")
    return Stage(id=str(uuid.uuid4()), pipeline_id=pipeline_id, name=data["name"].strip(),
                 position=position, probability=10 if probability is None else probability,
                 created_at=now, updated_at=now)


def _reorder(others: list[Stage], stage: Stage | None, position: int | None, now) -> None:
    """`stage` at `position` among the `others` (in their order); positions 0, 1, 2..."""
    ordered = list(others)
    if stage is not None:
        ordered.insert(min(position, len(ordered)), stage)
    for index, each in enumerate(ordered):
        if each.position != index:
            each.edit({"position": index}, now)


def _name_free(stages: list[Stage], name: str) -> None:
    if name.strip().casefold() in {stage.name.casefold() for stage in stages}:
        raise Conflict(f"name: the pipeline has a stage {name.strip()!r} already")


def _unique_names(names: list[str]) -> None:
    folded = [name.strip().casefold() for name in names]
    if len(set(folded)) != len(folded):
        raise ValidationFailed({"name": ["Stage names of one pipeline differ."]})


def _versioned(record, if_match: int | None, what: str):
    if if_match is not None and record.version != if_match:
        raise PreconditionFailed(f"{what} {record.id} is at version {record.version}, not "
                                 f"{if_match}: read it again and reapply your change")
    return record


def _changed(uow, pipeline: Pipeline, change: str, extra: dict | None = None) -> dict:
    with concurrent_writes(f"pipeline {pipeline.id} was changed by someone else at the same "
                           "time: read it again and reapply your change"):
        uow.session.flush()
    resource = pipeline_resource(pipeline, Pipelines(uow.session).stages_of(pipeline.id))
    uow.emit("pipeline.updated", pipeline.id, {"pipeline": resource, "change": change,
                                               **(extra or {})})
    uow.commit()
    return resource

