"""Schemas of the gateway's own resources: users, tokens, login, settings, the audit log."""
from zoneinfo import available_timezones

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from crm_common.fields import FullMatch, StrictBoolean, reasonable_time

from .accounts import passwords
from .accounts.users import LANGUAGES, ROLES, valid_time_zone
from .permissions import RESOURCES
from .schemas import MOMENT, PageQuerySchema, StrictSchema

EMAIL = fields.Email(validate=validate.Length(max=254))


def _password_rules(value):
    wrong = passwords.problems(value)
    if wrong:
        raise ValidationError(wrong)


# the length in the document too; the rest (no example's placeholder) only here
check_password = [validate.Length(min=passwords.MIN_LENGTH, max=passwords.MAX_LENGTH),
                  _password_rules]


TIME_ZONES = sorted(available_timezones())
SCOPES = ["read", "write", *(f"{resource}:{kind}" for resource in RESOURCES
                             for kind in ("read", "write"))]
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def check_time_zone(value):
    if not valid_time_zone(value):
        raise ValidationError("An IANA time zone such as Europe/Prague.")


class UserFieldsSchema(StrictSchema):
    email = fields.Email(validate=validate.Length(max=254), metadata={
        "description": "Unique, whatever its case; the login name"})
    name = fields.String(validate=validate.Length(min=1, max=200))
    role = fields.String(validate=validate.OneOf(ROLES))
    active = StrictBoolean(metadata={
        "description": "false: can no longer log in; their sessions end and their tokens "
                       "are revoked"})
    time_zone = fields.String(validate=check_time_zone, metadata={
        "example": "Europe/Prague", "enum": TIME_ZONES})
    language = fields.String(validate=validate.OneOf(LANGUAGES), metadata={"example": "cs"})


class UserCreateSchema(UserFieldsSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(load_only=True, validate=check_password, metadata={
        "description": f"At least {passwords.MIN_LENGTH} characters; without one the user "
                       "cannot log in until an administrator sets it"})


class UserPatchSchema(UserFieldsSchema):
    pass


class UserSchema(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String(metadata={"enum": list(ROLES)})
    active = fields.Boolean()
    time_zone = fields.String()
    language = fields.String()
    has_password = fields.Boolean()
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    version = fields.Integer()


class PageSchema(Schema):
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "the `cursor` of the next page; null on the last one"})


class UserPageSchema(PageSchema):
    items = fields.List(fields.Nested(UserSchema))


class UserQuerySchema(PageQuerySchema):
    role = fields.String(validate=validate.OneOf(ROLES))
    active = fields.Boolean()
    q = fields.String(validate=validate.Length(max=100), metadata={
        "description": "part of the name or the e-mail"})


class PasswordSetSchema(StrictSchema):
    password = fields.String(required=True, load_only=True, validate=check_password)


class PasswordChangeSchema(StrictSchema):
    current_password = fields.String(required=True, load_only=True,
                                     validate=validate.Length(max=passwords.MAX_LENGTH))
    new_password = fields.String(required=True, load_only=True, validate=check_password)


class LoginSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, load_only=True,
                             validate=validate.Length(min=1, max=passwords.MAX_LENGTH))


class SetupSchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, load_only=True, validate=check_password)


class SessionSchema(Schema):
    user = fields.Nested(UserSchema, allow_none=True, metadata={
        "description": "null for the bootstrap token"})
    role = fields.String()
    via = fields.String(metadata={"enum": ["session", "token", "bootstrap"]})
    csrf_token = fields.String(allow_none=True, metadata={
        "description": "send it as X-CSRF-Token with every write made with the cookie"})
    scopes = fields.List(fields.String(), allow_none=True)
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class TokenCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True,
                         validate=validate.Length(min=1, max=50), metadata={
                             "description": "read, write, or <resource>:read|write "
                                            "(write includes read)",
                             "example": ["clients:read", "activities:write"]})
    expires_at = fields.AwareDateTime(allow_none=True, validate=reasonable_time, metadata={
        "description": "null: until revoked", "pattern": MOMENT})
    user_id = fields.String(validate=FullMatch(UUID, error="A user's id."), metadata={
        "description": "whose token (administrators); default: yours", "format": "uuid"})


class TokenSchema(Schema):
    id = fields.String()
    name = fields.String()
    user_id = fields.String()
    prefix = fields.String(metadata={"description": "its first characters, to recognise it"})
    scopes = fields.List(fields.String())
    created_at = fields.String(metadata={"format": "date-time"})
    created_by = fields.String(allow_none=True)
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    last_used_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    revoked_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    active = fields.Boolean()


class NewTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "the secret: shown this once, never again"})


class TokenPageSchema(PageSchema):
    items = fields.List(fields.Nested(TokenSchema))


