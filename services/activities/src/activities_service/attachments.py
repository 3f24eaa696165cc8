"""Files attached to a client, a deal or a timeline entry.

The gateway streams an upload in pieces over RPC (no process holds a whole file):
`begin` makes a row `uploading`; `write_piece` stores each piece under its offset;
`finish` joins the pieces into one stored object while counting and hashing them, checks
the size and SHA-256 the gateway counted, detects the content type from the bytes, and in
one transaction marks the row `stored`, writes "Attachment added" on the timeline and
emits `attachment.added`. An upload that never finishes stays `uploading`, is never
listed, and goes (row, pieces) with a later `begin` once it is an hour old.

Reading checks the stored bytes against their SHA-256 first (`verify`): damaged bytes are
refused and logged, never handed out. Stored bytes are removed only after the
transaction that dropped their row commits.
"""
import base64
import codecs
import hashlib
import logging
import uuid
from datetime import timedelta

import filetype
from sqlalchemy import delete, event, or_, select, update

from crm_common.config import env_float
from crm_common.errors import DataDamaged, NotFound, PayloadTooLarge, ValidationFailed
from crm_common.events import utcnow
from crm_common.fields import load
from crm_common.pagination import newest_first
from crm_common.storage import decoded_piece

from . import storage
from .attachment_schemas import AttachmentBeginSchema, AttachmentQuerySchema, AttachmentSchema
from .domain import TimelineEntry
from .orm import attachments
from .repository import Entries

log = logging.getLogger(__name__)
ATTACH, DELETE = "activities.attach", "activities.delete_attachment"  # Idempotency-Keys
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
MAX_PIECE = MAX_READ = 4 * 1024 * 1024  # the gateway moves 1 MiB at a time
STALE_AFTER, STALE_BATCH = timedelta(hours=1), 50
OCTET_STREAM = "application/octet-stream"
SNIFF_BYTES = 8192  # what filetype looks at
# formats whose files may be plain ASCII: for any other type, UTF-8 text that happens to
# start with its signature ("BM...", "MZ...", "ID3...") is text, not a bitmap or a program
TEXTUAL_FORMATS = {"application/pdf", "application/rtf", "application/postscript"}
_columns = attachments.c
_begin_schema, _query_schema, _resource = (AttachmentBeginSchema(), AttachmentQuerySchema(),
                                           AttachmentSchema())


def max_bytes() -> int:
    """ATTACHMENTS_MAX_BYTES (the gateway reads the same variable and refuses earlier)."""
    return int(env_float("ATTACHMENTS_MAX_BYTES", DEFAULT_MAX_BYTES))


def to_resource(row) -> dict:
    return _resource.dump(row)


# -- uploading ------------------------------------------------------------------------

def begin(uow, meta: dict, idempotency_key: str | None = None, *, store=None) -> dict:
    """{"id"} of a new upload, or {"attachment"}: the answer the Idempotency-Key already
    had (the gateway then sends no bytes)."""
    store = store or storage.configured()
    data = load(_begin_schema, meta)
    request = _request(data)
    replayed = uow.replay(ATTACH, idempotency_key, request)
    if replayed is not None:
        return {"attachment": replayed}
    if data.get("activity_id"):
        Entries(uow.session).get(data["activity_id"])  # a deleted entry takes no more files
    now = utcnow()
    _remove_stale(uow, now, store)
    attachment_id = str(uuid.uuid4())
    uow.session.execute(attachments.insert().values(
        id=attachment_id, **request, content_type=OCTET_STREAM, size=0, sha256="",
        storage=store.kind, storage_key=storage.key_for(attachment_id), status="uploading",
        created_at=now, created_by=uow.context.actor))
    uow.commit()
    return {"id": attachment_id, "max_bytes": max_bytes()}


def write_piece(uow, attachment_id: str, offset, data: str, *, store=None) -> dict:
    """Stores the piece of an upload that starts at byte `offset` (base64 in `data`); the
    same piece again (a redelivery) replaces itself."""
    row = _own_upload(uow, attachment_id)
    uow.rollback()  # no transaction (SQLite: no write lock) held while the bytes go
    piece = decoded_piece(offset, data, MAX_PIECE, max_bytes())
    _store_of(row.storage, store).put_part(row.storage_key, offset, piece)
    return {"received": offset + len(piece)}


