"""Reports on both databases: exact sums by stage and by month, win rates, conversion."""
from datetime import date
from decimal import Decimal

from deals_service import handlers, pipeline_handlers as pipelines, reports

CLIENT = "0b6c7a1e-0000-4000-8000-0000000000c1"


def _default(uow_factory):
    with uow_factory() as u:
        return pipelines.list_pipelines(u)["items"][0]


def _create(uow_factory, **payload):
    with uow_factory() as u:
        return handlers.create_deal(u, {"title": "D", "client_id": CLIENT, **payload})


def _move(uow_factory, deal, stage_id):
    with uow_factory() as u:
        return handlers.update_deal(u, deal["id"], {"stage_id": stage_id})


def _close(uow_factory, deal, status):
    with uow_factory() as u:
        return handlers.close_deal(u, deal["id"], status)


def test_the_pipeline_report_and_the_forecast_are_exact(uow):
    stages = _default(uow)["stages"]
    values = ["0.10", "0.20", "0.30"]
    for value in values:
        _create(uow, value=value, expected_close_date="2027-01-15",
                stage_id=stages[2]["id"])
    _create(uow, value="99.99", currency="EUR", expected_close_date="2027-02-01")
    _create(uow, value="5.00")  # no expected close date
    pipeline = _default(uow)
    with uow() as u:
        by_stage = reports.pipeline_report(u, pipeline["id"])
        months = reports.forecast(u)["months"]
    offer = by_stage["stages"][2]
    assert offer["count"] == 3
    assert offer["totals"] == [{"currency": "CZK", "value": "0.60", "weighted": "0.30"}]
    assert [m["month"] for m in months] == ["2027-01", "2027-02", "none"]
    january = months[0]["totals"][0]
    assert Decimal(january["value"]) == sum(Decimal(v) for v in values)
    assert months[1]["totals"] == [{"currency": "EUR", "value": "99.99", "weighted": "10.00"}]


def test_win_rates_by_owner_and_conversion_by_stage(uow):
    stages = _default(uow)["stages"]
    for owner, outcomes in (("anna", ["won", "won", "lost"]), ("bob", ["lost"])):
        for outcome in outcomes:
            deal = _create(uow, owner_id=owner)
            deal = _move(uow, deal, stages[2]["id"])  # through Kvalifikace, skipped
            _close(uow, deal, outcome)
    _create(uow)  # still in Nový
    pipeline = _default(uow)
    with uow() as u:
        rates = reports.win_rate(u)["items"]
        steps = reports.conversion(u, pipeline["id"])["steps"]
    assert [(r["owner_id"], r["won"], r["lost"], r["win_rate"]) for r in rates] == [
        ("anna", 2, 1, round(2 / 3, 4)), ("bob", 0, 1, 0.0)]
    assert all(r["average_days_to_close"] >= 0 for r in rates)
    assert [(s["stage"]["name"], s["reached"], s["went_on"]) for s in steps] == [
        ("Nový", 5, 4), ("Kvalifikace", 4, 4), ("Nabídka", 4, 2), ("Vyjednávání", 2, 2)]
    with uow() as u:
        assert reports.win_rate(u, closed_from=date(2099, 1, 1).isoformat())["items"] == []
