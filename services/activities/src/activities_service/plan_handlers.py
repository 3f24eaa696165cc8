"""Activity plans: the steps a rep goes through, applied to a client or a deal as tasks."""
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from crm_common.errors import NotFound, PreconditionFailed, ValidationFailed
from crm_common.events import to_utc, utcnow
from crm_common.fields import load

from . import entries
from .entries import as_json
from .entry_handlers import event_activity, resource, zone_of
from .entry_schemas import PlanSchema
from .orm import activity_plans, plan_runs
from .repository import Entries

CREATE, UPDATE, APPLY = "activities.create_plan", "activities.update_plan", \
    "activities.apply_plan"
_plan_schema = PlanSchema()
# any of the plan's fields; the steps sent are whole steps (their defaults too)
_patch_schema = PlanSchema(partial=("name", "description", "steps", "active"))


def _plan(row) -> dict:
    return {"id": row.id, "name": row.name, "description": row.description,
            "steps": row.steps, "active": row.active, "version": row.version,
            "created_at": as_json(row.created_at), "updated_at": as_json(row.updated_at)}


def _row(uow, plan_id: str):
    row = uow.session.execute(select(activity_plans).where(
        activity_plans.c.id == plan_id)).first()
    if row is None:
        raise NotFound(f"activity plan {plan_id} not found")
    return row


def list_plans(uow, include_inactive: bool = False) -> dict:
    query = select(activity_plans).order_by(activity_plans.c.name, activity_plans.c.id)
    if not include_inactive:
        query = query.where(activity_plans.c.active.is_(True))
    return {"items": [_plan(row) for row in uow.session.execute(query)]}


def get_plan(uow, plan_id: str) -> dict:
    return _plan(_row(uow, plan_id))


def create_plan(uow, payload: dict, idempotency_key: str | None = None) -> dict:
    replayed = uow.replay(CREATE, idempotency_key, payload)
    if replayed is not None:
        return replayed
    data, now = load(_plan_schema, payload), utcnow()
    values = {"id": str(uuid.uuid4()), "name": data["name"].strip(),
              "description": data.get("description"), "steps": data["steps"],
              "active": data["active"], "version": 1, "created_at": now, "updated_at": now}
    uow.session.execute(activity_plans.insert().values(**values))
    plan = _plan(_row(uow, values["id"]))
    uow.emit("activity_plan.created", plan["id"], {"plan": plan})
    return uow.commit_once(CREATE, idempotency_key, payload, plan)


def update_plan(uow, plan_id: str, payload: dict, if_match: int | None = None,
                idempotency_key: str | None = None) -> dict:
    """Rename it, change its steps, retire it (`active: false`); tasks already made from
    it stay as they are."""
    request = {"plan_id": plan_id, "changes": payload, "if_match": if_match}
    replayed = uow.replay(UPDATE, idempotency_key, request)
    if replayed is not None:
        return replayed
    data = load(_patch_schema, payload)
    row = _row(uow, plan_id)
    if if_match is not None and row.version != if_match:
        raise PreconditionFailed(f"activity plan {plan_id} is at version {row.version}, "
                                 f"not {if_match}: read it again and reapply your change")
    if "name" in data:
        data["name"] = data["name"].strip()
    changes = {name: {"before": getattr(row, name), "after": value}
               for name, value in data.items() if getattr(row, name) != value}
    if changes:
        updated = uow.session.execute(activity_plans.update().where(
            activity_plans.c.id == plan_id, activity_plans.c.version == row.version)
            .values(**data, version=row.version + 1, updated_at=utcnow()))
        if updated.rowcount != 1:
            raise PreconditionFailed(f"activity plan {plan_id} was changed at the same "
                                     "time: read it again and reapply your change")
        plan = _plan(_row(uow, plan_id))
        uow.emit("activity_plan.updated", plan_id, {"plan": plan, "changes": changes})
    else:
        plan = _plan(row)
    return uow.commit_once(UPDATE, idempotency_key, request, plan)


def apply_plan(uow, plan_id: str, client_id: str, deal_id: str | None = None,
               owner_id: str | None = None, idempotency_key: str | None = None,
               time_zone: str | None = None, now: datetime | None = None) -> dict:
    """One task per step, due `due_in_days` after today (the caller's calendar day), each
    assigned to the step's assignee: `owner` (the deal's or client's owner, given by the
    gateway; else the caller), `author` (the caller) or a user id."""
    request = {"plan_id": plan_id, "client_id": client_id, "deal_id": deal_id,
               "owner_id": owner_id}
    replayed = uow.replay(APPLY, idempotency_key, request)
    if replayed is not None:
        return replayed
    plan = _row(uow, plan_id)
    if not plan.active:
        raise ValidationFailed({"plan_id": ["This plan is retired; it cannot be applied."]})
    now, zone, actor = to_utc(now or utcnow()), zone_of(time_zone), uow.context.actor
    caller = entries.user_id_of(actor)
    today = now.astimezone(zone).date()
    run = {"id": str(uuid.uuid4()), "plan_id": plan.id, "plan_name": plan.name,
           "client_id": client_id, "deal_id": deal_id, "applied_at": now,
           "applied_by": actor}
    uow.session.execute(plan_runs.insert().values(**run))
    repo, tasks = Entries(uow.session), []
    for position, step in enumerate(plan.steps):
        assignee = {"owner": owner_id or caller, "author": caller}.get(step["assignee"],
                                                                       step["assignee"])
        task = entries.new_entry("task", {
            "title": step["title"], "body": step.get("description"),
            "deal_id": deal_id, "assignee_id": assignee,
            "priority": step.get("priority") or "normal",
            "due_date": today + timedelta(days=step["due_in_days"])},
            client_id=client_id, author=actor, now=now, zone=zone)
        task.plan_run_id = run["id"]
        task.created_at = now + timedelta(microseconds=position)  # the plan's order
        repo.add(task)
        repo.audit(task, "created", actor, now, entries.snapshot(task))
        uow.emit("activity.created", task.id, {"activity": event_activity(task)})
        tasks.append(task)
    answer = _run(run, tasks)
    uow.emit("activity_plan.applied", run["id"], {"run": {
        key: value for key, value in answer.items() if key != "tasks"},
        "task_ids": [task.id for task in tasks]})
    return uow.commit_once(APPLY, idempotency_key, request, answer)


def _run(run: dict, tasks: list) -> dict:
    done = sum(1 for task in tasks if task.status == "done")
    return {"id": run["id"], "plan_id": run["plan_id"], "plan_name": run["plan_name"],
            "client_id": run["client_id"], "deal_id": run["deal_id"],
            "applied_at": as_json(run["applied_at"]), "applied_by": run["applied_by"],
            "progress": {"done": done, "total": len(tasks)},
            "tasks": [resource(task) for task in tasks]}


def runs(uow, client_id: str | None = None, deal_id: str | None = None) -> dict:
    """The plans applied to a client (or a deal), newest first, with their progress."""
    if not client_id and not deal_id:
        raise ValidationFailed({"client_id": ["Give client_id or deal_id."]})
    query = select(plan_runs).order_by(plan_runs.c.applied_at.desc(), plan_runs.c.id)
    query = query.where(plan_runs.c.deal_id == deal_id) if deal_id else \
        query.where(plan_runs.c.client_id == client_id)
    found = [row._asdict() for row in uow.session.execute(query)]
    tasks = Entries(uow.session).of_plan_runs([run["id"] for run in found])
    return {"items": [_run(run, [task for task in tasks if task.plan_run_id == run["id"]])
                      for run in found]}
