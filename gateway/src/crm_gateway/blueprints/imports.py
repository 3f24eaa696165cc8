"""/api/v1/imports and /api/v1/import-templates: clients imported from spreadsheets. The file
passes through here a piece at a time to the importer service (transfer.py), which keeps it
with the job and works the job off in the background (`202`, then poll the job)."""
from flask import Response, current_app, request, stream_with_context
from flask_smorest import Blueprint
from marshmallow import RAISE
from werkzeug.http import parse_options_header

from crm_common.fields import load

from .. import export, rpc, transfer
from ..accounts import store, users
from ..import_schemas import (UPLOAD_BODY, ImportFormSchema, ImportListQuerySchema,
                              ImportPageSchema, ImportRowPageSchema, ImportRowQuerySchema,
                              ImportSchema, ImportTemplateCreateSchema,
                              ImportTemplatePageSchema, ImportTemplatePatchSchema,
                              ImportTemplateSchema, ReportQuerySchema)
from ..problems import problem
from ..schemas import PageQuerySchema
from . import (ETAG_HEADER, IDEMPOTENCY_HEADER, IF_MATCH_HEADER, LINK_HEADER, idempotency_key,
               if_match, paged, problem_responses, require_json, takes_no_body, with_etag,
               with_ids)

blp = Blueprint("imports", __name__, url_prefix="/api/v1",
                description="Client import from XLSX, XLS, ODS and CSV files")
with_ids(blp)
IMPORTER = transfer.Destination("importer", "upload", "upload_id", "job",
                                lambda name, meta: {"file_name": name})
LOCATION = {"Location": {"schema": {"type": "string"},
                         "description": "/api/v1/imports/{id}: poll it for the outcome"}}
REPORT_PAGE = 500
_form = ImportFormSchema()


def errors(*codes):
    return problem_responses(blp, *codes)


@blp.before_request
def check_body():
    """The upload is multipart/form-data (415 otherwise, before a byte is read); the other
    writes take JSON or nothing."""
    if request.method != "POST" or request.endpoint != "imports.start_import":
        return require_json()
    if parse_options_header(request.headers.get("Content-Type", ""))[0] != \
            "multipart/form-data":
        return problem(415, "Send the file as multipart/form-data, in the part `file`.",
                       headers={"Accept-Post": "multipart/form-data"})
    return None


@blp.after_request
def drain_refused_upload(response):
    if request.endpoint == "imports.start_import" and response.status_code >= 400:
        transfer.discard_rest(current_app.config["IMPORT_MAX_BYTES"])
    return response


def _options(form: dict) -> dict:
    """The job's options from the form's text fields, with the people an owner column may
    name (the active users, as they are now)."""
    data = load(_form, form)
    with store.transaction() as connection:
        people, _ = users.page(connection, limit=100_000, offset=0, active=True)
    return {"options": {
        "mode": data["mode"], "dry_run": data["dry_run"] == "true",
        "mapping": data["mapping"], "sheet": data["sheet"],
        "template_id": str(data["template_id"]) if data["template_id"] else None,
        "users": [{"id": p["id"], "email": p["email"], "name": p["name"]} for p in people]}}


@blp.route("/imports", methods=["POST"])
@blp.response(202, ImportSchema, headers={**ETAG_HEADER, **LOCATION})
@errors(400, 404, 413, 415, 422)
@blp.doc(requestBody=UPLOAD_BODY, parameters=[IDEMPOTENCY_HEADER])
def start_import(**_):
    """Import clients from a file: `202` with the job, which runs in the background

    The file goes to the importer in pieces (never whole in the gateway). The job then
    reads it, finds the header row (also below title rows), maps the columns, normalises
    the values (IČO, DIČ, e-mails, phones to E.164, postal codes, dates, decimal commas),
    matches rows against existing clients (IČO, then e-mail) and writes them in batches.
    Poll `GET /api/v1/imports/{id}`; the rows with their outcome are in `.../rows`, the
    failed ones as a file in `.../report`. Emits `import.started`, `import.progress`,
    `import.completed` or `import.failed` (a dry run emits none)."""
    key = idempotency_key()
    limit = current_app.config["IMPORT_MAX_BYTES"]
    transfer.refuse_too_large(limit)
    job = transfer.receive({}, key, limit, to=IMPORTER, fields=_options)
    body, status, headers = with_etag(job, 202)
    return body, status, {**headers, "Location": f"/api/v1/imports/{job['id']}"}


@blp.route("/imports")
@blp.arguments(ImportListQuerySchema, location="query", unknown=RAISE)
@blp.response(200, ImportPageSchema, headers=LINK_HEADER)
@errors(422)
def list_imports(query):
    """Import jobs, newest first (administrators and managers: everyone's; others: their own)"""
    return paged(rpc.call("importer", "list", limit=query["limit"],
                          cursor=query.get("cursor"), status=query.get("status")))


@blp.route("/imports/<id:import_id>")
@blp.response(200, ImportSchema, headers=ETAG_HEADER)
@errors(404)
def get_import(import_id):
    """One import job: status, rows total and done, counts, a dry run's preview, the reason
    of a failure"""
    return with_etag(rpc.call("importer", "get", import_id=import_id))


