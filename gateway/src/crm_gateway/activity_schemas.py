"""Schemas of timeline entries (notes, meetings, calls, e-mails, tasks), tasks and activity
plans (the activities service checks them again; these are the document's and the first
line)."""
from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList

from crm_common.fields import FullMatch, StrictBoolean, reasonable_time

from .schemas import MOMENT, NOT_BLANK, TIMELINE_TYPES, UUID, StrictSchema

ENTRY_TYPES = ("note", "meeting", "call", "email", "task")
PRIORITIES = ("low", "normal", "high")
TASK_STATES = ("open", "done")
DIRECTIONS = ("inbound", "outbound")
CALL_OUTCOMES = ("connected", "no_answer", "busy", "voicemail", "wrong_number")
ID = FullMatch(UUID, error="An id.")
ME_OR_ID = FullMatch(f"^(?:me|{UUID[1:-1]})$", error="`me` or a user's id.")
MAX_PEOPLE = 100
# a day a CRM records: the years 1900 to 2200, as its moments (`reasonable_time`)
REASONABLE_DAY = validate.Range(min=date(1900, 1, 1), max=date(2200, 12, 31),
                                error="A day in the years 1900 to 2200.")


def _moment(description: str):
    return fields.DateTime(allow_none=True, validate=reasonable_time, metadata={
        "description": description + " (RFC 3339; the years 1900 to 2200)", "pattern": MOMENT})


class AttendeeSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(("contact", "user")))
    id = fields.String(required=True, validate=ID, metadata={"format": "uuid"})
    name = fields.String(allow_none=True, validate=validate.Length(max=200),
                         metadata={"description": "shown in the calendar; optional"})


class ActivityFieldsSchema(StrictSchema):
    """Which fields each type takes (any other is a 422):
    every type: `title`, `body`, `occurred_at`, `deal_id`, `contact_ids`;
    `meeting`: `starts_at` (required), `ends_at`, `place`, `attendees`, `outcome`,
    `follow_up` (the body is the minutes);
    `call`: `direction` (required), `phone`, `duration_seconds`, `outcome` (one of
    connected, no_answer, busy, voicemail, wrong_number);
    `email`: `direction`, `from`, `to` (at least one), `cc`, `subject` (= the title),
    `message_id` (the same message logged twice is one entry);
    `task`: `title` (required), `description` (= the body), `assignee_id` (default: you),
    `due_date` or `due_at`, `priority`, `status`."""

    title = fields.String(allow_none=True, validate=validate.Length(max=255))
    subject = fields.String(allow_none=True, validate=validate.Length(max=255))
    body = fields.String(allow_none=True, validate=validate.Length(max=20000))
    description = fields.String(allow_none=True, validate=validate.Length(max=20000))
    occurred_at = _moment("When it happened; default now (a meeting: its start)")
    deal_id = fields.String(allow_none=True, validate=ID, metadata={
        "format": "uuid", "description": "A deal of the same client"})
    contact_ids = fields.List(fields.String(validate=ID, metadata={"format": "uuid"}),
                              validate=validate.Length(max=50), metadata={
        "description": "Contact persons of the client it is about (their timelines show it)"})
    starts_at = _moment("A meeting's start")
    ends_at = _moment("A meeting's end")
    place = fields.String(allow_none=True, validate=validate.Length(max=500))
    attendees = fields.List(fields.Nested(AttendeeSchema), validate=validate.Length(
        max=MAX_PEOPLE), metadata={"description": "Contact persons of the client and users"})
    follow_up = fields.String(allow_none=True, validate=validate.Length(max=5000))
    direction = fields.String(allow_none=True, validate=validate.OneOf(DIRECTIONS))
    phone = fields.String(allow_none=True, validate=validate.Length(max=60), metadata={
        "description": "Any format; numbers without +country code are Czech; stored E.164"})
    duration_seconds = fields.Integer(allow_none=True, strict=True,
                                      validate=validate.Range(min=0, max=86400))
    outcome = fields.String(allow_none=True, validate=validate.Length(max=5000))
    from_ = fields.Email(data_key="from", allow_none=True, validate=validate.Length(max=320))
    to = fields.List(fields.Email(validate=validate.Length(max=320)),
                     validate=validate.Length(max=MAX_PEOPLE))
    cc = fields.List(fields.Email(validate=validate.Length(max=320)),
                     validate=validate.Length(max=MAX_PEOPLE))
    message_id = fields.String(allow_none=True, validate=[
        validate.Length(min=1, max=500), FullMatch(f"^.*{NOT_BLANK}.*$", error="Not blank.")])
    assignee_id = fields.String(allow_none=True, validate=ID, metadata={"format": "uuid"})
    due_date = fields.Date(allow_none=True, validate=REASONABLE_DAY)
    due_at = _moment("When the task falls due")
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    status = fields.String(validate=validate.OneOf(TASK_STATES))


class ActivityCreateSchema(ActivityFieldsSchema):
    type = fields.String(required=True, validate=validate.OneOf(ENTRY_TYPES))

    @validates_schema
    def _one_name(self, data, **_):
        for alias, name in (("subject", "title"), ("description", "body")):
            if data.get(alias) is not None and data.get(name) is not None:
                raise ValidationError(f"Give {name} or {alias}, not both.", alias)


class ActivityPatchSchema(ActivityFieldsSchema):
    pass


