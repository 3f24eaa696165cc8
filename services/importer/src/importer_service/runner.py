"""Runs import jobs: claims one (a lease, so replicas never run one job twice), reads the file,
maps and normalises each row, and sends the rows in batches to the clients service.

Each batch's row results, the job's counters and the file row it reached (`last_row`) commit
together, after the clients service has answered. A runner killed mid-job leaves a lease
that runs out; the next claim goes on after `last_row`, and a batch the clients service had
already written answers the same from its per-row idempotency keys: every row exactly once.
"""
import logging
import math
import uuid
from datetime import timedelta
from itertools import islice

import eventlet
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from crm_common.config import env_float
from crm_common.errors import CrmError, OutcomeUnknown, ServiceUnavailable
from crm_common.events import to_utc, utcnow
from crm_common.rpc import RemoteError

from . import mapping as columns
from . import reading, storage, values
from .clients_port import ClientsPort, ClientsUnavailable
from .jobs import COUNTS, event_data
from .orm import jobs, rows

log = logging.getLogger(__name__)
PREVIEW_ROWS = 20
REVERT_BATCH = 1000
KEPT_LISTED = 1000
PROGRESS_EVERY = timedelta(seconds=1)
# a client is named by one of these (or, in update mode, found by its e-mail)
NAMING = frozenset({"name", "ico", "full_name", "first_name", "last_name"})


def lease() -> timedelta:
    return timedelta(seconds=env_float("IMPORTER_LEASE_SECONDS", 60))


def max_takeovers() -> int:
    return int(env_float("IMPORTER_MAX_TAKEOVERS", 3))


def batch_rows() -> int:
    return int(env_float("IMPORTER_BATCH_ROWS", 500))


class Failed(Exception):
    """The job cannot go on: `error` is {code, cs, en} for the user."""

    def __init__(self, code: str, cs: str, en: str):
        super().__init__(en)
        self.error = {"code": code, "cs": cs, "en": en}


def claim(uow, runner: str):
    """The oldest job waiting (or whose runner's lease ran out), now held by `runner`.

    A job whose runner still held it when its lease ran out was taken over from a runner
    that died or hung; once that has happened IMPORTER_MAX_TAKEOVERS times in a row without
    a batch committed in between, the file is what stops it, and the job fails."""
    while True:
        now = utcnow()
        waiting = or_(jobs.c.status == "queued",
                      and_(jobs.c.status.in_(("running", "reverting")),
                           or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now)))
        row = uow.session.execute(select(jobs).where(waiting).order_by(jobs.c.created_at)
                                  .limit(1)).first()
        if row is None:
            return None
        takeovers = row.takeovers + (1 if row.status != "queued" and row.runner else 0)
        if takeovers > max_takeovers():
            if _fail_stalled(uow, row, now):
                continue
            return None
        status = "running" if row.status == "queued" else row.status
        taken = uow.session.execute(update(jobs).where(
            jobs.c.id == row.id, jobs.c.version == row.version).values(
            status=status, runner=runner, lease_until=now + lease(), version=row.version + 1,
            takeovers=takeovers, started_at=row.started_at or now, updated_at=now)).rowcount
        if taken != 1:  # another replica was quicker
            uow.rollback()
            return None
        if takeovers:
            log.warning("import %s taken over from runner %s (%s in a row)", row.id,
                        row.runner, takeovers)
        if row.status == "queued" and not row.dry_run:
            uow.emit("import.started", row.id, event_data(row, status="running"))
        uow.commit()
        return uow.session.execute(select(jobs).where(jobs.c.id == row.id)).first()