@blp.route("/imports/<id:import_id>/rows")
@blp.arguments(ImportRowQuerySchema, location="query", unknown=RAISE)
@blp.response(200, ImportRowPageSchema, headers=LINK_HEADER)
@errors(404, 422)
def import_rows(query, import_id):
    """The job's rows in file order with what happened to each (`status=failed`: the rows to
    fix, each problem with its column)"""
    return paged(rpc.call("importer", "rows", import_id=import_id, status=query.get("status"),
                          limit=query["limit"], cursor=query.get("cursor")))


@blp.route("/imports/<id:import_id>/report")
@blp.arguments(ReportQuerySchema, location="query", unknown=RAISE)
@blp.doc(responses={"200": {"description": "The rows, streamed", "content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}}}}})
@errors(404, 422)
def import_report(query, import_id):
    """The failed rows (or `status=...`) as in the file, with an error column: fix them and
    import just those

    CSV: UTF-8 with a BOM and `;`. A cell starting with `=`, `+`, `-`, `@`, a tab or CR is
    written as text."""
    first = rpc.call("importer", "rows", import_id=import_id, status=query["status"],
                     limit=REPORT_PAGE)
    header = [export.neutralised(h) for h in first["headers"]] + ["Chyba / Error"]

    def pages():
        page = first
        while True:
            yield [_report_row(row, len(first["headers"])) for row in page["items"]]
            if not page.get("next_cursor"):
                return
            page = rpc.call("importer", "rows", import_id=import_id, status=query["status"],
                            limit=REPORT_PAGE, cursor=page["next_cursor"])
    name = f"import-{import_id[:8]}-{query['status']}.{query['format']}"
    if query["format"] == "xlsx":
        body = export.table_xlsx("Import", header, (
            [[export.xlsx_safe(cell) for cell in row] for row in page] for page in pages()))
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = export.table_csv(header, pages())
        mimetype = "text/csv; charset=utf-8"
    return Response(stream_with_context(body), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _report_row(row: dict, width: int) -> list:
    values = list(row.get("values") or [])[:width]
    values += [None] * (width - len(values))
    problems = "; ".join(
        f"{e['column']}: {e['message']}" if e.get("column") else e["message"]
        for e in row.get("errors") or []) or row.get("reason") or ""
    return [export.neutralised(v) if isinstance(v, str) else v for v in values] + \
        [export.neutralised(problems)]


@blp.route("/imports/<id:import_id>/cancel", methods=["POST"])
@blp.response(200, ImportSchema, headers=ETAG_HEADER)
@errors(404, 409, 415)
@takes_no_body
def cancel_import(import_id):
    """Cancel a job: a queued one at once, a running one after its current batch (what was
    written stays and can be reverted); emits `import.cancelled`"""
    return with_etag(rpc.call("importer", "cancel", import_id=import_id))


@blp.route("/imports/<id:import_id>/revert", methods=["POST"])
@blp.response(202, ImportSchema, headers=ETAG_HEADER)
@errors(404, 409, 415)
@takes_no_body
def revert_import(import_id):
    """Undo an import (in the background, status `reverting` then `reverted`): the clients
    it created that nobody changed since are archived; `revert` lists the ones kept and the
    clients it updated (their changes stay, in each client's history); emits
    `import.reverted`"""
    return with_etag(rpc.call("importer", "revert", import_id=import_id), 202)


@blp.route("/import-templates")
@blp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@blp.response(200, ImportTemplatePageSchema, headers=LINK_HEADER)
@errors(422)
def list_templates(query):
    """Saved column mappings, newest first"""
    return paged(rpc.call("importer", "template_list", limit=query["limit"],
                          cursor=query.get("cursor")))


@blp.route("/import-templates", methods=["POST"])
@blp.arguments(ImportTemplateCreateSchema)
@blp.response(201, ImportTemplateSchema, headers=ETAG_HEADER)
@errors(400, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def create_template(body):
    """Save a column mapping (with a mode and sheet) for the next import of such files"""
    return with_etag(rpc.call("importer", "template_create", template=body,
                              **idempotency_key()), 201)


@blp.route("/import-templates/<id:template_id>")
@blp.response(200, ImportTemplateSchema, headers=ETAG_HEADER)
@errors(404)
def get_template(template_id):
    """One saved column mapping"""
    return with_etag(rpc.call("importer", "template_get", template_id=template_id))


@blp.route("/import-templates/<id:template_id>", methods=["PATCH"])
@blp.arguments(ImportTemplatePatchSchema)
@blp.response(200, ImportTemplateSchema, headers=ETAG_HEADER)
@errors(400, 403, 404, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER])
def update_template(body, template_id):
    """Change a saved mapping (its creator, managers and administrators)"""
    return with_etag(rpc.call("importer", "template_update", template_id=template_id,
                              changes=body, if_match=if_match()))


@blp.route("/import-templates/<id:template_id>", methods=["DELETE"])
@blp.response(204)
@errors(400, 403, 404, 412)
@blp.doc(parameters=[IF_MATCH_HEADER])
def delete_template(template_id):
    """Delete a saved mapping (its creator, managers and administrators)"""
    rpc.call("importer", "template_delete", template_id=template_id, if_match=if_match())
    return "", 204
