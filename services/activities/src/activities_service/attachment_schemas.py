"""marshmallow at the edge of attachments: what an upload names, what a caller gets back."""
from marshmallow import (Schema, ValidationError, fields, post_load, validate, validates,
                         validates_schema)

from crm_common.fields import StrictSchema, UtcDateTime
from crm_common.text import MAX_FILE_NAME, safe_file_name

ID = validate.Length(min=1, max=36)


class AttachmentBeginSchema(StrictSchema):
    """The record an upload hangs on (a deal's and an entry's client too: lists and access
    go by the client) and the file's name."""

    client_id = fields.String(required=True, validate=ID)
    deal_id = fields.String(allow_none=True, validate=ID)
    activity_id = fields.String(allow_none=True, validate=ID)
    file_name = fields.String(required=True)

    @validates("file_name")
    def _a_name(self, value, **_):
        name = safe_file_name(value)
        if not name:
            raise ValidationError("The file has no name.")
        if len(name) > MAX_FILE_NAME:
            raise ValidationError(f"A file name has at most {MAX_FILE_NAME} characters.")

    @post_load
    def _clean_name(self, data, **_):
        data["file_name"] = safe_file_name(data["file_name"])
        return data


class AttachmentQuerySchema(StrictSchema):
    client_id = fields.String(allow_none=True)
    deal_id = fields.String(allow_none=True)
    activity_id = fields.String(allow_none=True)
    limit = fields.Integer(allow_none=True)
    cursor = fields.String(allow_none=True)

    @validates_schema
    def _one_record(self, data, **_):
        if sum(1 for name in ("client_id", "deal_id", "activity_id") if data.get(name)) != 1:
            raise ValidationError("Give one of client_id, deal_id, activity_id.", "client_id")


class AttachmentSchema(Schema):
    id = fields.String()
    client_id = fields.String(allow_none=True)
    deal_id = fields.String(allow_none=True)
    activity_id = fields.String(allow_none=True)
    file_name = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    created_at = UtcDateTime()
    created_by = fields.String(allow_none=True)