def finish(uow, attachment_id: str, size, sha256, idempotency_key: str | None = None, *,
           store=None) -> dict:
    """Joins the pieces and stores the attachment (see the module's doc); a second call
    (a redelivery) answers the stored attachment."""
    row = uow.session.execute(select(attachments).where(
        _columns.id == attachment_id).with_for_update()).first()
    if row is None or row.deleted_at is not None or row.created_by != uow.context.actor:
        raise NotFound(f"upload {attachment_id} not found")
    request = _request(row._mapping)
    replayed = uow.replay(ATTACH, idempotency_key, request)
    if replayed is not None:
        return replayed
    if row.status == "stored":
        return to_resource(row)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or \
            not isinstance(sha256, str) or len(sha256) != 64:
        raise ValidationFailed({"size": ["The byte count and SHA-256 (hex) of the file."]})
    if size > max_bytes():
        raise PayloadTooLarge(_too_large())
    target_store, digest = _store_of(row.storage, store), _Digest()
    target_store.write(row.storage_key,
                       digest.through(_contiguous(target_store.parts(row.storage_key))))
    if (digest.size, digest.sha256.hexdigest()) != (size, sha256.lower()):
        target_store.delete(row.storage_key)
        raise ValidationFailed({"file": ["The bytes stored differ from the bytes sent "
                                         "(size or SHA-256); send the file again."]})
    values = {"status": "stored", "size": digest.size, "sha256": digest.sha256.hexdigest(),
              "content_type": digest.content_type()}
    uow.session.execute(update(attachments).where(_columns.id == attachment_id)
                        .values(**values))
    resource = to_resource({**row._mapping, **values})
    uow.session.add(_timeline_entry(resource, "Attachment added", uow.context.actor))
    uow.emit("attachment.added", attachment_id, {"attachment": resource})
    _after_commit(uow, lambda: target_store.delete_parts(row.storage_key))
    return uow.commit_once(ATTACH, idempotency_key, request, resource)


def abort(uow, attachment_id: str, *, store=None) -> None:
    """An upload the gateway gave up on (too large, the client went away): row and pieces
    go now instead of in an hour. Nothing to abort is no error."""
    row = uow.session.execute(select(attachments).where(
        _columns.id == attachment_id, _columns.status == "uploading")).first()
    if row is None or row.created_by != uow.context.actor:
        return
    uow.session.execute(delete(attachments).where(_columns.id == attachment_id))
    _drop_after_commit(uow, [row], store)
    uow.commit()


def _own_upload(uow, attachment_id: str):
    row = uow.session.execute(select(attachments).where(
        _columns.id == attachment_id, _columns.status == "uploading")).first()
    if row is None or row.created_by != uow.context.actor:
        raise NotFound(f"upload {attachment_id} not found")
    return row


def _request(data) -> dict:
    """What an upload's Idempotency-Key is bound to (the bytes are not known at `begin`)."""
    return {name: data.get(name) for name in ("client_id", "deal_id", "activity_id",
                                              "file_name")}


def _contiguous(parts):
    """The pieces in order, each starting where the one before ended."""
    expected = 0
    for offset, data in parts:
        if offset != expected:
            raise ValidationFailed({"file": [f"The piece at byte {expected} is missing."]})
        expected += len(data)
        yield data


def _too_large() -> str:
    return f"The file is larger than the limit of {max_bytes()} bytes."


def _remove_stale(uow, now, store) -> None:
    stale = uow.session.execute(select(attachments).where(
        _columns.status == "uploading", _columns.created_at < now - STALE_AFTER)
        .limit(STALE_BATCH)).all()
    if stale:
        uow.session.execute(delete(attachments).where(
            _columns.id.in_([row.id for row in stale])))
        _drop_after_commit(uow, stale, store)


