"""marshmallow schemas of the API: request validation and the OpenAPI document."""
from apispec import BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from marshmallow import (INCLUDE, Schema, ValidationError, fields, missing as missing_,
                         validate, validates_schema)

from crm_common import ico
from crm_common.fields import FullMatch, StrictSchema as StoredTextSchema, reasonable_time

KINDS = ("company", "person")
NOTE_TYPES = ("note", "meeting", "call", "email")
RELATIONSHIPS = ("customer", "prospect", "partner", "supplier", "competitor", "other")
CATEGORIES = ("A", "B", "C")
CHANNELS = ("email", "phone", "post", "meeting")
ARCHIVED = ("false", "true", "only")
MAX_LIST = 50
CURRENCY = FullMatch(r"^[A-Z]{3}$", error="An ISO 4217 code such as CZK or EUR.")
# Some character that str.strip() keeps (a JSON Schema pattern matches anywhere). Not
# `\S`: Python's `\s` also takes \x1c-\x1f and \x85, a JSON Schema (ECMA) one \ufeff.
NOT_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
# a website: http(s), a host name with a top-level domain, printable ASCII after it (what
# marshmallow's URL takes too)
WEB_URL = (r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
           r"[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9](?::[0-9]{1,5})?(?:/|[/?][!-~]+)?$")
# an IČO's form (8 digits at most, spaces between them ignored); its check digit is checked
# too, which no pattern says
ICO_FORM = r"^ *(?:[0-9] *){1,8}$|^$"
# a moment a CRM records (`reasonable_time`: 1900 to 2200 in UTC): the years 1901 to 2199
# whatever the offset
MOMENT = r"^(?:19(?:0[1-9]|[1-9][0-9])|2[01][0-9]{2})-"


def _non_blank(name: str) -> dict:
    """A JSON Schema: the object has `name`, and it is text that is not blank."""
    return {"required": [name], "properties": {name: {"type": "string", "pattern": NOT_BLANK}}}


def _only_null(self, field, ret, **_) -> dict:
    """(An apispec attribute function.) The "or null" of a nullable nested object: null."""
    branches = ret.get("anyOf")
    if not branches or {"type": "object", "nullable": True} not in branches:
        return {}
    return {"anyOf": [{"type": "object", "nullable": True, "enum": [None]}
                      if branch == {"type": "object", "nullable": True} else branch
                      for branch in branches]}


class ObjectRulesPlugin(BasePlugin):
    """Rules about a request object as a whole (one field or another, not both...) that
    its service checks: a schema's `OPENAPI_RULES` (JSON Schema keywords) join its
    document, so a request the document calls valid is one the API accepts.

    And a nested object that may be null is that object or null: apispec writes OpenAPI
    3.0's "or null" as `{"type": "object", "nullable": true}`, which any object matches."""

    def init_spec(self, spec):
        super().init_spec(spec)
        for plugin in spec.plugins:
            if getattr(plugin, "converter", None) is not None:  # the marshmallow plugin's
                plugin.converter.add_attribute_function(_only_null)

    def schema_helper(self, name, definition, **kwargs):
        schema = kwargs.get("schema")
        return getattr(resolve_schema_cls(schema), "OPENAPI_RULES", None) if schema else None


class StrictSchema(StoredTextSchema):
    """Unknown fields are errors, and text a database would refuse is refused here already."""


