"""marshmallow at the edge: what callers may send, and the resource they get back."""
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from crm_common.fields import StrictSchema, UtcDateTime, reasonable_time

from .domain import TYPES, USER_TYPES


class NoteCreateSchema(StrictSchema):
    """A title, a body or both (a title alone is a whole note: "Zavolat zpět")."""

    client_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    deal_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=36))
    title = fields.String(allow_none=True, validate=validate.Length(max=255))
    body = fields.String(allow_none=True, validate=validate.Length(max=20000))
    author = fields.String(allow_none=True, validate=validate.Length(max=200))
    type = fields.String(load_default="note", validate=validate.OneOf(USER_TYPES))
    occurred_at = fields.DateTime(format="iso", allow_none=True, validate=reasonable_time)

    @validates_schema(skip_on_field_errors=False)  # said along with any other mistake
    def _something_written(self, data, **_):
        if not (data.get("title") or "").strip() and not (data.get("body") or "").strip():
            raise ValidationError("Give a title or a body.", "body")


class TimelineQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    client_id = fields.String(allow_none=True)
    deal_id = fields.String(allow_none=True)
    contact_id = fields.String(allow_none=True)
    client_ids = fields.List(fields.String(), allow_none=True)  # a restricted caller's
    limit = fields.Integer(allow_none=True)
    cursor = fields.String(allow_none=True)
    types = fields.List(fields.String(validate=validate.OneOf(TYPES)), allow_none=True)
    author = fields.String(allow_none=True, validate=validate.Length(max=200))
    since = fields.DateTime(allow_none=True)
    until = fields.DateTime(allow_none=True)
    q = fields.String(allow_none=True, validate=validate.Length(max=200))


class TimelineEntrySchema(Schema):
    id = fields.String()
    type = fields.String()
    title = fields.String()
    body = fields.String()
    occurred_at = UtcDateTime()
    author = fields.String(allow_none=True)
    source = fields.String()
    client_id = fields.String(allow_none=True)
    deal_id = fields.String(allow_none=True)
    data = fields.Dict()
    created_at = UtcDateTime()
