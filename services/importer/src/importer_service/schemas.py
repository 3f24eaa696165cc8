"""marshmallow at the importer's edge: a job's options and saved mapping templates."""
from marshmallow import ValidationError, fields, validate, validates

from crm_common.fields import StrictBoolean, StrictSchema, load

MODES = ("create", "upsert", "update")
MAX_MAPPED = 500  # columns (the reader's own limit)
HEADING = fields.String(validate=validate.Length(min=1, max=255))
TARGET = fields.String(allow_none=True, validate=validate.Length(max=70))


class UserSchema(StrictSchema):
    """Who an owner column may name (the gateway's active users when the job was made)."""
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    email = fields.String(allow_none=True, load_default=None)
    name = fields.String(allow_none=True, load_default=None)


class OptionsSchema(StrictSchema):
    # none given: the template's, else "create"
    mode = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(MODES))
    dry_run = StrictBoolean(load_default=False)
    # {heading in the file: target}; a null target leaves the column out
    mapping = fields.Dict(keys=HEADING, values=TARGET, allow_none=True, load_default=None,
                          validate=validate.Length(max=MAX_MAPPED))
    sheet = fields.String(allow_none=True, load_default=None,
                          validate=validate.Length(min=1, max=120))
    template_id = fields.UUID(allow_none=True, load_default=None)
    users = fields.List(fields.Nested(UserSchema), load_default=list,
                        validate=validate.Length(max=100_000))


class TemplateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    mapping = fields.Dict(keys=HEADING, values=TARGET, required=True,
                          validate=validate.Length(min=1, max=MAX_MAPPED))
    mode = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(MODES))
    sheet = fields.String(allow_none=True, load_default=None,
                          validate=validate.Length(min=1, max=120))

    @validates("name")
    def _not_blank(self, value, **_):
        if not value.strip():
            raise ValidationError("A name that is not blank.")


class TemplatePatchSchema(TemplateSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    mapping = fields.Dict(keys=HEADING, values=TARGET,
                          validate=validate.Length(min=1, max=MAX_MAPPED))


_options, _template, _template_patch = OptionsSchema(), TemplateSchema(), TemplatePatchSchema()


def load_options(data) -> dict:
    options = load(_options, data)
    if options.get("template_id"):
        options["template_id"] = str(options["template_id"])
    return options


def load_template(data, partial: bool = False) -> dict:
    return load(_template_patch if partial else _template, data)