class DigitsField(fields.String):
    """A string; a JSON number is accepted too (an IČO typed as a number)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


def check_ico(value):
    """Refused here already, so a typo never reaches a service (nor its events), even when
    the clients service is down; the clients service checks it again."""
    if value is None or value == "":
        return
    try:
        ico.validate(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class AddressSchema(StrictSchema):
    street = fields.String(allow_none=True, validate=validate.Length(max=255))
    city = fields.String(allow_none=True, validate=validate.Length(max=120))
    postal_code = fields.String(allow_none=True, validate=validate.Length(max=20))
    country_code = fields.String(allow_none=True, validate=validate.Length(equal=2),
                                 metadata={"example": "CZ"})
    text = fields.String(allow_none=True, validate=validate.Length(max=500))


class EmailEntrySchema(StrictSchema):
    value = fields.Email(required=True, validate=validate.Length(max=254))
    label = fields.String(allow_none=True, validate=validate.Length(max=60),
                          metadata={"example": "fakturace"})


class PhoneEntrySchema(StrictSchema):
    value = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={
        "description": "Stored in E.164; numbers without a country code are Czech",
        "example": "603 111 222"})
    label = fields.String(allow_none=True, validate=validate.Length(max=60))


class BankAccountSchema(StrictSchema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={
        "description": "Czech (prefix-number/bank code, checked) or IBAN",
        "example": "19-2000145399/0800"})
    currency = fields.String(validate=CURRENCY, metadata={"default": "CZK"})
    primary = fields.Boolean(metadata={"default": False})


class BillingSchema(StrictSchema):
    currency = fields.String(allow_none=True, validate=CURRENCY)
    payment_terms_days = fields.Integer(allow_none=True, strict=True,
                                        validate=validate.Range(0, 365))
    credit_limit = fields.String(allow_none=True, validate=FullMatch(
        r"^[0-9]{1,13}(\.[0-9]{1,2})?$", error='A decimal string with at most 2 decimal '
                                                'places, e.g. "250000.50".'), metadata={
        "description": "An exact decimal string, never a JSON number", "example": "250000.00"})
    price_group = fields.String(allow_none=True, validate=validate.Length(max=60))


class ContactPreferencesSchema(StrictSchema):
    preferred_channel = fields.String(allow_none=True, validate=validate.OneOf(CHANNELS))
    do_not_contact = fields.Boolean()


class ClientFieldsSchema(StrictSchema):
    """What a user may set on a client (create and PATCH)."""
    # the clients service refuses both forms of one thing in one request
    OPENAPI_RULES = {"not": {"anyOf": [{"required": ["email", "emails"]},
                                       {"required": ["phone", "phones"]}]}}

    kind = fields.String(validate=validate.OneOf(KINDS), metadata={"default": "company"})
    name = fields.String(validate=validate.Length(min=1, max=255),
                         metadata={"description": "Required unless an IČO is given "
                                                  "(the name is then loaded from ARES).",
                                   "pattern": NOT_BLANK})
    ico = DigitsField(allow_none=True, validate=check_ico,
                      metadata={"description": "IČO (8 digits, checked)",
                                "example": "25596641", "pattern": ICO_FORM})
    dic = fields.String(allow_none=True, metadata={"example": "CZ25596641"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=254), metadata={
        "description": "The first of `emails` (send one or the other)"})
    phone = fields.String(allow_none=True, validate=validate.Length(max=40), metadata={
        "description": "The first of `phones` (send one or the other)"})
    registered_address = fields.Nested(AddressSchema, allow_none=True)
    website = fields.Url(allow_none=True, schemes={"http", "https"},
                         validate=[validate.Length(max=500), FullMatch(WEB_URL)],
                         metadata={"example": "https://www.example.cz"})
    description = fields.String(allow_none=True, validate=validate.Length(max=10000))
    industry = fields.String(allow_none=True, validate=validate.Length(max=120))
    relationship = fields.String(allow_none=True, validate=validate.OneOf(RELATIONSHIPS))
    category = fields.String(allow_none=True, validate=validate.OneOf(CATEGORIES))
    tags = fields.List(fields.String(validate=validate.Length(max=60)),
                       validate=validate.Length(max=MAX_LIST))
    owner_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    parent_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=36), metadata={
        "description": "The parent company (groups of any depth); a cycle is a 409"})
    emails = fields.List(fields.Nested(EmailEntrySchema), validate=validate.Length(max=MAX_LIST))
    phones = fields.List(fields.Nested(PhoneEntrySchema), validate=validate.Length(max=MAX_LIST))
    contact_address = fields.Nested(AddressSchema, allow_none=True)
    delivery_addresses = fields.List(fields.Nested(AddressSchema),
                                     validate=validate.Length(max=MAX_LIST))
    bank_accounts = fields.List(fields.Nested(BankAccountSchema),
                                validate=validate.Length(max=MAX_LIST))
    billing = fields.Nested(BillingSchema, allow_none=True)
    contact_preferences = fields.Nested(ContactPreferencesSchema, allow_none=True)
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(max=63)), metadata={
        "description": "{key: value} of the custom fields defined for clients "
                       "(/api/v1/custom-fields); on PATCH merged key by key, null removes"})
    vat_payer = fields.Boolean(allow_none=True)
    legal_form = fields.String(allow_none=True, validate=validate.Length(max=3))
    legal_form_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    nace = fields.List(fields.String(validate=validate.Length(max=10)),
                       validate=validate.Length(max=MAX_LIST))


OVERRIDABLE = ("name", "dic", "vat_payer", "legal_form", "legal_form_name", "nace",
               "registered_address")


class ClientCreateSchema(ClientFieldsSchema):
    """A new client: a name or an IČO at least."""
    OPENAPI_RULES = {"allOf": [ClientFieldsSchema.OPENAPI_RULES, {"anyOf": [
        {"required": ["name"]},
        {"required": ["ico"], "properties": {"ico": {"type": "string", "minLength": 1}}}]}]}


class ClientPatchSchema(ClientFieldsSchema):
    """The fields to change: each one sent replaces that field (lists whole); null clears.

    Changing a field the register owns (name, DIČ, VAT payer, legal form, NACE, registered
    address) of a client with an IČO makes it an override: later ARES refreshes leave it,
    and `registry.values` shows what the register says."""
    registry_overrides = fields.List(fields.String(validate=validate.OneOf(OVERRIDABLE)),
                                     validate=validate.Length(max=len(OVERRIDABLE)),
                                     metadata={"description": "the whole list of overridden "
                                               "fields; one left out takes the register's "
                                               "value again"})


UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


SIDE = validate.OneOf(("source", "target"))
# what a merge picks a side of (clients_service.merge: SINGLE, UNITED)
MERGE_SINGLE = ("kind", "name", "ico", "dic", "vat_payer", "legal_form", "legal_form_name",
                "nace", "registered_address", "website", "description", "industry",
                "relationship", "category", "owner_id", "parent_id", "contact_address",
                "billing", "contact_preferences")
MERGE_UNITED = ("emails", "phones", "tags", "delivery_addresses", "bank_accounts")


class MergeFieldsSchema(StrictSchema):
    """Whose value each field keeps: `source` or `target`. A field not named keeps the
    target's value, or takes the source's where the target has none (except the register's
    fields of a client with an IČO: the register fills those). Lists are united, the named
    side's entries first (so its first e-mail and phone become `email` and `phone`)."""
    class Meta:
        include = {name: fields.String(validate=SIDE) for name in MERGE_SINGLE + MERGE_UNITED}

    custom_fields = fields.Dict(keys=fields.String(), values=fields.String(validate=SIDE),
                                metadata={"description": "per custom field key (a key "
                                          "neither client has changes nothing)"})


