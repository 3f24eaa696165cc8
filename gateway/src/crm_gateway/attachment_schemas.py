"""What the attachments endpoints answer, and the documentation of what they take (the
upload's body is read by transfer.py as it arrives, not parsed by a schema)."""
from marshmallow import Schema, fields

FIELD = "file"  # the multipart part that holds the file


class AttachmentSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    client_id = fields.String(metadata={
        "description": "the client it belongs to (a deal's and an entry's client too)"})
    deal_id = fields.String(allow_none=True, metadata={
        "description": "set when attached to a deal, or to an entry of a deal"})
    activity_id = fields.String(allow_none=True, metadata={
        "description": "set when attached to a timeline entry"})
    file_name = fields.String(metadata={
        "description": "as uploaded, diacritics kept; without a path, control characters "
                       "or format characters"})
    content_type = fields.String(metadata={
        "description": "detected from the bytes, never taken from the upload: e.g. "
                       "application/pdf, image/png, text/plain (UTF-8 text), "
                       "application/octet-stream (not recognised)"})
    size = fields.Integer(metadata={"description": "bytes"})
    sha256 = fields.String(metadata={"description": "SHA-256 of the bytes (hex); checked "
                                                    "on every download"})
    created_at = fields.String(metadata={"format": "date-time"})
    created_by = fields.String(allow_none=True, metadata={
        "description": "who uploaded it (`user:<id>`)"})


class AttachmentPageSchema(Schema):
    items = fields.List(fields.Nested(AttachmentSchema))
    next_cursor = fields.String(allow_none=True)


UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [FIELD], "properties": {FIELD: {
        "type": "string", "format": "binary",
        "description": "The file, with its name (`filename` in the part's "
                       "Content-Disposition). Other parts are ignored."}}}}}}

DOWNLOAD_RESPONSE = {
    "description": "The file's bytes, streamed; `Content-Type` is the type detected at "
                   "upload (text/plain with charset=utf-8), `Content-Disposition` names the "
                   "file (RFC 6266: an ASCII `filename` and the exact `filename*` in UTF-8), "
                   "`ETag` is its SHA-256. The bytes are checked against the SHA-256 before "
                   "the first one is sent (a mismatch: 500, nothing sent) and again while "
                   "they are sent (a mismatch then breaks the connection off short of "
                   "Content-Length).",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    "headers": {
        "Content-Disposition": {"schema": {"type": "string"},
                                "description": "attachment; filename=...; filename*=UTF-8''..."},
        "ETag": {"schema": {"type": "string"}, "description": '"<sha256>"'}}}

LOCATION_HEADER = {"Location": {"schema": {"type": "string"},
                                "description": "/api/v1/attachments/{id}: the download"}}
