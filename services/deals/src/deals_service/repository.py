"""The queries of pipelines and deals, so handlers speak of deals, not of sessions."""
import uuid
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlalchemy import and_, case, func, insert, select, tuple_, update

from crm_common.access import SYSTEM, Caller
from crm_common.db import json_list_holds
from crm_common.errors import NotFound, ValidationFailed
from crm_common.pagination import MAX_LIMIT, cursor_values, values_cursor
from crm_common.text import fold

from . import money
from .domain import CLOSED, LOST, OPEN, WON, Deal, Pipeline, Stage
from .orm import deal_history, deals, lost_reasons, pipelines, stages

FAR_FUTURE = date(9999, 12, 31)
# sort name -> the column (nulls as a value, so keyset pages stay exact)
SORT_COLUMNS = {
    "created_at": deals.c.created_at, "updated_at": deals.c.updated_at,
    "title": func.lower(deals.c.title), "value": func.coalesce(deals.c.value_minor, -1),
    "expected_close_date": func.coalesce(deals.c.expected_close_date, FAR_FUTURE)}


class Pipelines:
    def __init__(self, session):
        self.session = session

    def all(self, include_archived: bool = False) -> list[Pipeline]:
        query = select(Pipeline).order_by(pipelines.c.position, pipelines.c.created_at)
        if not include_archived:
            query = query.where(pipelines.c.archived_at.is_(None))
        return list(self.session.scalars(query))

    def find(self, pipeline_id: str) -> Pipeline | None:
        return self.session.get(Pipeline, pipeline_id)

    def get(self, pipeline_id: str) -> Pipeline:
        pipeline = self.find(pipeline_id)
        if pipeline is None:
            raise NotFound(f"pipeline {pipeline_id} does not exist")
        return pipeline

    def default(self) -> Pipeline:
        pipeline = self.session.scalar(select(Pipeline).where(
            pipelines.c.is_default.is_(True)).limit(1))
        if pipeline is None:
            raise NotFound("there is no default pipeline: create one")
        return pipeline

    def stages_of(self, pipeline_id: str) -> list[Stage]:
        return list(self.session.scalars(select(Stage).where(
            stages.c.pipeline_id == pipeline_id).order_by(stages.c.position, stages.c.name)))

    def stages_by_id(self, stage_ids) -> dict[str, Stage]:
        ids = [i for i in set(stage_ids) if i]
        return {stage.id: stage for stage in self.session.scalars(
            select(Stage).where(stages.c.id.in_(ids)))} if ids else {}

    def stage(self, stage_id: str) -> Stage:
        stage = self.session.get(Stage, stage_id)
        if stage is None:
            raise NotFound(f"stage {stage_id} does not exist")
        return stage

    def deals_in(self, stage_id: str) -> int:
        return self.session.scalar(select(func.count()).select_from(deals).where(
            deals.c.stage_id == stage_id))

    def unset_default(self, but: str) -> None:
        self.session.execute(update(pipelines).where(
            pipelines.c.id != but, pipelines.c.is_default.is_(True))
            .values(is_default=False, version=pipelines.c.version + 1))

    def lost_reasons(self, include_inactive: bool = False) -> list[dict]:
        query = select(lost_reasons).order_by(lost_reasons.c.position, lost_reasons.c.label)
        if not include_inactive:
            query = query.where(lost_reasons.c.active.is_(True))
        return [dict(row._mapping) for row in self.session.execute(query)]

    def lost_reason(self, reason_id: str) -> dict:
        row = self.session.execute(select(lost_reasons).where(
            lost_reasons.c.id == reason_id)).first()
        if row is None:
            raise NotFound(f"lost reason {reason_id} does not exist")
        return dict(row._mapping)