class ClientMergeSchema(StrictSchema):
    """A duplicate (`source_id`) merged into this client (the target, which stays)."""
    source_id = fields.String(required=True, validate=FullMatch(UUID, error="A client's id."),
                              metadata={"format": "uuid", "description": "the duplicate"})
    fields = fields.Nested(MergeFieldsSchema, load_default=dict,
                           metadata={"example": {"name": "source", "emails": "target"}})


MAX_BATCH = 1000


class ClientBatchSchema(StrictSchema):
    # anything else than a client object is answered in place with its errors, as an
    # invalid client is
    items = fields.List(fields.Raw(allow_none=True, metadata={"description":
                                             "a client, as for POST /api/v1/clients"}),
                        required=True, validate=validate.Length(min=1, max=MAX_BATCH),
                        metadata={"description": f"1 to {MAX_BATCH} clients"})


class SubsidiariesQuerySchema(Schema):
    depth = fields.String(load_default="1", validate=validate.OneOf(("1", "all")), metadata={
        "description": "1: direct subsidiaries; all: the whole group below the client"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class PageQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class HistoryQuerySchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class HistoryEntrySchema(Schema):
    id = fields.String()
    at = fields.String(metadata={"format": "date-time"})
    actor = fields.String(allow_none=True, metadata={
        "description": "who: a user, `system:ares` for the register, null when unknown"})
    action = fields.String(metadata={"enum": [
        "created", "updated", "registry", "archived", "restored", "erased", "contact_added",
        "contact_changed", "contact_removed", "contact_erased"]})
    changes = fields.Dict(metadata={"description": "{field: {before, after}}"})
    version = fields.Integer(allow_none=True, metadata={"description": "the client's version "
                                                                       "after the change"})


class HistoryPageSchema(Schema):
    items = fields.List(fields.Nested(HistoryEntrySchema))
    next_cursor = fields.String(allow_none=True)


class PassedOn(fields.Nested):
    """Documented as its nested schema, passed on as the service answered it (what the
    register says may hold more than this version of the document knows). Read with
    `.get`: `values` would otherwise be the answer's dict.values."""

    def get_value(self, obj, attr, accessor=None, default=missing_):
        if isinstance(obj, dict):
            return obj.get(attr, default)
        return super().get_value(obj, attr, accessor, default)

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        return nested_obj


class RegisterAddressSchema(Schema):
    """An address as the register gives it (keys may be added: what ARES adds)."""
    class Meta:
        unknown = INCLUDE

    street = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True, metadata={"example": "27704"})
    postal_code_formatted = fields.String(allow_none=True, metadata={
        "description": "as written on a letter", "example": "277 04"})
    country_code = fields.String(allow_none=True)
    text = fields.String(allow_none=True)


class DeliveryAddressSchema(Schema):
    class Meta:
        unknown = INCLUDE

    lines = fields.List(fields.String(), metadata={"description": "as on an envelope"})
    text = fields.String(allow_none=True)


class RegistryRecordSchema(Schema):
    """What the register (ARES) says of a subject. The client keeps most of it in its own
    fields; `established_on`, `updated_in_registry_on`, `delivery_address` and
    `primary_source` are only here."""
    class Meta:
        unknown = INCLUDE

    ico = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    dic = fields.String(allow_none=True)
    vat_payer = fields.Boolean(allow_none=True)
    vat_group_dic = fields.String(allow_none=True)
    legal_form = fields.String(allow_none=True)
    legal_form_name = fields.String(allow_none=True)
    nace = fields.List(fields.String())
    registered_address = fields.Nested(RegisterAddressSchema, allow_none=True)
    established_on = fields.String(allow_none=True, metadata={"format": "date"})
    dissolved_on = fields.String(allow_none=True, metadata={"format": "date"})
    updated_in_registry_on = fields.String(allow_none=True, metadata={
        "format": "date", "description": "when the register last changed the record"})
    delivery_address = fields.Nested(DeliveryAddressSchema, allow_none=True)
    primary_source = fields.String(allow_none=True, metadata={
        "description": "the register ARES took the record from (e.g. `ros`, `res`, `vr`)"})


class RegistrySchema(Schema):
    source = fields.String(allow_none=True)
    fetched_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    status = fields.String(allow_none=True)
    values = PassedOn(RegistryRecordSchema, allow_none=True, metadata={
        "description": "what the register last said, also for the fields a user overrode"})


class DuplicateSchema(Schema):
    id = fields.String()
    name = fields.String()
    reason = fields.String(metadata={"enum": ["email", "phone", "name"]})


class ClientSchema(Schema):
    """The client resource, as the clients service answers it."""
    id = fields.String(metadata={"format": "uuid"})
    kind = fields.String(metadata={"enum": list(KINDS)})
    name = fields.String()
    ico = fields.String(allow_none=True)
    dic = fields.String(allow_none=True)
    vat_payer = fields.Boolean(allow_none=True)
    vat_group_dic = fields.String(allow_none=True, metadata={
        "description": "DIČ of the VAT group the client belongs to (from ARES)"})
    legal_form = fields.String(allow_none=True)
    legal_form_name = fields.String(allow_none=True)
    nace = fields.List(fields.String())
    registered_address = fields.Nested(AddressSchema, allow_none=True)
    dissolved_on = fields.String(allow_none=True, metadata={
        "format": "date", "description": "when the register says the subject ceased to exist"})
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    registry = fields.Nested(RegistrySchema, allow_none=True)
    website = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    relationship = fields.String(allow_none=True, metadata={"enum": [*RELATIONSHIPS, None]})
    category = fields.String(allow_none=True, metadata={"enum": [*CATEGORIES, None]})
    tags = fields.List(fields.String())
    owner_id = fields.String(allow_none=True)
    parent_id = fields.String(allow_none=True)
    emails = fields.List(fields.Nested(EmailEntrySchema))
    phones = fields.List(fields.Nested(PhoneEntrySchema))
    contact_address = fields.Nested(AddressSchema, allow_none=True)
    delivery_addresses = fields.List(fields.Nested(AddressSchema))
    bank_accounts = fields.List(fields.Nested(BankAccountSchema))
    billing = fields.Nested(BillingSchema, allow_none=True)
    contact_preferences = fields.Nested(ContactPreferencesSchema, allow_none=True)
    custom_fields = fields.Dict()
    registry_overrides = fields.List(fields.String(), metadata={
        "description": "register fields whose value is the user's"})
    created_by = fields.String(allow_none=True)
    updated_by = fields.String(allow_none=True)
    archived_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    erased_at = fields.String(allow_none=True, metadata={
        "format": "date-time", "description": "set once the person's data was erased"})
    merged_into = fields.String(allow_none=True, metadata={
        "format": "uuid", "description": "set once the client was merged into that one "
                                         "(it is archived, and GET answers 301 there)"})
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    version = fields.Integer(metadata={"description": "Also the weak ETag W/\"<version>\""})
    possible_duplicates = fields.List(fields.Nested(DuplicateSchema), metadata={
        "description": "in the answer to a create or a change: active clients with the same "
                       "e-mail, phone or name (legal form aside); the write went through"})


class DuplicateMemberSchema(Schema):
    id = fields.String()
    name = fields.String()


class DuplicateGroupSchema(Schema):
    reason = fields.String(metadata={"enum": ["email", "phone", "name"]})
    value = fields.String(metadata={"description": "what they share (a name: folded, "
                                                   "without its legal form)"})
    clients = fields.List(fields.Nested(DuplicateMemberSchema))


class DuplicateReportSchema(Schema):
    items = fields.List(fields.Nested(DuplicateGroupSchema))
    next_cursor = fields.String(allow_none=True)


class ClientBatchItemSchema(Schema):
    status = fields.Integer(metadata={"enum": [201, 409, 422], "description":
                                      "201 created (or created before under the same "
                                      "Idempotency-Key), 422 invalid, 409 conflict"})
    client = fields.Nested(ClientSchema, metadata={"description": "with 201"})
    errors = fields.List(fields.Nested(lambda: FieldErrorSchema()),
                         metadata={"description": "with 422 and 409: what is wrong"})
    existing_id = fields.String(metadata={"description": "with 409: the active client "
                                                         "that has this IČO"})


class ClientBatchResultSchema(Schema):
    items = fields.List(fields.Nested(ClientBatchItemSchema),
                        metadata={"description": "one answer per item, in the order sent"})


class ClientPageSchema(Schema):
    items = fields.List(fields.Nested(ClientSchema))
    total = fields.Integer(metadata={"description": "with include_total=true: how many match"})
    next_cursor = fields.String(allow_none=True)


TIMELINE_TYPES = ("note", "meeting", "call", "email", "task", "system")


class NoteCreateSchema(StrictSchema):
    """A title, a body or both."""
    OPENAPI_RULES = {"anyOf": [_non_blank("title"), _non_blank("body")]}

    title = fields.String(allow_none=True, validate=validate.Length(max=255))
    body = fields.String(allow_none=True, validate=validate.Length(max=20000))
    type = fields.String(load_default="note", validate=validate.OneOf(NOTE_TYPES))
    occurred_at = fields.DateTime(allow_none=True, validate=reasonable_time, metadata={
        "description": "When it happened (RFC 3339; the years 1900 to 2200); default now",
        "pattern": MOMENT})

    @validates_schema
    def _something_written(self, data, **_):
        if not (data.get("title") or "").strip() and not (data.get("body") or "").strip():
            raise ValidationError("Give a title or a body.", "body")


class ContactFieldsSchema(StrictSchema):
    first_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    last_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    degree = fields.String(allow_none=True, validate=validate.Length(max=60),
                           metadata={"example": "Ing."})
    position = fields.String(allow_none=True, validate=validate.Length(max=120), metadata={
        "description": "The person's job title; when added to a client, also their position "
                       "there unless the link says otherwise"})
    emails = fields.List(fields.Nested(EmailEntrySchema), validate=validate.Length(max=MAX_LIST))
    phones = fields.List(fields.Nested(PhoneEntrySchema), validate=validate.Length(max=MAX_LIST))
    note = fields.String(allow_none=True, validate=validate.Length(max=10000))
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(max=63)), metadata={
        "description": "{key: value} of the custom fields defined for contacts"})