class TokenQuerySchema(PageQuerySchema):
    user_id = fields.String(metadata={"description": "administrators: someone's tokens; "
                                                     "`*`: everyone's"})


class SettingsSchema(Schema):
    sales_see_own_only = fields.Boolean(metadata={
        "description": "sales reps see only the clients and deals they own"})


class SettingsPatchSchema(StrictSchema):
    sales_see_own_only = StrictBoolean()


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.String(metadata={"format": "date-time"})
    actor = fields.String(allow_none=True)
    user_id = fields.String(allow_none=True)
    token_id = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    method = fields.String()
    path = fields.String()
    resource = fields.String()
    action = fields.String()
    record_id = fields.String(allow_none=True)
    status = fields.Integer()
    correlation_id = fields.String(allow_none=True)


class AuditPageSchema(PageSchema):
    items = fields.List(fields.Nested(AuditEntrySchema))


class AuditQuerySchema(PageQuerySchema):
    user_id = fields.String()
    token_id = fields.String()
    resource = fields.String()
    action = fields.String()
    record_id = fields.String()
    status = fields.Integer(validate=validate.Range(100, 599))
    since = fields.AwareDateTime(validate=reasonable_time, metadata={"pattern": MOMENT})
    until = fields.AwareDateTime(validate=reasonable_time, metadata={"pattern": MOMENT})


VIEW_COLUMNS = ("name", "kind", "ico", "dic", "email", "phone", "city", "relationship",
                "category", "tags", "owner_id", "parent_id", "registry", "vat_payer",
                "website", "industry", "created_at", "updated_at")


def _view_filters_schema():
    from .client_queries import ClientListQuerySchema  # noqa: PLC0415 - no import cycle

    class ViewFiltersSchema(ClientListQuerySchema):
        """The list's filters as a view keeps them (paging and order are the view's own)."""

        class Meta:
            exclude = ("limit", "cursor", "sort", "include_total")

        custom_fields = fields.Dict(
            keys=fields.String(), values=fields.String(validate=validate.Length(max=500)),
            validate=validate.Length(max=10), metadata={
                "description": "{key: value}: the list's `cf.<key>=<value>` filters"})

    return ViewFiltersSchema


ViewFiltersSchema = _view_filters_schema()


class ViewFieldsSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    filters = fields.Nested(ViewFiltersSchema, metadata={
        "description": "the list's filters, e.g. {\"relationship\": \"customer\", \"tag\": "
                       "[\"VIP\"], \"custom_fields\": {\"segment\": \"B2B\"}}"})
    sort = fields.String(allow_none=True, validate=validate.OneOf(
        ("name", "-name", "created_at", "-created_at", "updated_at", "-updated_at")))
    columns = fields.List(fields.String(validate=validate.OneOf(VIEW_COLUMNS)),
                          validate=validate.Length(max=len(VIEW_COLUMNS)))
    shared = StrictBoolean(metadata={"description": "true: everyone sees it; only its "
                                                    "owner (or an administrator) changes it"})


class ViewCreateSchema(ViewFieldsSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    resource = fields.String(load_default="clients", validate=validate.OneOf(["clients"]))


class ViewSchema(Schema):
    id = fields.String()
    owner_id = fields.String()
    name = fields.String()
    resource = fields.String()
    filters = fields.Dict()
    sort = fields.String(allow_none=True)
    columns = fields.List(fields.String())
    shared = fields.Boolean()
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    version = fields.Integer()


class ViewPageSchema(PageSchema):
    items = fields.List(fields.Nested(ViewSchema))


# -- the calendar feed -----------------------------------------------------------------

FEED_TASKS = ("events", "todos", "none")


class CalendarQuerySchema(Schema):
    tasks = fields.String(load_default="events", validate=validate.OneOf(FEED_TASKS),
                          metadata={"description": "open tasks as all-day or short events "
                                    "(default: Google Calendar and Outlook show no others), "
                                    "as to-dos (VTODO: Thunderbird, Evolution), or none"})

    @pre_load
    def _feed_token_is_a_credential(self, data, **_):
        """`token` is the feed token (the `calendarFeedToken` security scheme, read by
        auth.py), not a parameter of the query."""
        return {name: data[name] for name in data if name != "token"}


class CalendarFeedSchema(Schema):
    active = fields.Boolean(metadata={"description": "whether you have a feed URL"})
    created_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    last_used_at = fields.String(allow_none=True, metadata={
        "format": "date-time", "description": "when a calendar app last fetched it (to the "
                                              "minute)"})


class NewCalendarFeedSchema(Schema):
    url = fields.String(metadata={"description": "subscribe to this in your calendar app; "
                                                 "shown this once, never again"})
    token = fields.String(metadata={"description": "the secret in `url`"})
    created_at = fields.String(metadata={"format": "date-time"})
