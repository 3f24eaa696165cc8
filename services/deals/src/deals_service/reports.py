"""Reports over deals: the pipeline by stage, the forecast by month, win rates, stage to
stage conversion. Amounts stay exact (sums of minor units); each report sees what the
caller may see (the record-level rule)."""
from collections import defaultdict
from datetime import date

from sqlalchemy import select

from crm_common.errors import ValidationFailed
from crm_common.events import to_utc
from crm_common.fields import load

from . import money
from .domain import LOST, OPEN, WON
from .handlers import deals_of
from .orm import deal_history, deals
from .pipeline_handlers import stage_resource
from .repository import Pipelines
from .schemas import DealFiltersSchema

_filters_schema = DealFiltersSchema()
NO_DATE = "none"  # the forecast's month of open deals without an expected close date


def _totals(rows) -> list[dict]:
    """[(currency, Σ value minor, Σ value × probability)] -> exact amounts per currency."""
    return [{"currency": currency, "value": money.from_minor(int(value), currency),
             "weighted": money.weighted(int(weighted), currency)}
            for currency, value, weighted in sorted(rows)]


def pipeline_report(uow, pipeline_id: str, filters: dict | None = None) -> dict:
    """Open deals by stage: count, value and weighted value per currency."""
    wanted = load(_filters_schema, dict(filters or {}))
    pipelines = Pipelines(uow.session)
    pipeline, stages = pipelines.get(pipeline_id), pipelines.stages_of(pipeline_id)
    columns = deals_of(uow).column_totals(pipeline.id, wanted)
    return {"pipeline_id": pipeline.id, "stages": [
        {"stage": stage_resource(stage), "count": columns.get(stage.id, {}).get("count", 0),
         "totals": _totals((currency, value, weighted) for currency, (value, weighted) in
                           columns.get(stage.id, {}).get("totals", {}).items())}
        for stage in stages]}


def forecast(uow, filters: dict | None = None) -> dict:
    """Open deals' weighted value by the month they are expected to close."""
    wanted = load(_filters_schema, dict(filters or {}))
    repo = deals_of(uow)
    query = repo.filtered(select(deals.c.expected_close_date, deals.c.currency,
                                 deals.c.value_minor, deals.c.probability)
                          .where(deals.c.status == OPEN, deals.c.value_minor.isnot(None)),
                          wanted)
    months: dict = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for close_date, currency, value, probability in uow.session.execute(query):
        month = close_date.strftime("%Y-%m") if close_date else NO_DATE
        entry = months[month][currency]
        entry[0] += 1
        entry[1] += value
        entry[2] += value * probability
    return {"months": [
        {"month": month, "count": sum(e[0] for e in months[month].values()),
         "totals": _totals((currency, e[1], e[2]) for currency, e in months[month].items())}
        for month in sorted(months, key=lambda m: (m == NO_DATE, m))]}


def win_rate(uow, closed_from: str | None = None, closed_to: str | None = None,
             pipeline_id: str | None = None) -> dict:
    """Closed deals by owner and pipeline: won, lost, win rate, average days to close."""
    closed_from, closed_to = checked_dates(closed_from, closed_to)
    query = deals_of(uow).visible(select(
        deals.c.owner_id, deals.c.pipeline_id, deals.c.status, deals.c.created_at,
        deals.c.closed_at).where(deals.c.status.in_((WON, LOST))))
    if pipeline_id:
        query = query.where(deals.c.pipeline_id == pipeline_id)
    groups: dict = defaultdict(lambda: {"won": 0, "lost": 0, "days": []})
    for owner_id, deal_pipeline, status, created_at, closed_at in uow.session.execute(query):
        closed = to_utc(closed_at)
        if (closed_from and closed.date() < closed_from) or \
                (closed_to and closed.date() > closed_to):
            continue
        group = groups[(owner_id, deal_pipeline)]
        group[status] += 1
        group["days"].append((closed - to_utc(created_at)).total_seconds() / 86400)
    return {"items": [
        {"owner_id": owner_id, "pipeline_id": deal_pipeline, "won": group["won"],
         "lost": group["lost"], "win_rate": round(group["won"] / (group["won"] + group["lost"]),
                                                  4),
         "average_days_to_close": round(sum(group["days"]) / len(group["days"]), 1)}
        for (owner_id, deal_pipeline), group in sorted(
            groups.items(), key=lambda item: (item[0][0] or "", item[0][1]))]}


def conversion(uow, pipeline_id: str) -> dict:
    """How many of the deals that reached each stage went on to the next one (a deal
    that skipped a stage passed through it), and to won."""
    pipelines = Pipelines(uow.session)
    pipelines.get(pipeline_id)
    stages = pipelines.stages_of(pipeline_id)
    position = {stage.id: index for index, stage in enumerate(stages)}
    repo = deals_of(uow)
    visible = repo.visible(select(deals.c.id, deals.c.stage_id, deals.c.status).where(
        deals.c.pipeline_id == pipeline_id))
    furthest, won = {}, set()
    for deal_id, stage_id, status in uow.session.execute(visible):
        furthest[deal_id] = position.get(stage_id, -1)
        if status == WON:
            won.add(deal_id)
    if furthest:
        for deal_id, to_stage in uow.session.execute(select(
                deal_history.c.deal_id, deal_history.c.to_stage).where(
                deal_history.c.deal_id.in_(list(furthest)),
                deal_history.c.to_stage.isnot(None))):
            reached = position.get((to_stage or {}).get("id"), -1)
            furthest[deal_id] = max(furthest[deal_id], reached)
    last = len(stages) - 1
    reached = [sum(1 for deal_id, f in furthest.items() if f >= index or deal_id in won)
               for index in range(len(stages))]
    steps = []
    for index, stage in enumerate(stages):
        onward = reached[index + 1] if index < last else len(won)
        steps.append({"stage": stage_resource(stage), "reached": reached[index],
                      "went_on": onward, "to": stages[index + 1].name if index < last
                      else "won", "rate": round(onward / reached[index], 4)
                      if reached[index] else None})
    return {"pipeline_id": pipeline_id, "deals": len(furthest), "won": len(won),
            "steps": steps}


def checked_dates(closed_from, closed_to) -> tuple[date | None, date | None]:
    try:
        return tuple(date.fromisoformat(v) if v else None for v in (closed_from, closed_to))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed({"closed_from": ["Dates as YYYY-MM-DD."]}) from exc