class ContactAddSchema(ContactFieldsSchema):
    """A new contact person (a first or last name at least), or with `contact_id` an
    existing one linked to this client too (then only `position` and `primary` go with
    it)."""
    OPENAPI_RULES = {"anyOf": [
        {"required": ["contact_id"], "properties": {
            name: {"not": {}} for name in ContactFieldsSchema._declared_fields
            if name != "position"}},
        {"properties": {"contact_id": {"not": {}}},
         "anyOf": [_non_blank("first_name"), _non_blank("last_name")]}]}

    contact_id = fields.String(validate=validate.Length(min=1, max=36))
    primary = fields.Boolean(allow_none=True, metadata={
        "description": "the client's primary contact (the first one is unless false); "
                       "making one primary unsets the other"})


class ContactPatchSchema(ContactFieldsSchema):
    """The fields to change; each one sent replaces that field (a contact keeps a first or
    a last name)."""
    OPENAPI_RULES = {"not": {"required": ["first_name", "last_name"], "properties": {
        name: {"not": {"type": "string", "pattern": NOT_BLANK}}
        for name in ("first_name", "last_name")}}}


class ContactLinkPatchSchema(StrictSchema):
    position = fields.String(allow_none=True, validate=validate.Length(max=120))
    primary = fields.Boolean(allow_none=True)