class ActivitySchema(Schema):
    """A timeline entry: the common fields, then its type's own (see the create call)."""
    id = fields.String(metadata={"format": "uuid"})
    type = fields.String(metadata={"enum": list(TIMELINE_TYPES)})
    title = fields.String()
    body = fields.String()
    occurred_at = fields.String(metadata={"format": "date-time"})
    author = fields.String(allow_none=True, metadata={
        "description": "`user:<id>` of who wrote it; a system entry's service"})
    source = fields.String(metadata={"description": "`user` for typed entries; else the "
                                                    "service whose event it records"})
    client_id = fields.String(allow_none=True)
    deal_id = fields.String(allow_none=True)
    contact_ids = fields.List(fields.String())
    data = fields.Dict(metadata={"description": "A system entry's details"})
    version = fields.Integer()
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    updated_by = fields.String(allow_none=True)
    starts_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    ends_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    place = fields.String(allow_none=True)
    attendees = fields.List(fields.Dict())
    outcome = fields.String(allow_none=True)
    follow_up = fields.String(allow_none=True)
    direction = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.List(fields.String())
    cc = fields.List(fields.String())
    message_id = fields.String(allow_none=True)
    assignee_id = fields.String(allow_none=True)
    due_date = fields.String(allow_none=True, metadata={"format": "date"})
    due_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    priority = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    completed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    completed_by = fields.String(allow_none=True)
    plan_run_id = fields.String(allow_none=True)


class ActivityPageSchema(Schema):
    items = fields.List(fields.Nested(ActivitySchema))
    next_cursor = fields.String(allow_none=True)


class ActivityChangeSchema(Schema):
    action = fields.String(metadata={"enum": ["created", "updated", "deleted"]})
    actor = fields.String(allow_none=True)
    at = fields.String(metadata={"format": "date-time"})
    version = fields.Integer()
    changes = fields.Dict(metadata={"description": "{field: {before, after}}; on create "
                                                   "and delete, the whole entry"})


class ActivityHistorySchema(Schema):
    activity_id = fields.String()
    items = fields.List(fields.Nested(ActivityChangeSchema))


class TimelineFilterSchema(Schema):
    """The timelines' query (client, deal, contact person)."""
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(max=500))
    types = DelimitedList(fields.String(validate=validate.OneOf(TIMELINE_TYPES)),
                          validate=validate.Length(min=1), metadata={
        "description": "Entry types, comma-separated (note,meeting,call,email,task,system)"})
    author = fields.String(validate=ME_OR_ID, metadata={
        "description": "`me` or a user's id: the entries they wrote",
        "pattern": ME_OR_ID.regex.pattern})
    from_ = fields.DateTime(data_key="from", validate=reasonable_time, metadata={
        "description": "Entries that happened at or after (RFC 3339)", "pattern": MOMENT})
    to = fields.DateTime(validate=reasonable_time, metadata={
        "description": "Entries that happened before (RFC 3339)", "pattern": MOMENT})
    q = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "Words in the title, body or details; case and diacritics aside"})


class TaskQuerySchema(Schema):
    assignee = fields.String(validate=ME_OR_ID, metadata={
        "description": "`me` or a user's id", "pattern": ME_OR_ID.regex.pattern})
    status = fields.String(validate=validate.OneOf(TASK_STATES))
    due = fields.String(validate=validate.OneOf(("overdue", "today", "week")), metadata={
        "description": "In your time zone (Europe/Prague unless your profile says "
                       "otherwise); `week` is Monday to Sunday"})
    client_id = fields.String(validate=ID, metadata={"format": "uuid"})
    deal_id = fields.String(validate=ID, metadata={"format": "uuid"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(max=500))


class PlanStepSchema(StrictSchema):
    title = fields.String(required=True, validate=[validate.Length(min=1, max=255),
                                                   FullMatch(f"^.*{NOT_BLANK}.*$",
                                                             error="A title.")])
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    due_in_days = fields.Integer(required=True, strict=True,
                                 validate=validate.Range(min=0, max=3650), metadata={
        "description": "Days after the day the plan is applied"})
    assignee = fields.String(load_default="owner", validate=validate.Length(min=1, max=36),
                             metadata={"description": "`owner` (the deal's or client's "
                                                      "owner), `author` (who applies it) or "
                                                      "a user's id"})
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))


class PlanCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=200),
                                                  FullMatch(f"^.*{NOT_BLANK}.*$",
                                                            error="A name.")])
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    steps = fields.List(fields.Nested(PlanStepSchema), required=True,
                        validate=validate.Length(min=1, max=100))
    active = StrictBoolean()


class PlanPatchSchema(PlanCreateSchema):
    """Any of the plan's fields (sent with `partial=True`)."""


class PlanSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    name = fields.String()
    description = fields.String(allow_none=True)
    steps = fields.List(fields.Dict())
    active = fields.Boolean()
    version = fields.Integer()
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})


class PlanListSchema(Schema):
    items = fields.List(fields.Nested(PlanSchema))


class PlanListQuerySchema(Schema):
    include_inactive = fields.Boolean(load_default=False, truthy={"true"}, falsy={"false"})


class PlanApplySchema(StrictSchema):
    plan_id = fields.String(required=True, validate=ID, metadata={"format": "uuid"})


class PlanRunSchema(Schema):
    id = fields.String()
    plan_id = fields.String()
    plan_name = fields.String()
    client_id = fields.String()
    deal_id = fields.String(allow_none=True)
    applied_at = fields.String(metadata={"format": "date-time"})
    applied_by = fields.String(allow_none=True)
    progress = fields.Dict(metadata={"description": "{done, total}"})
    tasks = fields.List(fields.Nested(ActivitySchema))


class PlanRunListSchema(Schema):
    items = fields.List(fields.Nested(PlanRunSchema))
