"""Schemas of the business register (ARES) endpoints: lookups, refresh jobs and the
statutory body's people (the ares service answers them; these are the document's)."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from crm_common.fields import FullMatch, StrictBoolean

from .schemas import UUID, ContactSchema, PassedOn, RegistryRecordSchema, StrictSchema

LOOKUP_STATUSES = ("found", "not_found", "invalid", "unavailable")
MAX_REFRESH = 10_000
MAX_PEOPLE = 50


class RegistryLookupSchema(Schema):
    """One lookup of an IČO in the register, made now (not from the cache)."""
    status = fields.String(metadata={"enum": list(LOOKUP_STATUSES), "description":
                                     "found: the client is updated from `record` shortly "
                                     "(through events); not_found, invalid: the register "
                                     "has no such subject / refused the IČO; unavailable: "
                                     "ARES did not answer (the lookup is retried later)"})
    ico = fields.String(allow_none=True)
    record = PassedOn(RegistryRecordSchema, allow_none=True, metadata={
        "description": "with found: what the register says"})
    detail = fields.String(allow_none=True, metadata={"description": "why, when not found"})
    fetched_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    cached = fields.Boolean(metadata={"description": "always false here: the cache is "
                                                     "bypassed"})


class RefreshRequestSchema(StrictSchema):
    """Which clients to refresh: some (`client_ids`) or every one (`all`)."""
    OPENAPI_RULES = {"oneOf": [{"required": ["client_ids"]}, {"required": ["all"]}]}

    client_ids = fields.List(
        fields.String(validate=FullMatch(UUID, error="A client's id."),
                      metadata={"format": "uuid"}),
        validate=validate.Length(min=1, max=MAX_REFRESH),
        metadata={"description": f"1 to {MAX_REFRESH:,} clients (one named twice counts "
                                 "once)"})
    all_ = StrictBoolean(data_key="all", validate=validate.Equal(True), metadata={
        "enum": [True], "description": "every active client with an IČO that you may see"})

    @validates_schema
    def _one_of_them(self, data, **_):
        if ("client_ids" in data) == ("all_" in data):
            raise ValidationError("Send `client_ids` or `all: true`, not both.", "client_ids")


class SkippedClientSchema(Schema):
    client_id = fields.String()
    reason = fields.String(metadata={"enum": ["not_found", "no_ico"], "description":
                                     "not_found also for a client you may not see, an "
                                     "archived, erased or merged one"})


class RefreshJobSchema(Schema):
    """A refresh of many clients from the register, done in the background."""
    id = fields.String(metadata={"format": "uuid"})
    status = fields.String(metadata={"enum": ["running", "completed"]})
    total = fields.Integer(metadata={"description": "clients to refresh (without skipped)"})
    done = fields.Integer()
    changed = fields.Integer(metadata={"description": "the register changed their data"})
    unchanged = fields.Integer()
    failed = fields.Integer(metadata={"description": "not found, refused or ARES did not "
                                                     "answer"})
    skipped = fields.List(fields.Nested(SkippedClientSchema), metadata={
        "description": "clients asked for that were not refreshed, and why"})
    created_at = fields.String(metadata={"format": "date-time"})
    finished_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    requested_by = fields.String(allow_none=True, metadata={"description": "who started it"})


class StatutoryPersonSchema(Schema):
    """A member of the client's statutory body (or a company that is one), as the public
    register lists them: a suggestion, never stored by the API."""
    key = fields.String(metadata={"description": "what to send to add them as a contact"})
    kind = fields.String(metadata={"enum": ["person", "company"]})
    name = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    degree_before = fields.String(allow_none=True, metadata={"example": "Ing."})
    degree_after = fields.String(allow_none=True, metadata={"example": "Ph.D."})
    role = fields.String(allow_none=True, metadata={"example": "jednatel"})
    body = fields.String(allow_none=True, metadata={"description": "the statutory body",
                                                    "example": "Statutární orgán"})
    since = fields.String(allow_none=True, metadata={"format": "date",
                                                     "description": "in the role since"})


class StatutoryPeopleSchema(Schema):
    items = fields.List(fields.Nested(StatutoryPersonSchema))
    status = fields.String(metadata={"enum": ["found", "not_found", "invalid"],
                                     "description": "not_found: not in the public register "
                                                    "(e.g. a sole trader): no items"})
    fetched_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class PeopleChoiceSchema(StrictSchema):
    keys = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                       required=True, validate=validate.Length(min=1, max=MAX_PEOPLE),
                       metadata={"description": f"1 to {MAX_PEOPLE} `key`s of GET "
                                                ".../registry/people"})


class SkippedPersonSchema(Schema):
    key = fields.String()
    reason = fields.String(metadata={"enum": ["exists"], "description":
                                     "exists: a contact of the client has that name"})


class PeopleAddedSchema(Schema):
    created = fields.List(fields.Nested(ContactSchema))
    skipped = fields.List(fields.Nested(SkippedPersonSchema))
