"""/api/v1/{clients,deals,activities}/{id}/attachments and /api/v1/attachments/{id}: files on
clients, deals and timeline entries. The activities service keeps them; the bytes pass
through here a piece at a time (transfer.py). Permissions are the timeline's
(activities.read / activities.write); a file is visible to whoever may see its record."""
from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import RAISE
from werkzeug.http import parse_options_header

from crm_common.errors import Conflict, NotFound
from crm_common.rpc import RemoteError

from .. import rpc, transfer
from ..attachment_schemas import (DOWNLOAD_RESPONSE, LOCATION_HEADER, UPLOAD_BODY,
                                  AttachmentPageSchema, AttachmentSchema)
from ..problems import problem
from ..schemas import ClientSchema, PageQuerySchema
from . import (IDEMPOTENCY_HEADER, LINK_HEADER, idempotency_key, next_link, problem_responses,
               with_ids)
from .activities import entry_checked
from .clients import MOVED, moved

blp = Blueprint("attachments", __name__, url_prefix="/api/v1",
                description="Files attached to clients, deals and timeline entries")
with_ids(blp)

UPLOAD_DOC = {"requestBody": UPLOAD_BODY, "parameters": [IDEMPOTENCY_HEADER]}


def errors(*codes):
    return problem_responses(blp, *codes)


@blp.before_request
def require_multipart():
    """An upload is multipart/form-data (415 otherwise, before a byte of it is read)."""
    if request.method != "POST":
        return None
    if parse_options_header(request.headers.get("Content-Type", ""))[0] != \
            "multipart/form-data":
        return problem(415, f"Send the file as multipart/form-data, in the part "
                            f"`{transfer.FIELD}`.", headers={"Accept-Post": "multipart/form-data"})
    return None


@blp.after_request
def drain_refused_upload(response):
    """A refused upload's body is read to its end (and dropped) before the answer, when it
    is within the limit: the connection stays fit for the client's next request."""
    if request.method == "POST" and response.status_code >= 400:
        transfer.discard_rest(current_app.config["ATTACHMENTS_MAX_BYTES"])
    return response


def _store(meta: dict):
    attachment = transfer.receive(meta, idempotency_key(),
                                  current_app.config["ATTACHMENTS_MAX_BYTES"])
    return attachment, 201, {"Location": f"/api/v1/attachments/{attachment['id']}"}


def _limit() -> None:
    transfer.refuse_too_large(current_app.config["ATTACHMENTS_MAX_BYTES"])


def _visible(attachment_id: str) -> dict:
    """The attachment, if the caller may see the record it hangs on; else a 404 exactly
    as for one that does not exist."""
    attachment = rpc.call("activities", "attachment_get", attachment_id=attachment_id)
    try:
        if attachment.get("activity_id"):
            entry_checked(attachment["activity_id"], deal=True)
        elif attachment.get("deal_id"):
            rpc.call("deals", "get", deal_id=attachment["deal_id"])
        else:
            rpc.call("clients", "get", client_id=attachment["client_id"])
    except (RemoteError, NotFound) as exc:
        if isinstance(exc, NotFound) or exc.exc_type == "NotFound":
            raise NotFound(f"attachment {attachment_id} not found") from exc
        raise
    return attachment


def _page(query: dict, **record):
    page = rpc.call("activities", "attachment_list", limit=query["limit"],
                    cursor=query.get("cursor"), **record)
    return page, 200, next_link(page.get("next_cursor"), limit=query["limit"])


UPLOAD_NOTES = """

    The body is multipart/form-data with the file in the part `file` (its `filename` is kept,
    diacritics and all; a path is dropped). At most ATTACHMENTS_MAX_BYTES (default 25 MiB,
    26214400 bytes; `413` above it, refused as soon as it is known). Empty files are kept.
    The content type is detected from the bytes, whatever the part's Content-Type says.
    Writes "Attachment added: <name>" on the timeline and emits `attachment.added`."""


def _upload_notes(view):
    """The upload endpoints' common description (before flask-smorest reads the doc)."""
    view.__doc__ += UPLOAD_NOTES
    return view