def _fail_stalled(uow, row, now) -> bool:
    """Fails a job its runners keep dying on; False when another replica changed it first."""
    error = {"code": "stalled",
             "cs": f"Import se zastavil: zpracování souboru {row.takeovers + 1}krát po sobě "
                   "skončilo pádem nebo zamrznutím služby importu. Soubor je možná poškozený "
                   "nebo příliš složitý; uložte ho znovu (například jako CSV) nebo ho "
                   "rozdělte.",
             "en": f"The import stopped: reading the file brought the importer down or hung "
                   f"it {row.takeovers + 1} times in a row. The file may be damaged or too "
                   "complex; save it again (as CSV, for example) or split it."}
    changes = {"status": "failed", "error": error, "runner": None, "lease_until": None,
               "finished_at": now, "updated_at": now, "cancel_requested": False,
               "takeovers": row.takeovers + 1}
    failed = uow.session.execute(update(jobs).where(
        jobs.c.id == row.id, jobs.c.version == row.version).values(
        **changes, version=row.version + 1)).rowcount
    if failed != 1:
        uow.rollback()
        return False
    log.error("import %s failed: its runners stopped %s times in a row", row.id,
              row.takeovers + 1)
    if not row.dry_run:
        data = event_data(row, **changes)
        data["error"] = error
        uow.emit("import.failed", row.id, data)
    uow.commit()
    return True


