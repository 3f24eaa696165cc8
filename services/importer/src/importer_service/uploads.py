"""An import file on its way in, a piece at a time (the gateway never holds the whole file):
`begin` makes an `uploading` job row, `write_piece` keeps each piece (named by its offset, so
a redelivered piece replaces itself), `finish` joins them, checks the size and SHA-256 the
gateway counted, validates the job's options and queues the job."""
import hashlib
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from crm_common.config import env_float
from crm_common.errors import NotFound, PayloadTooLarge, ValidationFailed
from crm_common.events import utcnow
from crm_common.storage import decoded_piece
from crm_common.text import MAX_FILE_NAME, safe_file_name

from . import storage
from .jobs import COUNTS, to_resource
from .orm import jobs
from .schemas import load_options
from .templates import mapping_of

START = "import.start"
MAX_PIECE = 1024 * 1024
STALE_UPLOAD_SECONDS = 3600


def max_bytes() -> int:
    """IMPORT_MAX_BYTES (default 50 MB): the gateway refuses more with a 413 too."""
    return int(env_float("IMPORT_MAX_BYTES", 50 * 1000 * 1000))


def begin(uow, file_name, idempotency_key: str | None = None, *, store=None) -> dict:
    """{"id"} of a new upload, or {"job"}: the answer the Idempotency-Key already had."""
    store = store or storage.configured()
    replayed = uow.replay(START, idempotency_key, {"file_name": file_name})
    if replayed is not None:
        return {"job": replayed}
    name = safe_file_name(file_name) if isinstance(file_name, str) else ""
    if not name or len(name) > MAX_FILE_NAME:
        raise ValidationFailed({"file": [f"A file name of 1 to {MAX_FILE_NAME} characters."]})
    now, job_id = utcnow(), str(uuid.uuid4())
    _remove_stale(uow, now, store)
    caller = uow.context.caller
    uow.session.execute(jobs.insert().values(
        id=job_id, status="uploading", version=1, mode="create", dry_run=False,
        file_name=name, file_size=0, sha256="", storage=store.kind,
        storage_key=storage.key_for(job_id), options={}, users=[], rows_done=0, last_row=0,
        counts=dict.fromkeys(COUNTS, 0), cancel_requested=False, actor=uow.context.actor,
        caller=caller.to_context(), caller_id=caller.user_id,
        correlation_id=uow.context.correlation_id, created_at=now, updated_at=now))
    uow.commit()
    return {"id": job_id, "max_bytes": max_bytes()}


def write_piece(uow, job_id: str, offset, data, *, store=None) -> dict:
    row = _own_upload(uow, job_id)
    uow.rollback()  # no transaction held while the bytes are written
    piece = decoded_piece(offset, data, MAX_PIECE, max_bytes())
    (store or storage.for_kind(row.storage)).put_part(row.storage_key, offset, piece)
    return {"received": offset + len(piece)}


def finish(uow, job_id: str, size, sha256, options, idempotency_key: str | None = None, *,
           store=None) -> dict:
    """The queued job. Options that do not validate leave nothing behind (a 422 and the
    bytes dropped): the user sends the file again with the options corrected."""
    row = _own_upload(uow, job_id, lock=True)
    replayed = uow.replay(START, idempotency_key, {"file_name": row.file_name})
    if replayed is not None:
        return replayed
    store = store or storage.for_kind(row.storage)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or \
            not isinstance(sha256, str) or len(sha256) != 64:
        raise ValidationFailed({"size": ["The byte count and SHA-256 (hex) of the file."]})
    try:
        data = load_options(options)
        if data.get("template_id"):  # NotFound: a 404 before the job exists
            template = mapping_of(uow, data["template_id"])
            data.update({key: data.get(key) or template[key]
                         for key in ("mapping", "sheet", "mode")})
    except (ValidationFailed, NotFound):
        _drop(uow, row, store)
        raise
    if size > max_bytes():
        _drop(uow, row, store)
        raise PayloadTooLarge(_too_large())
    digest, count = hashlib.sha256(), 0

    def counted(chunks):
        nonlocal count
        for _offset, chunk in chunks:
            digest.update(chunk)
            count += len(chunk)
            yield chunk

    store.write(row.storage_key, counted(_contiguous(store.parts(row.storage_key))))
    store.delete_parts(row.storage_key)
    if (count, digest.hexdigest()) != (size, sha256.lower()):
        _drop(uow, row, store)
        raise ValidationFailed({"file": ["The bytes stored differ from the bytes sent "
                                         "(size or SHA-256); send the file again."]})
    now = utcnow()
    values = {"status": "queued", "file_size": count, "sha256": digest.hexdigest(),
              "mode": data["mode"] or "create", "dry_run": data["dry_run"],
              "users": data["users"],
              "options": {key: data.get(key) for key in ("sheet", "mapping", "template_id")},
              "updated_at": now, "version": row.version + 1}
    uow.session.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
    resource = to_resource({**row._mapping, **values})
    return uow.commit_once(START, idempotency_key, {"file_name": row.file_name}, resource)


