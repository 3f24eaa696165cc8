"""The query of the client list: search, filters, sort (unknown ones are a 422, not
ignored)."""
from datetime import timezone

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from crm_common.fields import FullMatch, reasonable_time, text_errors

from .export import COLUMNS as EXPORT_COLUMNS
from .schemas import ARCHIVED, CATEGORIES, MOMENT, RELATIONSHIPS

SORTS = ("name", "-name", "created_at", "-created_at", "updated_at", "-updated_at")
REGISTRY_STATUSES = ("pending", "ok", "not_found", "invalid", "unavailable")
CUSTOM_FIELD_PREFIX = "cf."
CUSTOM_KEY = r"^[a-z][a-z0-9_]{0,62}$"


class ClientListQuerySchema(Schema):
    """`q` searches; every filter given must hold. Besides these, `cf.<key>=<value>`
    filters by a custom field (e.g. `cf.segment=B2B`)."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(max=500), metadata={
        "description": "next_cursor of the page before (it belongs to its order)"})
    q = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "name, IČO (spaces allowed), DIČ, e-mail, phone (any format) or a "
                       "contact person's name; diacritics and case do not matter, words "
                       "match by their beginning. Ranked: exact IČO, then names starting "
                       "with it, unless `sort` is given", "example": "zlutoucky kun"})
    sort = fields.String(validate=validate.OneOf(SORTS), metadata={
        "description": "default: newest first (ranked when searching)"})
    include_total = fields.Boolean(load_default=False, metadata={
        "description": "add `total`: how many match (costs a count)"})
    ico = fields.String(validate=FullMatch(r"^ *(?:[0-9] *){1,8}$",
                                           error="IČO must be up to 8 digits."))
    archived = fields.String(load_default="false", validate=validate.OneOf(ARCHIVED), metadata={
        "description": "false: active clients only; true: archived ones too; only: archived"})
    relationship = fields.String(validate=validate.OneOf(RELATIONSHIPS))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    tag = fields.List(fields.String(validate=validate.Length(min=1, max=60)),
                      validate=validate.Length(max=20), metadata={
                          "description": "repeatable: clients with every tag given"})
    owner_id = fields.String(validate=validate.Length(min=1, max=64))
    city = fields.String(validate=validate.Length(min=1, max=120), metadata={
        "description": "the city of the registered (else contact) address; its beginning "
                       "is enough, diacritics and case do not matter"})
    parent_id = fields.String(validate=validate.Length(min=1, max=36))
    registry_status = fields.String(validate=validate.OneOf(REGISTRY_STATUSES))
    vat_payer = fields.Boolean()
    created_after = fields.AwareDateTime(default_timezone=timezone.utc,
                                         validate=reasonable_time,
                                         metadata={"pattern": MOMENT})
    created_before = fields.AwareDateTime(default_timezone=timezone.utc,
                                          validate=reasonable_time,
                                          metadata={"pattern": MOMENT})
    @pre_load
    def _storable_and_custom_fields(self, data, **_):
        """Text a database cannot store is refused like any other input; the
        `cf.<key>=<value>` parameters are checked here and read by `custom_field_filters`
        (a free-form key cannot be a documented parameter)."""
        if not hasattr(data, "keys"):
            raise ValidationError("An object of the list's parameters.")
        data = {key: data[key] for key in data}  # webargs' proxy gives lists for lists
        errors = text_errors(data)
        if errors:
            raise ValidationError(errors)
        for key in [k for k in data if k.startswith(CUSTOM_FIELD_PREFIX)]:
            value = data.pop(key)
            if not FullMatch(CUSTOM_KEY).regex.fullmatch(key[len(CUSTOM_FIELD_PREFIX):]) \
                    or not isinstance(value, str) or len(value) > 500:
                raise ValidationError({key: ["A custom field's key and a value of up to "
                                             "500 characters."]})
        return data

    def filters(self, query: dict, args) -> dict:
        """What the clients service's `list` takes as `filters` (`args`: the request's,
        for the custom field filters)."""
        names = ("relationship", "category", "owner_id", "city", "parent_id",
                 "registry_status", "vat_payer")
        found = {name: query[name] for name in names if query.get(name) is not None}
        if query.get("tag"):
            found["tags"] = query["tag"]
        for name in ("created_after", "created_before"):
            if query.get(name) is not None:
                found[name] = query[name].isoformat()
        custom = {key[len(CUSTOM_FIELD_PREFIX):]: value for key, value in args.items()
                  if key.startswith(CUSTOM_FIELD_PREFIX)}
        if custom:
            found["custom_fields"] = custom
        return found


class ClientExportQuerySchema(ClientListQuerySchema):
    """The list's filters, sort and search, and how the file is written."""
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))
    columns = fields.List(fields.String(validate=validate.OneOf(list(EXPORT_COLUMNS))),
                          validate=validate.Length(min=1, max=len(EXPORT_COLUMNS)), metadata={
                              "description": "repeatable, in order; default: name, ico, dic, "
                                             "email, phone, city, relationship, category, "
                                             "tags, created_at"})
    lang = fields.String(load_default="cs", validate=validate.OneOf(("cs", "en")), metadata={
        "description": "the column headers' language"})
    delimiter = fields.String(load_default="semicolon", validate=validate.OneOf(
        ("semicolon", "comma")), metadata={"description": "CSV: `;` (Czech Excel) or `,`"})