@blp.route("/clients/<id:client_id>/attachments", methods=["POST"])
@blp.response(201, AttachmentSchema, headers=LOCATION_HEADER)
@errors(400, 404, 409, 413, 415, 422)
@blp.doc(**UPLOAD_DOC)
@_upload_notes
def upload_to_client(client_id):
    """Attach a file to a client"""
    idempotency_key()
    _limit()
    client = rpc.call("clients", "get", client_id=client_id)  # NotFound -> 404
    if client.get("merged_into"):
        raise Conflict(f"client {client_id} was merged into {client['merged_into']}",
                       {"existing_id": client["merged_into"]})
    return _store({"client_id": client_id})


@blp.route("/deals/<id:deal_id>/attachments", methods=["POST"])
@blp.response(201, AttachmentSchema, headers=LOCATION_HEADER)
@errors(400, 404, 413, 415, 422)
@blp.doc(**UPLOAD_DOC)
@_upload_notes
def upload_to_deal(deal_id):
    """Attach a file to a deal (it is in its client's attachments too)"""
    idempotency_key()
    _limit()
    deal = rpc.call("deals", "get", deal_id=deal_id)  # NotFound -> 404
    return _store({"client_id": deal["client_id"], "deal_id": deal_id})


@blp.route("/activities/<id:activity_id>/attachments", methods=["POST"])
@blp.response(201, AttachmentSchema, headers=LOCATION_HEADER)
@errors(400, 404, 413, 415, 422)
@blp.doc(**UPLOAD_DOC)
@_upload_notes
def upload_to_activity(activity_id):
    """Attach a file to a timeline entry (meeting minutes, an e-mail...)"""
    idempotency_key()
    _limit()
    target = entry_checked(activity_id, deal=True)
    return _store({"client_id": target["client_id"], "deal_id": target["deal_id"],
                   "activity_id": activity_id})


@blp.route("/clients/<id:client_id>/attachments")
@blp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@blp.response(200, AttachmentPageSchema, headers=LINK_HEADER)
@blp.alt_response(301, schema=ClientSchema, headers=MOVED,
                  description="Merged into another client, whose attachments these are now")
@errors(404, 422)
def client_attachments(query, client_id):
    """A client's attachments, newest first: its own, its deals' and its timeline
    entries' (each says where it hangs: deal_id, activity_id)"""
    client = rpc.call("clients", "get", client_id=client_id)  # NotFound -> 404
    if client.get("merged_into"):
        return moved(client, "/attachments")
    return _page(query, client_id=client_id)


@blp.route("/deals/<id:deal_id>/attachments")
@blp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@blp.response(200, AttachmentPageSchema, headers=LINK_HEADER)
@errors(404, 422)
def deal_attachments(query, deal_id):
    """A deal's attachments, newest first: its own and its timeline entries'"""
    rpc.call("deals", "get", deal_id=deal_id)  # NotFound -> 404
    return _page(query, deal_id=deal_id)


@blp.route("/activities/<id:activity_id>/attachments")
@blp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@blp.response(200, AttachmentPageSchema, headers=LINK_HEADER)
@errors(404, 422)
def activity_attachments(query, activity_id):
    """A timeline entry's attachments, newest first"""
    entry_checked(activity_id, deal=True)
    return _page(query, activity_id=activity_id)


@blp.route("/attachments/<id:attachment_id>")
@blp.doc(responses={"200": DOWNLOAD_RESPONSE})
@errors(404, 500)
def download_attachment(attachment_id):
    """Download an attachment

    For whoever may see the client, deal or entry it hangs on (anyone else: 404). The
    stored bytes are checked against their SHA-256 first: a damaged file is a `500`
    problem (and logged), never served."""
    _visible(attachment_id)
    attachment = rpc.call("activities", "attachment_verify", attachment_id=attachment_id)
    return transfer.send(attachment)


@blp.route("/attachments/<id:attachment_id>", methods=["DELETE"])
@blp.response(204)
@errors(400, 404, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def delete_attachment(attachment_id):
    """Delete an attachment: its bytes are removed; "Attachment deleted: <name>" on the
    timeline; emits `attachment.deleted`"""
    key = idempotency_key()
    try:
        _visible(attachment_id)
        replay_only = False
    except (NotFound, RemoteError) as exc:
        gone = isinstance(exc, NotFound) or exc.exc_type == "NotFound"
        if not gone or "Idempotency-Key" not in request.headers:
            raise
        replay_only = True  # the retry of a request that deleted it: its answer, else 404
    rpc.call("activities", "attachment_delete", attachment_id=attachment_id,
             replay_only=replay_only, **key)
    return "", 204
