"""Import jobs as the API shows them, and what a person may do to one: read it, page through
its rows, cancel it, revert it. The runner (runner.py) does the work.

Who sees a job: administrators and managers every job, everyone else the jobs they started
(a file may hold clients its uploader may not otherwise see)."""
from sqlalchemy import and_, select, update

from crm_common.errors import Conflict, NotFound, ValidationFailed
from crm_common.events import rfc3339, utcnow
from crm_common.pagination import cursor_values, newest_first, values_cursor

from .orm import jobs, rows

COUNTS = ("created", "updated", "unchanged", "skipped", "failed")
ROW_STATUSES = COUNTS
FINISHED = frozenset({"completed", "failed", "cancelled", "reverted"})
MAX_PAGE = 500


def to_resource(row) -> dict:
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    table = data.get("table") or {}
    error = data.get("error")
    return {
        "id": data["id"], "status": data["status"], "version": data["version"],
        "mode": data["mode"], "dry_run": data["dry_run"],
        "file": {"name": data["file_name"], "size": data["file_size"],
                 "sha256": data["sha256"],
                 "removed_at": rfc3339(data["file_removed_at"])
                 if data.get("file_removed_at") else None},
        "format": table.get("format"), "encoding": table.get("encoding"),
        "delimiter": table.get("delimiter"), "sheet": table.get("sheet"),
        "sheets": table.get("sheets", []), "header_row": table.get("header_row"),
        "headers": table.get("headers", []), "mapping": data.get("mapping"),
        "template_id": (data.get("options") or {}).get("template_id"),
        "rows_total": data.get("rows_total"), "rows_done": data["rows_done"],
        "counts": {key: (data["counts"] or {}).get(key, 0) for key in COUNTS},
        "preview": data.get("preview"),
        "error": {"code": error["code"], "message_cs": error["cs"],
                  "message_en": error["en"]} if error else None,
        "revert": data.get("revert"), "cancel_requested": data["cancel_requested"],
        "created_by": data.get("actor"),
        "created_at": rfc3339(data["created_at"]), "updated_at": rfc3339(data["updated_at"]),
        "started_at": rfc3339(data["started_at"]) if data.get("started_at") else None,
        "finished_at": rfc3339(data["finished_at"]) if data.get("finished_at") else None,
    }


def _visible(uow):
    caller = uow.context.caller
    if caller.oversees:
        return jobs.c.status != "uploading"
    return and_(jobs.c.status != "uploading", jobs.c.caller_id == caller.user_id)


def _job(uow, job_id: str, lock: bool = False):
    query = select(jobs).where(jobs.c.id == job_id, _visible(uow))
    row = uow.session.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"import {job_id} not found")
    return row


def get(uow, job_id: str) -> dict:
    return to_resource(_job(uow, job_id))


def list_jobs(uow, limit: int = 50, cursor: str | None = None, status: str | None = None
              ) -> dict:
    """Newest first."""
    query = select(jobs).where(_visible(uow))
    if status:
        query = query.where(jobs.c.status == status)
    return newest_first(uow.session, query, jobs.c.created_at, jobs.c.id, limit, cursor,
                        dump=to_resource, key=lambda row: (row.created_at, row.id),
                        rows=lambda q: uow.session.execute(q).all())


def row_results(uow, job_id: str, status: str | None = None, limit: int = 50,
                cursor: str | None = None) -> dict:
    """The job's rows in file order, with what happened to each."""
    job = _job(uow, job_id)
    limit = max(1, min(int(limit or 50), MAX_PAGE))
    query = select(rows).where(rows.c.job_id == job_id)
    if status:
        query = query.where(rows.c.status == status)
    if cursor:
        (after,) = cursor_values(cursor, 1)
        if not (after.isascii() and after.isdigit()) or len(after) > 9:
            raise ValidationFailed({"cursor": ["Not a valid cursor."]})
        query = query.where(rows.c.row > int(after))
    found = uow.session.execute(query.order_by(rows.c.row).limit(limit + 1)).all()
    more = len(found) > limit
    return {"items": [_row_resource(row) for row in found[:limit]],
            "headers": (job.table or {}).get("headers", []),
            "next_cursor": values_cursor(str(found[limit - 1].row)) if more else None}


def _row_resource(row) -> dict:
    return {"row": row.row, "status": row.status, "client_id": row.client_id,
            "reason": row.reason, "errors": row.errors or [], "values": row.values}


def cancel(uow, job_id: str) -> dict:
    """A queued job is cancelled at once; a running one after the batch it is in (what is
    committed stays, and can be reverted)."""
    row = _job(uow, job_id, lock=True)
    now = utcnow()
    if row.status == "queued":
        values = {"status": "cancelled", "finished_at": now}
        if not row.dry_run:
            uow.emit("import.cancelled", job_id, event_data(row, **values))
    elif row.status == "running":
        values = {"cancel_requested": True}
    else:
        raise Conflict(f"import {job_id} is {row.status}: only a queued or running import "
                       "can be cancelled", {"status": row.status})
    return _change(uow, row, values, now)


def request_revert(uow, job_id: str) -> dict:
    """Undo: the runner archives the clients the import created that nobody changed since
    and lists the ones it updated (their changes stay: they are in each client's history)."""
    row = _job(uow, job_id, lock=True)
    if row.dry_run:
        raise Conflict(f"import {job_id} was a dry run: it wrote nothing to revert",
                       {"status": row.status})
    if row.status not in ("completed", "cancelled", "failed"):
        raise Conflict(f"import {job_id} is {row.status}: only a finished import can be "
                       "reverted", {"status": row.status})
    # a job that failed as stalled can still be undone: the undo counts its own takeovers
    return _change(uow, row, {"status": "reverting", "lease_until": None, "runner": None,
                              "takeovers": 0}, utcnow())


def _change(uow, row, values: dict, now) -> dict:
    values = {**values, "updated_at": now, "version": row.version + 1}
    uow.session.execute(update(jobs).where(jobs.c.id == row.id).values(**values))
    uow.commit()
    return to_resource({**row._mapping, **values})


def event_data(row, **values) -> dict:
    """The job as its events carry it: a contract of its own, not the REST resource."""
    data = {**row._mapping, **values}
    return {"import_id": data["id"], "file_name": data["file_name"], "mode": data["mode"],
            "status": data["status"], "rows_total": data.get("rows_total"),
            "rows_done": data["rows_done"],
            "counts": {key: (data["counts"] or {}).get(key, 0) for key in COUNTS}}