class _Digest:
    """Counts and hashes the bytes as they pass, keeps their head for sniffing and tells
    whether they are all UTF-8 text."""

    def __init__(self):
        self.size, self.sha256, self.head = 0, hashlib.sha256(), b""
        self._utf8, self.text = codecs.getincrementaldecoder("utf-8")(), True

    def through(self, chunks):
        for chunk in chunks:
            self.size += len(chunk)
            self.sha256.update(chunk)
            if len(self.head) < SNIFF_BYTES:
                self.head += chunk[:SNIFF_BYTES - len(self.head)]
            if self.text:
                self._check_text(chunk)
            yield chunk

    def _check_text(self, chunk: bytes, final: bool = False) -> None:
        try:
            self._utf8.decode(chunk, final)
            self.text = b"\x00" not in chunk
        except UnicodeDecodeError:
            self.text = False

    def content_type(self) -> str:
        """From the bytes, never from the name or what the client said: a PDF named .txt
        is a PDF. No known signature: text/plain for UTF-8 text, else octet-stream."""
        if self.text:
            self._check_text(b"", final=True)
        found = filetype.guess_mime(self.head) if self.head else None
        if found and (not self.text or found in TEXTUAL_FORMATS):
            return found
        return "text/plain" if self.text and self.size else OCTET_STREAM


# -- reading ----------------------------------------------------------------------------

def get(uow, attachment_id: str) -> dict:
    return to_resource(_stored(uow, attachment_id))


def verify(uow, attachment_id: str, *, store=None) -> dict:
    """The attachment, once its stored bytes are found whole (size and SHA-256); else
    DataDamaged, logged. Read before a download starts, so that damage is a problem
    answer, not a 200 with wrong bytes."""
    row = _stored(uow, attachment_id)
    uow.rollback()
    digest, size = hashlib.sha256(), 0
    try:
        for block in _store_of(row.storage, store).stream(row.storage_key):
            digest.update(block)
            size += len(block)
    except storage.Missing:
        size = None
    if (size, digest.hexdigest()) != (row.size, row.sha256):
        log.error("attachment %s (%s %s): stored bytes %s; expected %s bytes, SHA-256 %s",
                  row.id, row.storage, row.storage_key,
                  "missing" if size is None else f"{size} bytes, SHA-256 {digest.hexdigest()}",
                  row.size, row.sha256)
        raise DataDamaged(f"attachment {attachment_id}: the stored file is damaged (it does "
                          "not match its checksum) and is not served")
    return to_resource(row)


