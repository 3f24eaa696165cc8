"""marshmallow schemas of the import endpoints (`/api/v1/imports`, `/api/v1/import-templates`)."""
import json

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from crm_common.fields import StrictSchema

MODES = ("create", "upsert", "update")
STATUSES = ("queued", "running", "completed", "failed", "cancelled", "reverting", "reverted")
ROW_STATUSES = ("created", "updated", "unchanged", "skipped", "failed")
FILE_FIELD = "file"
MAPPING_DOC = (
    "{heading in the file: target}; a null target leaves the column out. Targets: `name`, "
    "`ico`, `dic`, `email`, `phone`, `website`, `street`, `city`, `postal_code`, `country`, "
    "`category`, `relationship`, `industry`, `tags`, `owner` (a user's e-mail or name), "
    "`description`, `first_name`, `last_name`, `full_name` (a person's name: the contact "
    "person's when the file also has a company name, else the client's), `contact_name`, "
    "`contact_email`, `contact_phone`, `contact_position`, and `cf.<key>` for a custom "
    "field. Without a mapping (or template) the columns are matched by their headings, "
    "Czech or English, with or without diacritics.")
MAPPING = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=255)),
                      values=fields.String(allow_none=True, validate=validate.Length(max=70)),
                      metadata={"description": MAPPING_DOC,
                                "example": {"Firma": "name", "IČ": "ico", "Poznámka": None}})


class MappingText(fields.Field):
    """The mapping as a form field: JSON text of an object."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            mapping = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            mapping = None
        if not isinstance(mapping, dict):
            raise ValidationError("A JSON object {heading: target}.")
        return MAPPING.deserialize(mapping)


class ImportFormSchema(StrictSchema):
    """The form's fields beside the file (multipart text parts)."""
    mode = fields.String(load_default=None, validate=validate.OneOf(MODES))
    dry_run = fields.String(load_default="false", validate=validate.OneOf(("true", "false")))
    mapping = MappingText(load_default=None)
    sheet = fields.String(load_default=None, validate=validate.Length(min=1, max=120))
    template_id = fields.UUID(load_default=None)


UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [FILE_FIELD], "additionalProperties": False, "properties": {
        FILE_FIELD: {"type": "string", "format": "binary",
                     "description": "XLSX, XLS, ODS or CSV (UTF-8 with or without BOM, "
                                    "Windows-1250, ISO-8859-2; `;`, `,` or tab), at most "
                                    "IMPORT_MAX_BYTES (default 50 MB)."},
        "mode": {"type": "string", "enum": list(MODES),
                 "description": "Default: the template's, else `create`. `create`: rows matching an existing client (by IČO, then "
                                "e-mail) are skipped; `upsert`: matched clients get what the "
                                "file has, the rest are created; `update`: only existing "
                                "clients."},
        "dry_run": {"type": "string", "enum": ["true", "false"], "default": "false",
                    "description": "`true`: every row validated and matched, nothing "
                                   "written; the job shows the counts and a preview."},
        "mapping": {"type": "string", "description": "JSON: " + MAPPING_DOC},
        "sheet": {"type": "string", "minLength": 1, "maxLength": 120,
                  "description": "The workbook's sheet (default: the first non-empty one)."},
        "template_id": {"type": "string", "format": "uuid",
                        "description": "A saved mapping (`/api/v1/import-templates`)."}}}}}}


class CountsSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    skipped = fields.Integer()
    failed = fields.Integer()


class FileSchema(Schema):
    name = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    removed_at = fields.DateTime(allow_none=True, metadata={
        "description": "when the stored file was removed (IMPORTER_FILE_RETENTION_DAYS after "
                       "the job finished); the job, its report and its undo stay"})


class JobErrorSchema(Schema):
    code = fields.String(metadata={"description": "e.g. `empty`, `encrypted`, `broken`, "
                                                  "`zip_bomb`, `too_many_columns`, "
                                                  "`no_client_columns`, `rejected`, "
                                                  "`stalled`"})
    message_cs = fields.String()
    message_en = fields.String()


class KeptSchema(Schema):
    id = fields.String()
    reason = fields.String()