class ContactLinkSchema(Schema):
    client_id = fields.String()
    position = fields.String(allow_none=True)
    primary = fields.Boolean()


class ContactSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    name = fields.String(metadata={"description": "degree, first and last name"})
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    degree = fields.String(allow_none=True)
    position = fields.String(allow_none=True)
    email = fields.String(allow_none=True, metadata={"description": "the first of emails"})
    phone = fields.String(allow_none=True, metadata={"description": "the first of phones"})
    emails = fields.List(fields.Nested(EmailEntrySchema))
    phones = fields.List(fields.Nested(PhoneEntrySchema))
    note = fields.String(allow_none=True)
    custom_fields = fields.Dict()
    clients = fields.List(fields.Nested(ContactLinkSchema), metadata={
        "description": "the clients the person works with"})
    link = fields.Nested(ContactLinkSchema, metadata={
        "description": "in a client's list: the link to that client"})
    created_by = fields.String(allow_none=True)
    updated_by = fields.String(allow_none=True)
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    version = fields.Integer(metadata={"description": "Also the weak ETag W/\"<version>\""})


class ContactErasedSchema(Schema):
    id = fields.String()
    erased = fields.Boolean()
    erased_at = fields.String(metadata={"format": "date-time"})


class ContactPageSchema(Schema):
    items = fields.List(fields.Nested(ContactSchema))
    next_cursor = fields.String(allow_none=True)