def read(uow, attachment_id: str, offset, length, *, store=None) -> dict:
    """{"data": base64} of `length` bytes from `offset` (fewer at the end)."""
    for name, value, low in (("offset", offset, 0), ("length", length, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValidationFailed({name: [f"An integer of at least {low}."]})
    row = _stored(uow, attachment_id)
    uow.rollback()
    try:
        data = _store_of(row.storage, store).read(row.storage_key, offset,
                                                  min(length, MAX_READ))
    except storage.Missing as exc:
        log.error("attachment %s: stored file %s is missing", row.id, row.storage_key)
        raise DataDamaged(f"attachment {attachment_id}: the stored file is missing") from exc
    return {"data": base64.b64encode(data).decode("ascii")}


def list_attachments(uow, client_id=None, deal_id=None, activity_id=None, limit=50,
                     cursor=None) -> dict:
    """Stored attachments of one record, newest first. A client's: its own, its entries'
    and its deals'; a deal's: its own and its entries'; an entry's."""
    query_args = load(_query_schema, {"client_id": client_id, "deal_id": deal_id,
                                      "activity_id": activity_id, "limit": limit,
                                      "cursor": cursor})
    column, value = next((getattr(_columns, name), query_args[name]) for name in (
        "client_id", "deal_id", "activity_id") if query_args.get(name))
    query = select(attachments).where(column == value, _columns.status == "stored",
                                      _columns.deleted_at.is_(None))
    return newest_first(uow.session, query, _columns.created_at, _columns.id,
                        query_args.get("limit"), query_args.get("cursor"), to_resource,
                        key=lambda row: (row.created_at, row.id),
                        rows=lambda q: uow.session.execute(q).all())


def _stored(uow, attachment_id: str):
    row = uow.session.execute(select(attachments).where(
        _columns.id == attachment_id, _columns.status == "stored",
        _columns.deleted_at.is_(None))).first()
    if row is None:
        raise NotFound(f"attachment {attachment_id} not found")
    return row


# -- removing ---------------------------------------------------------------------------

def delete_attachment(uow, attachment_id: str, idempotency_key: str | None = None,
                      replay_only: bool = False, *, store=None) -> dict:
    """Deleted by a user: the row stays (deleted_at) for the record, the bytes go.
    `replay_only`: only the answer the key already had (else NotFound), for a retry the
    gateway can no longer check access for, the attachment being gone."""
    request = {"attachment_id": attachment_id}
    replayed = uow.replay(DELETE, idempotency_key, request)
    if replayed is not None:
        return replayed
    if replay_only:
        raise NotFound(f"attachment {attachment_id} not found")
    row = _stored(uow, attachment_id)
    uow.session.execute(update(attachments).where(_columns.id == attachment_id)
                        .values(deleted_at=utcnow()))
    resource = to_resource(row)
    uow.session.add(_timeline_entry(resource, "Attachment deleted", uow.context.actor))
    uow.emit("attachment.deleted", attachment_id, _deleted(row, "deleted"))
    _drop_after_commit(uow, [row], store)
    return uow.commit_once(DELETE, idempotency_key, request,
                           {"id": attachment_id, "deleted": True})


def erase_for(uow, erased: list[dict], entry_ids: list[str] = (), *, store=None) -> None:
    """On `client.erased` / `contact.erased` (`erased`: [{record_id, kind}]; `entry_ids`:
    the entries redacted for them): a client's attachments, its deals' and entries' too,
    and the attachments of every redacted entry go entirely: rows (their names may name
    the person) and bytes."""
    client_ids = [record["record_id"] for record in erased if record["kind"] == "client"]
    if not client_ids and not entry_ids:
        return
    rows = uow.session.execute(select(attachments).where(or_(
        _columns.client_id.in_(client_ids), _columns.activity_id.in_(list(entry_ids))))).all()
    if not rows:
        return
    uow.session.execute(delete(attachments).where(_columns.id.in_([row.id for row in rows])))
    uow.emit_many([("attachment.deleted", row.id, _deleted(row, "erased")) for row in rows
                   if row.status == "stored" and row.deleted_at is None])
    _drop_after_commit(uow, rows, store)


def follow_merges(uow, targets: dict[str, str]) -> None:
    """On `client.merged` ({merged client: the client it lives on in}): its attachments
    belong to the surviving client, as its timeline does."""
    for source_id, target_id in targets.items():
        uow.session.execute(update(attachments).where(_columns.client_id == source_id)
                            .values(client_id=target_id))


def _deleted(row, reason: str) -> dict:
    # no file name: after an erasure nothing may name the person
    return {"attachment_id": row.id, "client_id": row.client_id, "deal_id": row.deal_id,
            "activity_id": row.activity_id, "reason": reason}


# -- shared -----------------------------------------------------------------------------

def _timeline_entry(resource: dict, title: str, actor: str | None) -> TimelineEntry:
    """On the client's timeline, and the deal's when it is a deal's (or its entry's)."""
    now = utcnow()
    return TimelineEntry(
        id=str(uuid.uuid4()), type="system", title=title,
        body=f"{title}: {resource['file_name']}", occurred_at=now, source="activities",
        author=actor, client_id=resource["client_id"], deal_id=resource["deal_id"],
        data={"attachment": {key: resource[key] for key in (
            "id", "file_name", "content_type", "size", "activity_id")}}, created_at=now)


def _store_of(kind: str, store):
    store = store or storage.configured()
    return store if store.kind == kind else storage.for_kind(kind)


def _after_commit(uow, *actions) -> None:
    """`actions` once this unit of work commits (never, if it rolls back): bytes are
    removed only when no committed row can point at them any more."""
    def run(_session):
        for action in actions:
            try:
                action()
            except Exception:  # noqa: BLE001 - committed already: an orphan file, logged
                log.exception("removing stored attachment bytes after commit failed")
    event.listen(uow.session, "after_commit", run, once=True)


def _drop_after_commit(uow, rows, store) -> None:
    _after_commit(uow, *(lambda kind=row.storage, key=row.storage_key:
                         _store_of(kind, store).delete(key) for row in rows))
