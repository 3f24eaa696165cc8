"""marshmallow at the edge: what callers may send, and the resource they get back."""
from marshmallow import (RAISE, Schema, ValidationError, fields, validate, validates,
                         validates_schema)

from crm_common.fields import UtcDateTime

from .domain import KINDS, InvalidValue, normalize_dic, normalize_ico


class AddressSchema(Schema):
    street = fields.String(allow_none=True, validate=validate.Length(max=255))
    city = fields.String(allow_none=True, validate=validate.Length(max=120))
    postal_code = fields.String(allow_none=True, validate=validate.Length(max=20))
    country_code = fields.String(allow_none=True, validate=validate.Length(equal=2))
    text = fields.String(allow_none=True, validate=validate.Length(max=500))


class ClientCreateSchema(Schema):
    class Meta:
        unknown = RAISE  # an unknown field is an error, never silently dropped

    kind = fields.String(load_default="company", validate=validate.OneOf(KINDS))
    name = fields.String(validate=validate.Length(min=1, max=255))
    ico = fields.Raw(allow_none=True)
    dic = fields.String(allow_none=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    registered_address = fields.Nested(AddressSchema, allow_none=True)

    @validates("ico")
    def _ico(self, value, **_):
        _check(normalize_ico, value)

    @validates("dic")
    def _dic(self, value, **_):
        _check(normalize_dic, value)

    @validates_schema
    def _name_or_ico(self, data, **_):
        if not (data.get("name") or "").strip() and not data.get("ico"):
            raise ValidationError("Give a name, or an IČO to load the name from ARES.", "name")


def _check(normalizer, value):
    try:
        normalizer(value)
    except InvalidValue as exc:
        raise ValidationError(exc.message) from exc


class RegistrySchema(Schema):
    source = fields.String()
    status = fields.String()
    fetched_at = fields.String(allow_none=True)


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
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    version = fields.Integer()
