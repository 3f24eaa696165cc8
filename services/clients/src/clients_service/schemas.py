"""marshmallow at the edge: what callers may send, and the resource they get back."""
import re
from datetime import timezone
from decimal import Decimal

from marshmallow import (Schema, ValidationError, fields, post_load, validate,
                         validates, validates_schema)

from crm_common.fields import (FullMatch, StrictBoolean, StrictSchema, UtcDateTime,
                               reasonable_time)

from .contact_data import normalize_bank_account, normalize_phone
from .custom_fields import APPLIES_TO, TYPES as CUSTOM_TYPES, UNIQUE_TYPES
from .domain import (CATEGORIES, CHANNELS, KINDS, OVERRIDABLE, RELATIONSHIPS, InvalidValue,
                     normalize_dic, normalize_ico)

MAX_LIST = 50  # e-mails, phones, addresses, accounts, tags of one client
LABEL = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=60))


class AddressSchema(Schema):
    street = fields.String(allow_none=True, validate=validate.Length(max=255))
    city = fields.String(allow_none=True, validate=validate.Length(max=120))
    postal_code = fields.String(allow_none=True, validate=validate.Length(max=20))
    country_code = fields.String(allow_none=True, validate=validate.Length(equal=2))
    text = fields.String(allow_none=True, validate=validate.Length(max=500))


class EmailSchema(StrictSchema):
    value = fields.Email(required=True, validate=validate.Length(max=254))
    label = LABEL


class Phone(fields.String):
    """A phone number as typed (1 to 40 characters), loaded as E.164: checked and
    normalised in one parse (phonenumbers' parse is the dearest check of a client)."""
    _length = validate.Length(min=1, max=40)

    def _deserialize(self, value, attr, data, **kwargs):
        return _normalized(normalize_phone, self._length(
            super()._deserialize(value, attr, data, **kwargs)))


class PhoneSchema(StrictSchema):
    value = Phone(required=True)
    label = LABEL