class JobRun:
    """One runner's turn at one job (`units()` opens a unit of work per step)."""

    def __init__(self, units, job, clients: ClientsPort, runner: str):
        self.units, self.job, self.clients, self.runner = units, job, clients, runner
        self.id = job.id

    def run(self) -> None:
        try:
            if self.job.status == "reverting":
                self._revert()
            else:
                self._import()
        except Failed as exc:
            self._finish("failed", "import.failed", error=exc.error)
        except storage.Missing:
            self._finish("failed", "import.failed", error={
                "code": "file_missing", "cs": "Soubor importu už není uložen.",
                "en": "The import's file is no longer stored."})
        except reading.Refused as exc:  # found while reading on (an unclosed quote...)
            self._finish("failed", "import.failed",
                         error={"code": exc.code, "cs": exc.cs, "en": exc.en})
        except (ClientsUnavailable, _Wait, ServiceUnavailable, OutcomeUnknown) as exc:
            # the lease runs out and the job goes on later, after its last committed batch;
            # let go of it, so the next claim is not taken for a takeover from a dead runner
            log.warning("import %s waits: %s", self.id, exc)
            self._let_go()
        except _Lost:
            log.warning("import %s: another runner holds it now", self.id)
        except (RemoteError, CrmError) as exc:
            log.error("import %s failed: %s", self.id, exc)
            self._finish("failed", "import.failed", error={
                "code": "rejected", "cs": f"Služba klientů import odmítla: {exc}",
                "en": f"The clients service refused the import: {exc}"})
        except Exception:  # noqa: BLE001 - a bug: the job says so instead of hanging
            log.exception("import %s failed", self.id)
            self._finish("failed", "import.failed", error={
                "code": "internal", "cs": "Import selhal chybou systému; správce ji najde "
                                          "v záznamech služby importu.",
                "en": "The import failed with an internal error; operators find it in the "
                      "importer's logs."})

    # -- import ---------------------------------------------------------------------------

    def _import(self) -> None:
        job = self.job
        options = dict(job.options or {})
        if job.mapping:  # a resumed job goes on with the mapping it started with
            options["mapping"] = job.mapping
        custom_fields = self.clients.custom_fields()
        with storage.local_file(storage.for_kind(job.storage), job.storage_key) as path:
            if not path.exists():
                raise storage.Missing(job.storage_key)
            table = reading.open_table(path, job.file_name, sheet=options.get("sheet"),
                                       known_headings=custom_fields)
            by_index = self._mapping(table.headers, options.get("mapping"), custom_fields)
            if job.table is None:
                self._describe(table, by_index)
            headers = table.headers
            seen = self._seen_keys()
            numbered = table.rows(start_after=job.last_row)

            def build(batch):
                return [values.build_row(number, cells, headers, by_index, custom_fields,
                                         job.users) for number, cells in batch]
            batch = list(islice(numbered, batch_rows()))
            built = build(batch)
            while batch:
                if self._cancel_requested():
                    self._finish("cancelled", "import.cancelled")
                    return
                # the next batch is built while the clients service writes this one: a green
                # thread that runs while this one waits for the answer. Only the building
                # overlaps; which rows repeat an earlier one (`seen`) is decided after the
                # answer, since a failed row frees its IČO and e-mail for later rows.
                following = list(islice(numbered, batch_rows()))
                building = eventlet.spawn(build, following)
                try:
                    self._record(built, batch, headers, by_index, seen)
                except BaseException:
                    building.kill()
                    raise
                batch, built = following, building.wait()
        self._finish("completed", "import.completed")

    def _mapping(self, headers: list[str], asked: dict | None, custom_fields) -> dict:
        """{column index: target} from what the job (or its template) says, else guessed
        from the headings."""
        if asked:
            unknown = sorted({h for h, target in asked.items() if target} - set(headers))
            if unknown:
                raise Failed("mapping", f"Mapování jmenuje sloupce, které soubor nemá: "
                             f"{', '.join(unknown)}.",
                             f"The mapping names columns the file does not have: "
                             f"{', '.join(unknown)}.")
            by_index = {str(i): asked[h] for i, h in enumerate(headers) if asked.get(h)}
        else:
            by_index = columns.suggest(headers, custom_fields)
        naming = NAMING | ({"email"} if self.job.mode == "update" else set())
        if not naming & set(by_index.values()):
            found = ", ".join(headers[:20])
            raise Failed("no_client_columns",
                         "Žádný sloupec souboru neobsahuje název klienta ani IČO (nalezené "
                         f"sloupce: {found}). Zkontrolujte soubor nebo mapování sloupců.",
                         "No column of the file holds a client's name or IČO (columns "
                         f"found: {found}). Check the file or the column mapping.")
        problems = columns.check(by_index, headers, custom_fields)
        if problems:
            text = "; ".join(f"{key}: {' '.join(messages)}" for key, messages in
                             problems.items())
            raise Failed("mapping", f"Mapování sloupců nejde použít: {text}",
                         f"The column mapping cannot be used: {text}")
        return by_index

    def _describe(self, table, by_index: dict) -> None:
        """What was found in the file, once, before the first batch."""
        described = {"format": table.format, "encoding": table.encoding,
                     "delimiter": table.delimiter, "sheet": table.sheet,
                     "sheets": table.sheets, "header_row": table.header_row,
                     "headers": table.headers}
        mapped = {table.headers[int(i)]: target for i, target in by_index.items()}
        self.renew()  # opening a big workbook took a while; counting reads it once more
        total = table.count_rows()
        with self.units() as uow:
            self._held(uow, table=described, mapping=mapped, rows_total=total)
            uow.commit()

    def _seen_keys(self) -> dict:
        """The IČOs and e-mails of rows already done (a resumed job), for in-file duplicates."""
        seen = {}
        with self.units() as uow:
            for row in uow.session.execute(select(rows.c.row, rows.c.ico, rows.c.email).where(
                    rows.c.job_id == self.id, rows.c.status != "failed")):
                if row.ico:
                    seen.setdefault(("ico", row.ico), row.row)
                elif row.email:
                    seen.setdefault(("email", row.email), row.row)
        return seen

    def _record(self, built, batch, headers, by_index, seen) -> None:
        results, to_send = {}, []
        for row in built:
            key = _key(row)
            if row.problems:
                results[row.number] = {"status": "failed", "errors": [
                    {"column": p.column, "field": p.field, "message": p.message}
                    for p in row.problems]}
            elif key and key in seen:
                label = "IČO" if key[0] == "ico" else "e-mail"
                results[row.number] = {"status": "skipped", "reason": "duplicate_in_file",
                                       "errors": [{"column": None, "field": key[0],
                                                   "message": f"The same {label} as row "
                                                              f"{seen[key]}."}]}
            else:
                if key:
                    seen[key] = row.number
                to_send.append(row)
        if to_send:
            self.renew()
            answered = self.clients.import_batch(
                self.id, self.job.mode,
                [{"row": r.number, "client": r.client, "contact": r.contact} for r in to_send],
                self.job.dry_run)
            fields = _columns_of_fields(headers, by_index)
            claimed = {row.number: _key(row) for row in to_send}
            for result in answered:
                if result["status"] == "failed" and claimed.get(result["row"]) and \
                        seen.get(claimed[result["row"]]) == result["row"]:
                    del seen[claimed[result["row"]]]  # a later, correct copy may go in
                results[result["row"]] = {
                    **result, "errors": [{"column": _column_of(fields, e.get("field")), **e}
                                         for e in result.get("errors") or []]}
        try:
            self._commit_batch(built, batch, results)
        except SQLAlchemyError as exc:
            # the clients service has the batch; a resumed run is answered it again
            raise _Wait(f"the batch's results could not be committed: {exc}") from exc

    def _commit_batch(self, built, batch, results) -> None:
        cells = {number: values_ for number, values_ in batch}
        counts, stored, preview = dict.fromkeys(COUNTS, 0), [], []
        for row in built:
            result = results[row.number]
            status = result["status"]
            counts[status] += 1
            keep_values = status in ("failed", "skipped")
            stored.append({
                "job_id": self.id, "row": row.number, "status": status,
                "client_id": result.get("client_id"), "reason": result.get("reason"),
                "errors": result.get("errors") or None,
                "values": [_json_cell(c) for c in cells[row.number]] if keep_values else None,
                "ico": row.keys.get("ico"), "email": row.keys.get("email")})
            if self.job.dry_run and result.get("client") is not None:
                preview.append({"row": row.number, "status": status,
                                "client": result["client"]})
        with self.units() as uow:
            job = uow.session.execute(select(jobs).where(jobs.c.id == self.id)).first()
            self._held(uow)  # still this runner's (else _Lost, before any row is written)
            uow.session.execute(rows.insert(), stored)
            now = utcnow()
            changes = {"rows_done": job.rows_done + len(built), "last_row": built[-1].number,
                       "counts": {k: job.counts.get(k, 0) + counts[k] for k in COUNTS},
                       "takeovers": 0}
            if self.job.dry_run and len(job.preview or []) < PREVIEW_ROWS:
                changes["preview"] = ((job.preview or []) + preview)[:PREVIEW_ROWS]
            if not self.job.dry_run and (job.progress_at is None or
                                         now - to_utc(job.progress_at) >= PROGRESS_EVERY):
                changes["progress_at"] = now
                uow.emit("import.progress", self.id, event_data(job, **changes))
            self._held(uow, **changes)
            uow.commit()

    def renew(self) -> None:
        """The lease again from now (before a clients call that may take a while)."""
        with self.units() as uow:
            self._held(uow)
            uow.commit()

    def _cancel_requested(self) -> bool:
        with self.units() as uow:
            return bool(uow.session.execute(select(jobs.c.cancel_requested).where(
                jobs.c.id == self.id)).scalar())

    # -- revert ---------------------------------------------------------------------------

    def _revert(self) -> None:
        done = dict(self.job.revert or {})
        archived, kept = done.get("archived", 0), list(done.get("kept", []))
        after = done.get("after_row", 0)
        while True:
            with self.units() as uow:
                chunk = uow.session.execute(
                    select(rows.c.row, rows.c.client_id).where(
                        rows.c.job_id == self.id, rows.c.status == "created",
                        rows.c.row > after).order_by(rows.c.row).limit(REVERT_BATCH)).all()
            if not chunk:
                break
            answer = self.clients.revert_import(self.id, [r.client_id for r in chunk])
            archived += len(answer.get("archived", []))
            kept = (kept + [k for k in answer.get("kept", [])
                            if k.get("reason") != "already_archived"])[:KEPT_LISTED]
            after = chunk[-1].row
            with self.units() as uow:
                self._held(uow, revert={"archived": archived, "kept": kept,
                                        "after_row": after}, takeovers=0)
                uow.commit()
        with self.units() as uow:
            updated = uow.session.execute(select(rows.c.client_id).where(
                rows.c.job_id == self.id, rows.c.status == "updated")
                .order_by(rows.c.row).limit(KEPT_LISTED)).scalars().all()
        summary = {"archived": archived, "kept": kept, "updated": updated,
                   "updated_count": self.job.counts.get("updated", 0)}
        self._finish("reverted", "import.reverted", revert=summary)

    # -- the job row ----------------------------------------------------------------------

    def _held(self, uow, **values) -> None:
        """Writes to the job while this runner holds it; renews the lease."""
        now = utcnow()
        changed = uow.session.execute(update(jobs).where(
            jobs.c.id == self.id, jobs.c.runner == self.runner).values(
            **values, lease_until=now + lease(), updated_at=now,
            version=jobs.c.version + 1)).rowcount
        if changed != 1:
            uow.rollback()
            raise _Lost()

    def _let_go(self) -> None:
        """No longer this runner's; the lease still keeps others off until it runs out."""
        try:
            with self.units() as uow:
                uow.session.execute(update(jobs).where(
                    jobs.c.id == self.id, jobs.c.runner == self.runner).values(
                    runner=None, version=jobs.c.version + 1))
                uow.commit()
        except (SQLAlchemyError, ServiceUnavailable, OutcomeUnknown) as exc:
            # the database is what it waits for: this wait is counted as a takeover
            log.warning("import %s: could not let go of it: %s", self.id, exc)

    def _finish(self, status: str, event_type: str, **values) -> None:
        with self.units() as uow:
            job = uow.session.execute(select(jobs).where(jobs.c.id == self.id)).first()
            changes = {"status": status, "finished_at": utcnow(), "runner": None,
                       "cancel_requested": False, "takeovers": 0, **values}
            try:
                self._held(uow, **changes)
            except _Lost:
                return
            if not job.dry_run:
                data = event_data(job, **changes)
                if status == "failed":
                    data["error"] = values["error"]
                if status == "reverted":
                    data["archived"] = values["revert"]["archived"]
                uow.emit(event_type, self.id, data)
            uow.commit()


