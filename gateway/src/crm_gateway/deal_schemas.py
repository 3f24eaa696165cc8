"""Schemas of deals, pipelines, stages and lost reasons (the deals service checks them again;
these are the document's and the first line)."""
from marshmallow import Schema, ValidationError, fields, validate

from crm_common.fields import FullMatch

from .schemas import UUID, StrictSchema

AMOUNT = r"^[0-9]{1,15}(\.[0-9]{1,4})?$"
CURRENCY = FullMatch(r"^[A-Z]{3}$", error="An ISO 4217 code such as CZK or EUR.")
STATUSES = ("open", "won", "lost")
DEAL_SORTS = ("created_at", "updated_at", "title", "value", "expected_close_date")
ID = FullMatch(UUID, error="An id.")
PROBABILITY = validate.Range(min=0, max=100)
POSITION = validate.Range(min=0, max=1000)
NAME = validate.Length(min=1, max=120)


class Amount(fields.String):
    """A decimal string; a JSON number is refused (it would be a float somewhere)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError('A decimal string such as "1000000.70" (not a number).')
        return super()._deserialize(value, attr, data, **kwargs)


def amount(description: str | None = None, **kwargs):
    return Amount(validate=FullMatch(AMOUNT, error="A decimal such as 1000000.70 (a dot, at "
                                                   "most 4 decimals)."),
                  metadata={"example": "1000000.70", "pattern": AMOUNT,
                            **({"description": description} if description else {})},
                  **kwargs)


class DealFieldsSchema(StrictSchema):
    title = fields.String(validate=[validate.Length(min=1, max=255),
                                    FullMatch(r"^.*\S.*$", error="A title.")])
    contact_id = fields.String(allow_none=True, validate=ID, metadata={"format": "uuid"})
    owner_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    stage_id = fields.String(validate=ID, metadata={"format": "uuid"})
    value = amount(allow_none=True)
    currency = fields.String(validate=CURRENCY, metadata={"example": "CZK"})
    expected_close_date = fields.Date(allow_none=True)
    probability = fields.Integer(allow_none=True, strict=True, validate=PROBABILITY, metadata={
        "description": "%; null: the stage's default again (moves then follow the stage)"})
    source = fields.String(allow_none=True, validate=validate.Length(max=120))
    description = fields.String(allow_none=True, validate=validate.Length(max=20_000))
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                       validate=validate.Length(max=50))
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(max=63)), metadata={
        "description": "{key: value} of the custom fields defined for deals "
                       "(/api/v1/custom-fields, applies_to deal); on PATCH merged key by key, "
                       "null removes"})


class DealCreateSchema(DealFieldsSchema):
    title = fields.String(required=True, validate=[
        validate.Length(min=1, max=255), FullMatch(r"^.*\S.*$", error="A title.")])
    client_id = fields.String(required=True, validate=ID, metadata={"format": "uuid"})
    pipeline_id = fields.String(validate=ID, metadata={
        "format": "uuid", "description": "default: the default pipeline"})


class DealPatchSchema(DealFieldsSchema):
    """The fields to change; a new `stage_id` moves the deal (send If-Match)."""


class DealCloseSchema(StrictSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(min=1, max=120),
                           metadata={"description": "lost: one of /api/v1/lost-reasons"})
    note = fields.String(allow_none=True, validate=validate.Length(max=5_000))


class DealSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    title = fields.String()
    client_id = fields.String(metadata={"format": "uuid"})
    contact_id = fields.String(allow_none=True)
    owner_id = fields.String(allow_none=True)
    pipeline_id = fields.String()
    stage_id = fields.String()
    stage_name = fields.String(allow_none=True)
    value = fields.String(allow_none=True, metadata={"description": "exact decimal"})
    currency = fields.String()
    weighted_value = fields.String(allow_none=True, metadata={
        "description": "value × probability, rounded to the currency's minor unit"})
    probability = fields.Integer()
    probability_manual = fields.Boolean()
    expected_close_date = fields.String(allow_none=True, metadata={"format": "date"})
    source = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    custom_fields = fields.Dict()
    status = fields.String(metadata={"enum": list(STATUSES)})
    closed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    lost_reason = fields.String(allow_none=True)
    lost_note = fields.String(allow_none=True)
    client_archived = fields.Boolean(metadata={"description": "the client was archived "
                                                              "while the deal was open"})
    stage_entered_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    created_by = fields.String(allow_none=True)
    updated_by = fields.String(allow_none=True)
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    version = fields.Integer()


class DealPageSchema(Schema):
    items = fields.List(fields.Nested(DealSchema))
    next_cursor = fields.String(allow_none=True)


class DealFiltersSchema(Schema):
    """The filters of the deal list and the board."""
    owner_id = fields.String(validate=validate.Length(min=1, max=64))
    client_id = fields.String(validate=ID)
    expected_close_from = fields.Date()
    expected_close_to = fields.Date()
    value_min = amount("in each deal's own currency")
    value_max = amount()
    tag = fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                      validate=validate.Length(max=10), metadata={
                          "description": "repeatable: deals with every tag given"})
    q = fields.String(validate=validate.Length(max=200), metadata={
        "description": "words of the title or the client's name (diacritics and case "
                       "do not matter)"})


class DealListQuerySchema(DealFiltersSchema):
    pipeline_id = fields.String(validate=ID)
    stage_id = fields.String(validate=ID)
    status = fields.String(validate=validate.OneOf((*STATUSES, "closed")), metadata={
        "description": "closed: won or lost"})
    sort = fields.String(load_default="-created_at", validate=validate.OneOf(
        [order for name in DEAL_SORTS for order in (name, f"-{name}")]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class BoardQuerySchema(DealFiltersSchema):
    stage_id = fields.String(validate=ID, metadata={"description": "one column, paged"})
    base_currency = fields.String(validate=CURRENCY, metadata={
        "description": "also each column's totals converted to this currency with the Czech "
                       "National Bank's daily rates (their date stated)", "example": "CZK"})
    cursor = fields.String(metadata={"description": "with stage_id: its next page"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


class StageSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    pipeline_id = fields.String()
    name = fields.String()
    position = fields.Integer()
    probability = fields.Integer()
    version = fields.Integer()


class PipelineSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    name = fields.String()
    position = fields.Integer()
    is_default = fields.Boolean()
    archived_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    stages = fields.List(fields.Nested(StageSchema))
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    version = fields.Integer()


class PipelineListSchema(Schema):
    items = fields.List(fields.Nested(PipelineSchema))
    next_cursor = fields.String(allow_none=True)


class StageCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=NAME)
    probability = fields.Integer(allow_none=True, strict=True, validate=PROBABILITY,
                                 metadata={"description": "default 10"})
    position = fields.Integer(strict=True, validate=POSITION, metadata={
        "description": "0 = first; default: last"})


class StagePatchSchema(StrictSchema):
    name = fields.String(validate=NAME)
    probability = fields.Integer(strict=True, validate=PROBABILITY)
    position = fields.Integer(strict=True, validate=POSITION)


class PipelineCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=NAME)
    position = fields.Integer(strict=True, validate=POSITION)
    stages = fields.List(fields.Nested(StageCreateSchema), validate=validate.Length(
        min=1, max=30), metadata={"description": "in order; default: the four basic stages"})


class PipelinePatchSchema(StrictSchema):
    name = fields.String(validate=NAME)
    position = fields.Integer(strict=True, validate=POSITION)
    is_default = fields.Boolean(validate=validate.Equal(True), metadata={
        "description": "true makes this the default pipeline (the other one stops being it)"})
    archived = fields.Boolean()


class StageDeleteQuerySchema(Schema):
    move_to = fields.String(validate=ID, metadata={
        "description": "the stage its deals move to (required while it holds any)"})


class ColumnTotalSchema(Schema):
    currency = fields.String()
    value = fields.String()
    weighted = fields.String()


class RateSchema(Schema):
    currency = fields.String()
    amount = fields.Integer(metadata={"description": "units of the currency the rate is for"})
    rate = fields.String(metadata={"description": "CZK for `amount` units, as the ČNB states"})


class ConvertedTotalSchema(Schema):
    currency = fields.String()
    value = fields.String(allow_none=True, metadata={
        "description": "null when the ČNB has no rate of this currency (or none at all)"})
    weighted = fields.String(allow_none=True)
    rate_date = fields.String(allow_none=True, metadata={
        "format": "date", "description": "the date of the ČNB rates used"})
    rates = fields.List(fields.Nested(RateSchema))
    missing = fields.List(fields.String(), metadata={
        "description": "currencies without a rate: left out of value"})


class BoardColumnSchema(Schema):
    stage = fields.Nested(StageSchema)
    count = fields.Integer()
    totals = fields.List(fields.Nested(ColumnTotalSchema))
    converted = fields.Nested(ConvertedTotalSchema, metadata={
        "description": "with base_currency"})
    items = fields.List(fields.Nested(DealSchema))
    next_cursor = fields.String(allow_none=True)


class BoardSchema(Schema):
    pipeline = fields.Nested(PipelineSchema)
    columns = fields.List(fields.Nested(BoardColumnSchema))


class DealHistoryEntrySchema(Schema):
    id = fields.String()
    at = fields.String(metadata={"format": "date-time"})
    actor = fields.String(allow_none=True)
    action = fields.String()
    changes = fields.Dict()
    from_stage = fields.Dict(allow_none=True)
    to_stage = fields.Dict(allow_none=True)
    version = fields.Integer(allow_none=True)


class StageTimeSchema(Schema):
    stage_id = fields.String()
    stage_name = fields.String()
    seconds = fields.Integer()


class DealHistorySchema(Schema):
    items = fields.List(fields.Nested(DealHistoryEntrySchema))
    time_in_stages = fields.List(fields.Nested(StageTimeSchema))
    next_cursor = fields.String(allow_none=True)


class CountValueSchema(Schema):
    count = fields.Integer()
    value = fields.String()


class CurrencySummarySchema(Schema):
    currency = fields.String()
    open = fields.Nested(CountValueSchema)
    won = fields.Nested(CountValueSchema)
    won_last_12_months = fields.Nested(CountValueSchema)
    lost = fields.Nested(CountValueSchema)


class DealSummarySchema(Schema):
    client_id = fields.String()
    open_count = fields.Integer()
    won_count = fields.Integer()
    lost_count = fields.Integer()
    win_rate = fields.Float(allow_none=True, metadata={"description": "won ÷ closed"})
    currencies = fields.List(fields.Nested(CurrencySummarySchema))


class LostReasonSchema(Schema):
    id = fields.String()
    label = fields.String()
    position = fields.Integer()
    active = fields.Boolean()


class LostReasonListSchema(Schema):
    items = fields.List(fields.Nested(LostReasonSchema))
    next_cursor = fields.String(allow_none=True)


class LostReasonCreateSchema(StrictSchema):
    label = fields.String(required=True, validate=NAME)
    position = fields.Integer(strict=True, validate=POSITION)


class LostReasonPatchSchema(StrictSchema):
    label = fields.String(validate=NAME)
    position = fields.Integer(strict=True, validate=POSITION)
    active = fields.Boolean()


class DealDeletedSchema(Schema):
    id = fields.String()
    deleted = fields.Boolean()


# -- reports ------------------------------------------------------------------------------

class PipelineReportQuerySchema(DealFiltersSchema):
    pipeline_id = fields.String(required=True, validate=ID, metadata={"format": "uuid"})


class ForecastQuerySchema(DealFiltersSchema):
    pipeline_id = fields.String(validate=ID, metadata={"format": "uuid"})


class WinRateQuerySchema(Schema):
    closed_from = fields.Date()
    closed_to = fields.Date()
    pipeline_id = fields.String(validate=ID, metadata={"format": "uuid"})


class ConversionQuerySchema(Schema):
    pipeline_id = fields.String(required=True, validate=ID, metadata={"format": "uuid"})


class StageTotalsSchema(Schema):
    stage = fields.Nested(StageSchema)
    count = fields.Integer()
    totals = fields.List(fields.Nested(ColumnTotalSchema))


class PipelineReportSchema(Schema):
    pipeline_id = fields.String()
    stages = fields.List(fields.Nested(StageTotalsSchema))


class MonthSchema(Schema):
    month = fields.String(metadata={"description": 'YYYY-MM; "none": no expected date'})
    count = fields.Integer()
    totals = fields.List(fields.Nested(ColumnTotalSchema))


class ForecastSchema(Schema):
    months = fields.List(fields.Nested(MonthSchema))


class WinRateRowSchema(Schema):
    owner_id = fields.String(allow_none=True)
    pipeline_id = fields.String()
    won = fields.Integer()
    lost = fields.Integer()
    win_rate = fields.Float()
    average_days_to_close = fields.Float()


class WinRateSchema(Schema):
    items = fields.List(fields.Nested(WinRateRowSchema))


class ConversionStepSchema(Schema):
    stage = fields.Nested(StageSchema)
    reached = fields.Integer(metadata={"description": "deals that reached the stage"})
    went_on = fields.Integer(metadata={"description": "of them, reached the next (or won)"})
    to = fields.String()
    rate = fields.Float(allow_none=True)


class ConversionSchema(Schema):
    pipeline_id = fields.String()
    deals = fields.Integer()
    won = fields.Integer()
    steps = fields.List(fields.Nested(ConversionStepSchema))

