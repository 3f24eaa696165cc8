"""What callers send for typed entries and tasks, and the resources they get back."""
from datetime import date

from marshmallow import (EXCLUDE, Schema, ValidationError, fields, post_load, validate,
                         validates)

from crm_common.fields import StrictBoolean, StrictSchema, reasonable_time
from crm_common.phones import e164

from .entries import DIRECTIONS, PRIORITIES, TASK_STATES, TYPED

ID = validate.Length(min=1, max=36)
MAX_PEOPLE = 100
# a day a CRM records: the years 1900 to 2200, as its moments (`reasonable_time`)
REASONABLE_DAY = validate.Range(min=date(1900, 1, 1), max=date(2200, 12, 31),
                                error="A day in the years 1900 to 2200.")


class AttendeeSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(("contact", "user")))
    id = fields.String(required=True, validate=ID)
    name = fields.String(allow_none=True, validate=validate.Length(max=200))


class EntryFieldsSchema(StrictSchema):
    """Every field of every type; which ones a type takes is the domain's rule
    (`entries.editable_fields`). `subject` (e-mail) and `description` (task) are the
    title and the body under the names people use for them."""

    title = fields.String(allow_none=True, validate=validate.Length(max=255))
    subject = fields.String(allow_none=True, validate=validate.Length(max=255))
    body = fields.String(allow_none=True, validate=validate.Length(max=20000))
    description = fields.String(allow_none=True, validate=validate.Length(max=20000))
    occurred_at = fields.DateTime(allow_none=True, validate=reasonable_time)
    deal_id = fields.String(allow_none=True, validate=ID)
    contact_ids = fields.List(fields.String(validate=ID), validate=validate.Length(max=50))
    # meeting
    starts_at = fields.DateTime(allow_none=True, validate=reasonable_time)
    ends_at = fields.DateTime(allow_none=True, validate=reasonable_time)
    place = fields.String(allow_none=True, validate=validate.Length(max=500))
    attendees = fields.List(fields.Nested(AttendeeSchema),
                            validate=validate.Length(max=MAX_PEOPLE))
    follow_up = fields.String(allow_none=True, validate=validate.Length(max=5000))
    # call (and `outcome` of a meeting: free text there)
    direction = fields.String(allow_none=True, validate=validate.OneOf(DIRECTIONS))
    phone = fields.String(allow_none=True, validate=validate.Length(max=60))
    duration_seconds = fields.Integer(allow_none=True, strict=True,
                                      validate=validate.Range(min=0, max=86400))
    outcome = fields.String(allow_none=True, validate=validate.Length(max=5000))
    # e-mail
    from_ = fields.Email(data_key="from", allow_none=True, validate=validate.Length(max=320))
    to = fields.List(fields.Email(validate=validate.Length(max=320)),
                     validate=validate.Length(max=MAX_PEOPLE))
    cc = fields.List(fields.Email(validate=validate.Length(max=320)),
                     validate=validate.Length(max=MAX_PEOPLE))
    message_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=500))
    # task
    assignee_id = fields.String(allow_none=True, validate=ID)
    due_date = fields.Date(allow_none=True, validate=REASONABLE_DAY)
    due_at = fields.DateTime(allow_none=True, validate=reasonable_time)
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    status = fields.String(validate=validate.OneOf(TASK_STATES))

    @validates("phone")
    def _phone(self, value, **_):
        if value is not None:
            try:
                e164(value)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc

    @post_load
    def _names(self, data, **_):
        for alias, name in (("subject", "title"), ("description", "body")):
            if alias in data:
                if name in data and data[name] != data[alias]:
                    raise ValidationError(f"Give {name} or {alias}, not both.", alias)
                data[name] = data.pop(alias)
        if "from_" in data:
            data["from"] = data.pop("from_")
        if data.get("phone"):
            data["phone"] = e164(data["phone"])
        return data


class EntryCreateSchema(EntryFieldsSchema):
    type = fields.String(required=True, validate=validate.OneOf(TYPED))
    client_id = fields.String(required=True, validate=ID)
    author = fields.String(allow_none=True, validate=validate.Length(max=200))


class TaskQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    assignee_ids = fields.List(fields.String(validate=ID), allow_none=True)
    visible_to = fields.String(allow_none=True)
    status = fields.String(allow_none=True, validate=validate.OneOf(TASK_STATES))
    due = fields.String(allow_none=True, validate=validate.OneOf(("overdue", "today", "week")))
    client_id = fields.String(allow_none=True, validate=ID)
    deal_id = fields.String(allow_none=True, validate=ID)
    time_zone = fields.String(allow_none=True)
    limit = fields.Integer(allow_none=True)
    cursor = fields.String(allow_none=True)


class PlanStepSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    due_in_days = fields.Integer(required=True, strict=True,
                                 validate=validate.Range(min=0, max=3650))
    assignee = fields.String(load_default="owner", validate=validate.Length(min=1, max=36))
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))


class PlanSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    steps = fields.List(fields.Nested(PlanStepSchema), required=True,
                        validate=validate.Length(min=1, max=100))
    active = StrictBoolean(load_default=True)