class Deals:
    """`caller`: whom the answers are for; a deal they may not see (the record-level rule)
    is answered exactly as one that does not exist."""

    def __init__(self, session, caller: Caller = SYSTEM):
        self.session = session
        self.caller = caller

    def get(self, deal_id: str) -> Deal:
        deal = self.session.get(Deal, deal_id)
        if deal is None or not self.caller.may_see(deal.owner_id):
            raise NotFound(f"deal {deal_id} does not exist")
        return deal

    def visible(self, query):
        if self.caller.restricted:
            query = query.where(deals.c.owner_id == self.caller.user_id)
        return query

    def reindex(self, deal: Deal) -> None:
        self.session.flush()
        self.session.execute(update(deals).where(deals.c.id == deal.id).values(
            search_text=fold(f"{deal.title} {deal.client_name or ''}"))
            .execution_options(synchronize_session=False))

    def filtered(self, query, filters: dict):
        columns = deals.c
        for name in ("pipeline_id", "stage_id", "status", "owner_id", "client_id"):
            if name == "status" and filters.get(name) == CLOSED:
                query = query.where(columns.status.in_((WON, LOST)))
            elif filters.get(name) is not None:
                query = query.where(columns[name] == filters[name])
        if filters.get("expected_close_from"):
            query = query.where(columns.expected_close_date >= filters["expected_close_from"])
        if filters.get("expected_close_to"):
            query = query.where(columns.expected_close_date <= filters["expected_close_to"])
        for name, at_least in (("value_min", True), ("value_max", False)):
            if filters.get(name) is not None:  # in each deal's own currency
                bound = _in_finest_units(filters[name], at_least)
                value = columns.value_minor * _to_finest_units(columns.currency)
                query = query.where(value >= bound if at_least else value <= bound)
        for tag in filters.get("tag") or []:
            query = query.where(json_list_holds(self.session, columns.tags, tag))
        for term in fold(filters.get("q")).split()[:8]:
            query = query.where(columns.search_text.like(f"%{_escaped(term)}%", escape="\\"))
        return self.visible(query)

    def page(self, filters: dict, sort: str, limit: int, cursor: str | None, dump) -> dict:
        """A page in the order `sort` names (`-` for descending), the cursor right for it."""
        name = sort.lstrip("-")
        column, descending = SORT_COLUMNS[name], sort.startswith("-")
        limit = max(1, min(int(limit or 50), MAX_LIMIT))
        query = self.filtered(select(Deal, column.label("sort_key")), filters)
        if cursor:
            named, value, last_id = cursor_values(cursor, 3, "Not a cursor of this order.")
            if named != sort:
                raise ValidationFailed({"cursor": ["Not a cursor of this order (sort)."]})
            key = tuple_(column, deals.c.id)
            after = (_sort_value(name, value), last_id)
            query = query.where(key < after if descending else key > after)
        order = (column.desc(), deals.c.id.desc()) if descending else (column, deals.c.id)
        rows = self.session.execute(query.order_by(*order).limit(limit + 1)).all()
        next_cursor = values_cursor(sort, _cursor_text(rows[limit - 1].sort_key),
                                    rows[limit - 1][0].id) if len(rows) > limit else None
        return {"items": [dump(row[0]) for row in rows[:limit]], "next_cursor": next_cursor}

    def column_totals(self, pipeline_id: str, filters: dict) -> dict:
        """{stage id: {"count": n, "totals": {currency: (Σ value, Σ value × probability)}}}
        of the pipeline's open deals: one grouped query, exact integer sums."""
        query = self.filtered(select(
            deals.c.stage_id, deals.c.currency, func.count(),
            func.coalesce(func.sum(deals.c.value_minor), 0),
            func.coalesce(func.sum(deals.c.value_minor * deals.c.probability), 0)).where(
            deals.c.pipeline_id == pipeline_id, deals.c.status == OPEN), filters)
        columns: dict = {}
        for stage_id, currency, count, value, weighted in self.session.execute(
                query.group_by(deals.c.stage_id, deals.c.currency)):
            column = columns.setdefault(stage_id, {"count": 0, "totals": {}})
            column["count"] += count
            column["totals"][currency] = (int(value), int(weighted))
        return columns

    def client_summary(self, client_id: str, since: datetime) -> dict:
        """Per status and currency: count and Σ value of the client's deals, and of those
        won since `since`."""
        columns = deals.c
        recent = case((and_(columns.status == WON, columns.closed_at >= since), 1), else_=0)
        query = self.visible(select(
            columns.status, columns.currency, func.count(),
            func.coalesce(func.sum(columns.value_minor), 0), func.sum(recent),
            func.coalesce(func.sum(columns.value_minor * recent), 0))
            .where(columns.client_id == client_id)
            .group_by(columns.status, columns.currency))
        return [tuple(row) for row in self.session.execute(query)]

    def custom_value_taken(self, key: str, value, deal_id: str) -> bool:
        """Does another deal hold `value` in its custom field `key`?"""
        return self.session.scalar(select(deals.c.id).where(
            deals.c.custom_fields[key].as_string() == str(value), deals.c.id != deal_id)
            .limit(1)) is not None

    def in_stage(self, stage_id: str) -> list[Deal]:
        return list(self.session.scalars(select(Deal).where(deals.c.stage_id == stage_id)
                                         .order_by(deals.c.id)))

    def of_client(self, client_id: str, status: str | None = None) -> list[Deal]:
        query = select(Deal).where(deals.c.client_id == client_id)
        if status:
            query = query.where(deals.c.status == status)
        return list(self.session.scalars(query.order_by(deals.c.created_at, deals.c.id)))

    # -- history ----------------------------------------------------------------------

    def record(self, deal: Deal, action: str, changes: dict, actor, at: datetime,
               from_stage: Stage | None = None, to_stage: Stage | None = None) -> None:
        self.session.execute(insert(deal_history).values(
            id=str(uuid.uuid4()), deal_id=deal.id, at=at, actor=actor, action=action,
            changes=changes, from_stage=_stage_ref(from_stage), to_stage=_stage_ref(to_stage),
            version=deal.version))

    def history(self, deal_id: str) -> list[dict]:
        return [dict(row._mapping) for row in self.session.execute(
            select(deal_history).where(deal_history.c.deal_id == deal_id)
            .order_by(deal_history.c.at, deal_history.c.id))]


def _stage_ref(stage: Stage | None) -> dict | None:
    return {"id": stage.id, "name": stage.name} if stage else None


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


FINEST = max(money.MINOR_UNITS.values())  # decimal places every amount fits in


def _to_finest_units(currency_column):
    """What one minor unit of the row's currency is in the finest unit (10**(4 - digits))."""
    factors = {code: 10 ** (FINEST - places) for code, places in money.MINOR_UNITS.items()}
    return case(factors, value=currency_column, else_=10 ** (FINEST - 2))


def _in_finest_units(amount: str, at_least: bool) -> int:
    """A bound in the finest unit, rounded to the inclusive side (≥ 1.00005 is ≥ 1.0001)."""
    scaled = Decimal(amount).scaleb(FINEST)
    return int(scaled.to_integral_value(ROUND_CEILING if at_least else ROUND_FLOOR))


def _sort_value(name: str, text: str):
    try:
        if name in ("created_at", "updated_at"):
            return datetime.fromisoformat(text)
        if name == "expected_close_date":
            return date.fromisoformat(text)
        if name == "value":
            return int(text)
        return text
    except ValueError as exc:
        raise ValidationFailed({"cursor": ["Not a cursor of this order (sort)."]}) from exc


def _cursor_text(value) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)

