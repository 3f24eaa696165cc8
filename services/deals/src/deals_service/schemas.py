"""What the deals service takes in (marshmallow at the edge: the handlers get clean values)."""
from marshmallow import ValidationError, fields, validate, validates, validates_schema

from crm_common.fields import FullMatch, StrictSchema

from . import money
from .domain import CLOSED, STATUSES

ID = validate.Length(min=1, max=36)
PROBABILITY = validate.Range(min=0, max=100)
SORTS = ("created_at", "updated_at", "title", "value", "expected_close_date")


class Amount(fields.String):
    """An amount as a decimal string ("1000000.70"); a JSON number is refused (floats)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError('A decimal string such as "1000000.70" (not a number).')
        if not money.AMOUNT.match(value.strip()):
            raise ValidationError("A decimal number such as 1000000.70 (a dot, no spaces).")
        return value.strip()


class DealFieldsSchema(StrictSchema):
    title = fields.String(validate=validate.Length(min=1, max=255))
    contact_id = fields.String(allow_none=True, validate=ID)
    owner_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    stage_id = fields.String(validate=ID)
    value = Amount(allow_none=True)
    currency = fields.String(validate=FullMatch(money.CURRENCY.pattern,
                                                error="An ISO 4217 code such as CZK or EUR."))
    expected_close_date = fields.Date(allow_none=True)
    probability = fields.Integer(allow_none=True, strict=True, validate=PROBABILITY)
    source = fields.String(allow_none=True, validate=validate.Length(max=120))
    description = fields.String(allow_none=True, validate=validate.Length(max=20_000))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                       validate=validate.Length(max=50))
    # checked against the definitions by the clients service (check_custom_values) first
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=63)))
    unique_custom_fields = fields.List(fields.String(), load_default=list)

    @validates("title")
    def _title_written(self, value, **_):
        if not value.strip():
            raise ValidationError("A title.")

    @validates_schema
    def _amount_fits_currency(self, data, **_):
        if data.get("value") is not None:
            try:
                money.to_minor(data["value"], data.get("currency") or "CZK")
            except money.InvalidAmount as exc:
                raise ValidationError({"value": [str(exc)]}) from exc


class DealCreateSchema(DealFieldsSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=255))
    client_id = fields.String(required=True, validate=ID)
    client_name = fields.String(allow_none=True, validate=validate.Length(max=255))
    client_version = fields.Integer(allow_none=True)
    pipeline_id = fields.String(validate=ID)
    currency = fields.String(load_default="CZK", validate=FullMatch(
        money.CURRENCY.pattern, error="An ISO 4217 code such as CZK or EUR."))


class DealPatchSchema(DealFieldsSchema):
    pass


class CloseSchema(StrictSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(min=1, max=120))
    note = fields.String(allow_none=True, validate=validate.Length(max=5_000))


class DealFiltersSchema(StrictSchema):
    pipeline_id = fields.String(validate=ID)
    stage_id = fields.String(validate=ID)
    status = fields.String(validate=validate.OneOf((*STATUSES, CLOSED)))
    owner_id = fields.String(validate=validate.Length(min=1, max=64))
    client_id = fields.String(validate=ID)
    expected_close_from = fields.Date()
    expected_close_to = fields.Date()
    value_min = Amount()
    value_max = Amount()
    tag = fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                      validate=validate.Length(max=10))
    q = fields.String(validate=validate.Length(max=200))


class PipelineSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=1000))
    stages = fields.List(fields.Nested(lambda: StageCreateSchema()),
                         validate=validate.Length(min=1, max=30))


class PipelinePatchSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=1000))
    is_default = fields.Boolean(validate=validate.Equal(True, error="Make another one the "
                                                        "default instead."))
    archived = fields.Boolean()


class StageCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    probability = fields.Integer(strict=True, load_default=None, allow_none=True,
                                 validate=PROBABILITY)
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=1000))


class StagePatchSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    probability = fields.Integer(strict=True, validate=PROBABILITY)
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=1000))


class LostReasonSchema(StrictSchema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=120))
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=1000))


class LostReasonPatchSchema(StrictSchema):
    label = fields.String(validate=validate.Length(min=1, max=120))
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=1000))
    active = fields.Boolean()