class BankAccountSchema(StrictSchema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    currency = fields.String(load_default="CZK", validate=FullMatch(
        r"^[A-Z]{3}$", error="An ISO 4217 code such as CZK or EUR."))
    primary = fields.Boolean(load_default=False)

    @post_load
    def _canonical(self, data, **_):
        return dict(data, number=_normalized(normalize_bank_account, data["number"], "number"))


class Amount(fields.String):
    """An exact amount of money as a decimal string ("250000.50"), at most 2 decimal places,
    never rounded: a JSON number may already have lost digits in the caller's float, and
    "12.345" is refused rather than quietly made "12.34". Stored with 2 places."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
            raise ValidationError('A decimal string with at most 2 decimal places, e.g. '
                                  '"250000.50".')
        return f"{Decimal(value):.2f}"


_AMOUNT = re.compile(r"[0-9]{1,13}(\.[0-9]{1,2})?")


class BillingSchema(StrictSchema):
    """Each key sent replaces that key (a PATCH merges billing key by key)."""
    currency = fields.String(allow_none=True, validate=FullMatch(
        r"^[A-Z]{3}$", error="An ISO 4217 code such as CZK or EUR."))
    payment_terms_days = fields.Integer(allow_none=True, strict=True,
                                        validate=validate.Range(0, 365))
    credit_limit = Amount(allow_none=True)
    price_group = fields.String(allow_none=True, validate=validate.Length(max=60))


class ContactPreferencesSchema(StrictSchema):
    preferred_channel = fields.String(allow_none=True, validate=validate.OneOf(CHANNELS))
    do_not_contact = fields.Boolean()


class Tags(fields.List):
    """Trimmed, each once, in the order given."""

    def _deserialize(self, value, attr, data, **kwargs):
        tags = super()._deserialize(value, attr, data, **kwargs)
        return list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))


class ClientFieldsSchema(StrictSchema):
    """Every field a user may set, on create and on PATCH."""
    kind = fields.String(validate=validate.OneOf(KINDS))
    name = fields.String(validate=validate.Length(min=1, max=255))
    ico = fields.Raw(allow_none=True)
    dic = fields.String(allow_none=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = Phone(allow_none=True)
    registered_address = fields.Nested(AddressSchema, allow_none=True)
    website = fields.Url(allow_none=True, validate=validate.Length(max=500))
    description = fields.String(allow_none=True, validate=validate.Length(max=10000))
    industry = fields.String(allow_none=True, validate=validate.Length(max=120))
    relationship = fields.String(allow_none=True, validate=validate.OneOf(RELATIONSHIPS))
    category = fields.String(allow_none=True, validate=validate.OneOf(CATEGORIES))
    tags = Tags(fields.String(validate=validate.Length(max=60)),
                validate=validate.Length(max=MAX_LIST))
    owner_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    parent_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=36))
    emails = fields.List(fields.Nested(EmailSchema), validate=validate.Length(max=MAX_LIST))
    phones = fields.List(fields.Nested(PhoneSchema), validate=validate.Length(max=MAX_LIST))
    contact_address = fields.Nested(AddressSchema, allow_none=True)
    delivery_addresses = fields.List(fields.Nested(AddressSchema),
                                     validate=validate.Length(max=MAX_LIST))
    bank_accounts = fields.List(fields.Nested(BankAccountSchema),
                                validate=validate.Length(max=MAX_LIST))
    billing = fields.Nested(BillingSchema, allow_none=True)
    contact_preferences = fields.Nested(ContactPreferencesSchema, allow_none=True)
    # {key: value}; checked against the definitions by the use case (custom_field_handlers)
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(max=63)))
    # registry fields a user may set too (an edit of one with an IČO is an override)
    vat_payer = fields.Boolean(allow_none=True)
    legal_form = fields.String(allow_none=True, validate=validate.Length(max=3))
    legal_form_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    nace = fields.List(fields.String(validate=validate.Length(max=10)),
                       validate=validate.Length(max=MAX_LIST))

    @validates("ico")
    def _ico(self, value, **_):
        _check(normalize_ico, value)

    @validates("dic")
    def _dic(self, value, **_):
        _check(normalize_dic, value)

    @validates("bank_accounts")
    def _one_primary(self, value, **_):
        if sum(1 for account in value if account.get("primary")) > 1:
            raise ValidationError("At most one account is primary.")

    @validates_schema
    def _one_form_of_each(self, data, **_):
        for single, many in (("email", "emails"), ("phone", "phones")):
            if single in data and many in data:
                raise ValidationError(f"Send {many} (the whole list) or {single} (its first "
                                      "entry), not both.", single)

    @post_load
    def _normalized(self, data, **_):
        if data.get("name") is not None:
            data["name"] = data["name"].strip()
        return data


class ClientCreateSchema(ClientFieldsSchema):
    kind = fields.String(load_default="company", validate=validate.OneOf(KINDS))

    @validates_schema
    def _name_or_ico(self, data, **_):
        if not (data.get("name") or "").strip() and not data.get("ico"):
            raise ValidationError("Give a name, or an IČO to load the name from ARES.", "name")


class ClientPatchSchema(ClientFieldsSchema):
    # the fields whose value is the user's, not the register's (the whole list)
    registry_overrides = fields.List(fields.String(validate=validate.OneOf(OVERRIDABLE)),
                                     validate=validate.Length(max=len(OVERRIDABLE)))

    @validates("name")
    def _not_blank(self, value, **_):
        if not value.strip():
            raise ValidationError("The name cannot be blank.")


def _check(normalizer, value):
    _normalized(normalizer, value)


def _normalized(normalizer, value, field_name: str | None = None):
    try:
        return normalizer(value)
    except InvalidValue as exc:
        raise ValidationError(exc.message, field_name) from exc


class RegistrySchema(Schema):
    source = fields.String()
    status = fields.String()
    fetched_at = fields.String(allow_none=True)
    # what the register last said, overridden fields too ("values" would be dict.values)
    values = fields.Method("_values")

    def _values(self, registry: dict):
        return registry.get("values")


class ClientSchema(Schema):
    id = fields.String()
    kind = fields.String()
    name = fields.String()
    ico = fields.String(allow_none=True)
    dic = fields.String(allow_none=True)
    vat_payer = fields.Boolean(allow_none=True)
    vat_group_dic = fields.String(allow_none=True)
    legal_form = fields.String(allow_none=True)
    legal_form_name = fields.String(allow_none=True)
    nace = fields.List(fields.String())
    registered_address = fields.Nested(AddressSchema, allow_none=True)
    dissolved_on = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    registry = fields.Nested(RegistrySchema, allow_none=True)
    website = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    relationship = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    owner_id = fields.String(allow_none=True)
    parent_id = fields.String(allow_none=True)
    emails = fields.List(fields.Nested(EmailSchema))
    phones = fields.List(fields.Nested(PhoneSchema))
    contact_address = fields.Nested(AddressSchema, allow_none=True)
    delivery_addresses = fields.List(fields.Nested(AddressSchema))
    bank_accounts = fields.List(fields.Nested(BankAccountSchema))
    billing = fields.Nested(BillingSchema, allow_none=True)
    contact_preferences = fields.Nested(ContactPreferencesSchema, allow_none=True)
    custom_fields = fields.Dict()
    registry_overrides = fields.List(fields.String())
    created_by = fields.String(allow_none=True)
    updated_by = fields.String(allow_none=True)
    archived_at = UtcDateTime(allow_none=True)
    erased_at = UtcDateTime(allow_none=True)
    merged_into = fields.String(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    version = fields.Integer()


class HistoryEntrySchema(Schema):
    id = fields.String()
    at = UtcDateTime()
    actor = fields.String(allow_none=True)
    action = fields.String()
    changes = fields.Dict()
    version = fields.Integer(allow_none=True)


# -- contact persons -------------------------------------------------------------------

class ContactFieldsSchema(StrictSchema):
    first_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    last_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    degree = fields.String(allow_none=True, validate=validate.Length(max=60),
                           metadata={"example": "Ing."})
    position = fields.String(allow_none=True, validate=validate.Length(max=120))
    emails = fields.List(fields.Nested(EmailSchema), validate=validate.Length(max=MAX_LIST))
    phones = fields.List(fields.Nested(PhoneSchema), validate=validate.Length(max=MAX_LIST))
    note = fields.String(allow_none=True, validate=validate.Length(max=10000))
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(max=63)))

    @post_load
    def _trimmed(self, data, **_):
        for name in ("first_name", "last_name", "degree", "position"):
            if isinstance(data.get(name), str):
                data[name] = data[name].strip() or None
        return data


class ContactCreateSchema(ContactFieldsSchema):
    """A new contact person of a client; `primary` makes them the client's primary one."""
    primary = fields.Boolean(allow_none=True)

    @validates_schema
    def _named(self, data, **_):
        if not (data.get("first_name") or "").strip() and \
                not (data.get("last_name") or "").strip():
            raise ValidationError("Give a first or a last name.", "last_name")


class ContactPatchSchema(ContactFieldsSchema):
    pass


class ContactLinkSchema(StrictSchema):
    """An existing contact person linked to (another) client, or a link changed."""
    contact_id = fields.String(validate=validate.Length(min=1, max=36))
    position = fields.String(allow_none=True, validate=validate.Length(max=120))
    primary = fields.Boolean(allow_none=True)


class LinkSchema(Schema):
    client_id = fields.String()
    position = fields.String(allow_none=True)
    primary = fields.Boolean()


class ContactSchema(Schema):
    id = fields.String()
    name = fields.String()
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    degree = fields.String(allow_none=True)
    position = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    emails = fields.List(fields.Nested(EmailSchema))
    phones = fields.List(fields.Nested(PhoneSchema))
    note = fields.String(allow_none=True)
    custom_fields = fields.Dict()
    created_by = fields.String(allow_none=True)
    updated_by = fields.String(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    version = fields.Integer()


# -- custom field definitions -----------------------------------------------------------

class DefinitionPatchSchema(StrictSchema):
    label = fields.String(validate=validate.Length(min=1, max=120))
    choices = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                          validate=validate.Length(max=500))
    required = fields.Boolean()

    @validates("choices")
    def _distinct(self, value, **_):
        if len(set(value)) != len(value):
            raise ValidationError("Each choice once.")


class DefinitionCreateSchema(DefinitionPatchSchema):
    key = fields.String(required=True, validate=FullMatch(
        r"^[a-z][a-z0-9_]{0,62}$", error="Lower-case letters, digits and _, starting with a "
                                         "letter (at most 63)."))
    label = fields.String(required=True, validate=validate.Length(min=1, max=120))
    type = fields.String(required=True, validate=validate.OneOf(CUSTOM_TYPES))
    applies_to = fields.String(required=True, validate=validate.OneOf(APPLIES_TO))
    choices = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                          load_default=list, validate=validate.Length(max=500))
    required = fields.Boolean(load_default=False)
    unique = fields.Boolean(load_default=False)

    @validates_schema
    def _consistent(self, data, **_):
        kind = data.get("type")
        if kind in ("choice", "multi_choice") and not data.get("choices"):
            raise ValidationError("A choice field needs at least one choice.", "choices")
        if kind not in ("choice", "multi_choice") and data.get("choices"):
            raise ValidationError("Only a choice field has choices.", "choices")
        if data.get("unique") and kind not in UNIQUE_TYPES:
            raise ValidationError(f"Only {', '.join(UNIQUE_TYPES)} fields can be unique.",
                                  "unique")