class RevertSchema(Schema):
    archived = fields.Integer(metadata={"description": "clients the import created, now "
                                                       "archived"})
    kept = fields.List(fields.Nested(KeptSchema), metadata={
        "description": "created clients left as they are: changed since (first 1,000)"})
    updated = fields.List(fields.String(), metadata={
        "description": "clients the import updated (first 1,000): their changes stay, each "
                       "in the client's history"})
    updated_count = fields.Integer()
    after_row = fields.Integer()


class PreviewRowSchema(Schema):
    row = fields.Integer()
    status = fields.String()
    client = fields.Dict(metadata={"description": "the client as it would be stored"})


class ImportSchema(Schema):
    id = fields.UUID()
    status = fields.String(validate=validate.OneOf(STATUSES))
    version = fields.Integer()
    mode = fields.String(validate=validate.OneOf(MODES))
    dry_run = fields.Boolean()
    file = fields.Nested(FileSchema)
    format = fields.String(allow_none=True)
    encoding = fields.String(allow_none=True)
    delimiter = fields.String(allow_none=True)
    sheet = fields.String(allow_none=True)
    sheets = fields.List(fields.String())
    header_row = fields.Integer(allow_none=True)
    headers = fields.List(fields.String())
    mapping = fields.Dict(allow_none=True, metadata={"description": "the mapping used"})
    template_id = fields.String(allow_none=True)
    rows_total = fields.Integer(allow_none=True)
    rows_done = fields.Integer()
    counts = fields.Nested(CountsSchema, metadata={
        "description": "per row: what happened (a dry run: what would)"})
    preview = fields.List(fields.Nested(PreviewRowSchema), allow_none=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    revert = fields.Nested(RevertSchema, allow_none=True)
    cancel_requested = fields.Boolean()
    created_by = fields.String(allow_none=True)
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    started_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    finished_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class ImportPageSchema(Schema):
    items = fields.List(fields.Nested(ImportSchema))
    next_cursor = fields.String(allow_none=True)


class ImportListQuerySchema(Schema):
    class Meta:
        unknown = RAISE
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))


class RowErrorSchema(Schema):
    column = fields.String(allow_none=True, metadata={"description": "the file's heading"})
    field = fields.String(allow_none=True)
    message = fields.String()


class ImportRowSchema(Schema):
    row = fields.Integer(metadata={"description": "the row number in the file"})
    status = fields.String(validate=validate.OneOf(ROW_STATUSES))
    client_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={
        "description": "e.g. `exists`, `not_found`, `duplicate_in_file`, `ambiguous`, "
                       "`archived`, `not_visible`"})
    errors = fields.List(fields.Nested(RowErrorSchema))
    values = fields.List(fields.Raw(allow_none=True), allow_none=True, metadata={
        "description": "the row as in the file (failed and skipped rows)"})


class ImportRowPageSchema(Schema):
    items = fields.List(fields.Nested(ImportRowSchema))
    headers = fields.List(fields.String())
    next_cursor = fields.String(allow_none=True)


class ImportRowQuerySchema(ImportListQuerySchema):
    status = fields.String(validate=validate.OneOf(ROW_STATUSES))


class ReportQuerySchema(Schema):
    class Meta:
        unknown = RAISE
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))
    status = fields.String(load_default="failed", validate=validate.OneOf(ROW_STATUSES))


class ImportTemplateSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    mapping = fields.Dict()
    mode = fields.String(allow_none=True)
    sheet = fields.String(allow_none=True)
    version = fields.Integer()
    created_by = fields.String(allow_none=True)
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})


class ImportTemplateCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    mapping = fields.Dict(required=True, keys=fields.String(validate=validate.Length(
        min=1, max=255)), values=fields.String(allow_none=True, validate=validate.Length(
            max=70)), validate=validate.Length(min=1, max=500),
        metadata={"description": MAPPING_DOC, "minProperties": 1, "maxProperties": 500})
    mode = fields.String(allow_none=True, validate=validate.OneOf(MODES))
    sheet = fields.String(allow_none=True, validate=validate.Length(min=1, max=120))


class ImportTemplatePageSchema(Schema):
    items = fields.List(fields.Nested(ImportTemplateSchema))
    next_cursor = fields.String(allow_none=True)


class ImportTemplatePatchSchema(ImportTemplateCreateSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    mapping = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=255)),
                          values=fields.String(allow_none=True, validate=validate.Length(
                              max=70)), validate=validate.Length(min=1, max=500),
                          metadata={"description": MAPPING_DOC, "minProperties": 1, "maxProperties": 500})