def abort(uow, job_id: str, *, store=None) -> None:
    row = uow.session.execute(select(jobs).where(jobs.c.id == job_id,
                                                 jobs.c.status == "uploading")).first()
    if row is not None and row.actor == uow.context.actor:
        _drop(uow, row, store or storage.for_kind(row.storage))


def _own_upload(uow, job_id: str, lock: bool = False):
    query = select(jobs).where(jobs.c.id == job_id, jobs.c.status == "uploading")
    row = uow.session.execute(query.with_for_update() if lock else query).first()
    if row is None or row.actor != uow.context.actor:
        raise NotFound(f"upload {job_id} not found")
    return row


def _contiguous(parts):
    expected = 0
    for offset, data in parts:
        if offset != expected:
            raise ValidationFailed({"file": [f"A piece is missing at byte {expected}; "
                                             "send the file again."]})
        expected += len(data)
        yield offset, data


def _drop(uow, row, store) -> None:
    store.delete_parts(row.storage_key)
    store.delete(row.storage_key)
    uow.session.execute(jobs.delete().where(jobs.c.id == row.id,
                                            jobs.c.status == "uploading"))
    uow.commit()


def _remove_stale(uow, now, store) -> None:
    """Uploads the gateway never finished (it died, the client went away) go after an hour."""
    stale = uow.session.execute(select(jobs).where(
        jobs.c.status == "uploading",
        jobs.c.created_at < now - timedelta(seconds=STALE_UPLOAD_SECONDS)).limit(20)).all()
    for row in stale:
        try:
            _drop(uow, row, storage.for_kind(row.storage) if store is None else store)
        except storage.Missing:
            pass


FINISHED = ("completed", "failed", "cancelled", "reverted")
SWEEP_BATCH = 100  # files removed per commit


def file_retention() -> timedelta | None:
    days = env_float("IMPORTER_FILE_RETENTION_DAYS", 30)
    return timedelta(days=days) if days > 0 else None


def remove_old_files(uow, now=None, *, store=None, limit: int = SWEEP_BATCH) -> int:
    """Files of jobs finished longer than IMPORTER_FILE_RETENTION_DAYS ago are removed (an
    uploaded spreadsheet is personal data the CRM need not keep); the job, its row results
    (the report) and its undo stay. Returns how many went; call again while it is `limit`."""
    keep = file_retention()
    if keep is None:
        return 0
    now = now or utcnow()
    old = uow.session.execute(select(jobs.c.id, jobs.c.storage, jobs.c.storage_key).where(
        jobs.c.status.in_(FINISHED), jobs.c.finished_at < now - keep,
        jobs.c.file_removed_at.is_(None)).order_by(jobs.c.finished_at).limit(limit)).all()
    for row in old:
        try:
            (store or storage.for_kind(row.storage)).delete(row.storage_key)
        except storage.Missing:
            pass  # removed by hand, or by a run that stopped before recording it
        # recorded after the file went: a crash in between removes it again next time
        uow.session.execute(update(jobs).where(jobs.c.id == row.id).values(
            file_removed_at=now, version=jobs.c.version + 1))
        uow.commit()
    return len(old)


def _too_large() -> str:
    return f"The file is larger than the limit of {max_bytes()} bytes."