class DefinitionSchema(Schema):
    id = fields.String()
    key = fields.String()
    label = fields.String()
    type = fields.String()
    applies_to = fields.String()
    choices = fields.List(fields.String())
    required = fields.Boolean()
    unique = fields.Boolean()
    retired_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    version = fields.Integer()


REGISTRY_STATUSES = ("pending", "ok", "not_found", "invalid", "unavailable")
ARCHIVED_FILTERS = ("false", "true", "only")  # ?archived=: leave out, include, only


class IcoFilter(fields.String):
    """An IČO to look for: spaces allowed, no check digit test (a typo finds nothing)."""

    def _deserialize(self, value, attr, data, **kwargs):
        digits = super()._deserialize(value, attr, data, **kwargs).replace(" ", "")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 8:
            raise ValidationError("IČO must be up to 8 digits.")
        return digits.zfill(8)


class ClientFiltersSchema(StrictSchema):
    """The list's filters (combined: every one given must hold)."""
    archived = fields.String(load_default="false", validate=validate.OneOf(ARCHIVED_FILTERS))
    ico = IcoFilter()
    relationship = fields.String(validate=validate.OneOf(RELATIONSHIPS))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=60)),
                       validate=validate.Length(max=20))
    owner_id = fields.String(validate=validate.Length(max=64))
    city = fields.String(validate=validate.Length(min=1, max=120))
    parent_id = fields.String(validate=validate.Length(max=36))
    registry_status = fields.String(validate=validate.OneOf(REGISTRY_STATUSES))
    vat_payer = StrictBoolean()
    created_after = fields.AwareDateTime(default_timezone=timezone.utc,
                                         validate=reasonable_time)
    created_before = fields.AwareDateTime(default_timezone=timezone.utc,
                                          validate=reasonable_time)
    custom_fields = fields.Dict(keys=fields.String(validate=FullMatch(r"^[a-z][a-z0-9_]{0,62}$")),
                                values=fields.String(validate=validate.Length(max=500)),
                                validate=validate.Length(max=10))