class _Wait(Exception):
    """Nothing lost, nothing to fail: the job goes on at its next claim."""


class _Lost(Exception):
    """Another runner took the job over (this one's lease ran out)."""


def _key(row) -> tuple | None:
    """Rows of one file are the same client by IČO, else (without an IČO) by e-mail: the
    rule the clients service matches existing clients by."""
    if row.keys.get("ico"):
        return ("ico", row.keys["ico"])
    if row.keys.get("email"):
        return ("email", row.keys["email"])
    return None


# where the clients service's error fields come from, for targets not named as the field
FIELD_OF_TARGET = {"street": "registered_address.street", "city": "registered_address.city",
                   "postal_code": "registered_address.postal_code",
                   "country": "registered_address.country_code", "owner": "owner_id",
                   "first_name": "name", "last_name": "name", "full_name": "name",
                   "contact_name": "contact", "contact_email": "contact.emails",
                   "contact_phone": "contact.phones", "contact_position": "contact.position"}


def _columns_of_fields(headers, by_index: dict) -> dict:
    """{client field path: the heading of the column it came from}."""
    found = {}
    for index, target in by_index.items():
        field = "custom_fields." + target[3:] if target.startswith("cf.") else \
            FIELD_OF_TARGET.get(target, target)
        found.setdefault(field, headers[int(index)])
    return found


def _column_of(fields: dict, field) -> str | None:
    """The column of `a.b.c`, else of `a.b`, else of `a`."""
    parts = field.split(".") if isinstance(field, str) else []
    while parts:
        if ".".join(parts) in fields:
            return fields[".".join(parts)]
        parts.pop()
    return None


def _json_cell(cell):
    if isinstance(cell, float) and not math.isfinite(cell):
        return str(cell)  # JSON has no NaN or infinity (PostgreSQL refuses them)
    if cell is None or isinstance(cell, (str, int, float, bool)):
        return cell
    return cell.isoformat() if hasattr(cell, "isoformat") else str(cell)


def new_runner_id() -> str:
    return str(uuid.uuid4())