CUSTOM_TYPES = ("text", "number", "decimal", "date", "bool", "choice", "multi_choice", "url",
                "email")


class DefinitionPatchSchema(StrictSchema):
    label = fields.String(validate=validate.Length(min=1, max=120))
    choices = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                          validate=validate.Length(min=1, max=500), metadata={
                              "description": "choice and multi_choice fields only (the "
                                             "whole list, each choice once)",
                              "uniqueItems": True})
    required = fields.Boolean(metadata={"description": "a value is needed when a record is "
                                                       "created, and cannot be removed"})


class DefinitionCreateSchema(DefinitionPatchSchema):
    # choices are for the choice types only (and they need one); only some types can
    # be unique
    OPENAPI_RULES = {"anyOf": [
        {"required": ["choices"], "properties": {
            "type": {"enum": ["choice", "multi_choice"]}, "choices": {"minItems": 1},
            "unique": {"enum": [False]}}},
        {"properties": {"type": {"enum": ["text", "url", "email", "decimal"]},
                        "choices": {"maxItems": 0}}},
        {"properties": {"type": {"enum": ["number", "date", "bool"]},
                        "choices": {"maxItems": 0}, "unique": {"enum": [False]}}}]}

    key = fields.String(required=True, validate=FullMatch(r"^[a-z][a-z0-9_]{0,62}$"),
                        metadata={"example": "erp_code"})
    label = fields.String(required=True, validate=validate.Length(min=1, max=120))
    type = fields.String(required=True, validate=validate.OneOf(CUSTOM_TYPES))
    applies_to = fields.String(required=True, validate=validate.OneOf(
        ("client", "contact", "deal")))
    choices = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                          validate=validate.Length(max=500), metadata={
                              "description": "choice and multi_choice fields only, one "
                                             "at least (each choice once)",
                              "uniqueItems": True})
    unique = fields.Boolean(metadata={"description": "no two records with the same value "
                                                     "(text, url, email, decimal)"})


class DefinitionSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    key = fields.String()
    label = fields.String()
    type = fields.String(metadata={"enum": list(CUSTOM_TYPES)})
    applies_to = fields.String(metadata={"enum": ["client", "contact", "deal"]})
    choices = fields.List(fields.String())
    required = fields.Boolean()
    unique = fields.Boolean()
    retired_at = fields.String(allow_none=True, metadata={
        "format": "date-time", "description": "set once retired: no longer writable, the "
                                              "values written are kept"})
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    version = fields.Integer()


class DefinitionListSchema(Schema):
    items = fields.List(fields.Nested(DefinitionSchema))
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "always null: every definition fits in one answer"})


class DefinitionQuerySchema(Schema):
    applies_to = fields.String(validate=validate.OneOf(("client", "contact", "deal")))
    include_retired = fields.Boolean(load_default=False)


class CardSectionSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "unavailable"], "description":
                                     "unavailable: its service did not answer in time"})
    items = fields.List(fields.Dict(), metadata={"description": "with ok, for lists"})
    next_cursor = fields.String(allow_none=True)


class ClientCardSchema(Schema):
    client = fields.Nested(ClientSchema)
    parent = fields.Dict(metadata={"description": '{"status", "client": the parent or null}'})
    contacts = fields.Nested(CardSectionSchema, metadata={
        "description": "the contact persons, the primary one first (first page)"})
    subsidiaries = fields.Nested(CardSectionSchema, metadata={
        "description": "direct subsidiaries (first page)"})
    timeline = fields.Nested(CardSectionSchema, metadata={
        "description": "the most recent timeline entries"})
    open_deals = fields.Nested(CardSectionSchema, metadata={
        "description": "open deals, the most recently changed first (first page)"})
    closed_deals = fields.Nested(CardSectionSchema, metadata={
        "description": "won and lost deals, the most recently changed first (first page)"})
    deal_summary = fields.Dict(metadata={
        "description": '{"status", and with ok: open, won (all time, the last 12 months), '
                       'lost, win rate, per currency} as GET /clients/{id}/deal-summary'})
    open_tasks = fields.Nested(CardSectionSchema, metadata={
        "description": "open tasks of the client and its deals, the soonest due first "
                       "(first page)"})


class FieldErrorSchema(Schema):
    field = fields.String(allow_none=True)
    message = fields.String()
    location = fields.String()


class ProblemSchema(Schema):
    """RFC 9457 problem details (application/problem+json); a problem type may add its own
    members (extensions)."""
    class Meta:
        unknown = INCLUDE  # documented as additionalProperties: true

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    correlation_id = fields.String()
    errors = fields.List(fields.Nested(FieldErrorSchema),
                         metadata={"description": "validation errors, one per message"})
    fields_ = fields.Dict(data_key="fields",
                          metadata={"description": "validation errors as {field: [messages]}"})
    errors_omitted = fields.Integer(metadata={
        "description": "validation errors left out of `errors` (the first 100 are given)"})
    idempotency_key = fields.String(metadata={
        "description": "On a 504 (outcome unknown) of a write: the Idempotency-Key it was "
                       "sent with (yours, or the one the gateway made); retry with it"})


class ServiceStatusSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "unavailable"]})
    error = fields.String(metadata={
        "description": "why it is unavailable: timeout, not_consuming (no instance running), "
                       "broker_blocked, broker_unavailable, or the service's error type"})
    latency_ms = fields.Float(metadata={"description": "how long its `health` answer took"})


class StatusSchema(Schema):
    """Service health as this gateway sees it (cached for a few seconds)."""
    status = fields.String(metadata={
        "enum": ["ok", "degraded"], "description": "ok: the broker and every service answer"})
    broker = fields.String(metadata={
        "enum": ["ok", "blocked", "unavailable"],
        "description": "blocked: the broker refuses new messages (memory or disk alarm)"})
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ServiceStatusSchema))
    checked_at = fields.String(metadata={"format": "date-time"})
