"""/api/v1/clients: the client register (clients service) and client timelines (activities)."""
from flask import Response, current_app, jsonify, request, stream_with_context, url_for
from marshmallow import RAISE, ValidationError
from flask_smorest import Blueprint


from .. import export, rpc
from ..auth import current_principal
from ..client_card import answers as card_answers, sections as card_sections
from ..client_queries import ClientExportQuerySchema, ClientListQuerySchema
from ..permissions import permission
from ..problems import flatten
from ..schemas import (ClientBatchResultSchema, ClientBatchSchema, ClientCreateSchema,
                       ClientCardSchema, ClientMergeSchema, ClientPageSchema,
                       DuplicateReportSchema,
                       ContactAddSchema, ContactLinkPatchSchema, ContactPageSchema,
                       ContactSchema, PageQuerySchema,
                       ClientPatchSchema, ClientSchema, HistoryPageSchema, HistoryQuerySchema,
                       NoteCreateSchema, SubsidiariesQuerySchema)
from ..activity_schemas import ActivityPageSchema, ActivitySchema, TimelineFilterSchema
from .activities import timeline_page
from .contacts import VCARD_DOC, vcard_response
from . import (ETAG_HEADER, IDEMPOTENCY_HEADER, IF_MATCH_HEADER, LINK_HEADER, idempotency_key,
               if_match, next_link, problem_responses, require_json, takes_no_body, with_etag,
               with_ids)

blp = Blueprint("clients", __name__, url_prefix="/api/v1/clients",
                description="Clients (companies and people) and their timelines")

with_ids(blp)
blp.before_request(require_json)


def errors(*codes):
    return problem_responses(blp, *codes)




@blp.route("")
@blp.arguments(ClientListQuerySchema, location="query", unknown=RAISE)
@blp.response(200, ClientPageSchema, headers=LINK_HEADER)
@errors(422)
def list_clients(query):
    """Find and list clients: search (`q`), filters, sort, cursor pagination

    Without `q` or `sort`, newest first. A cursor belongs to the query that gave it: send
    it with the same parameters. `cf.<key>=<value>` (repeatable for several fields)
    filters by a custom field's value. Any other parameter is refused (422)."""
    filters = _list_query.filters(query, request.args)
    page = rpc.call("clients", "list", limit=query["limit"], cursor=query.get("cursor"),
                    ico=query.get("ico"), archived=query["archived"], q=query.get("q"),
                    filters=filters, sort=query.get("sort"),
                    include_total=query["include_total"])
    params = {name: value for name, value in query.items()
              if name not in ("cursor", "custom_fields", "created_after", "created_before")}
    params.update({f"cf.{key}": value for key, value in filters.get("custom_fields", {}).items()})
    params.update({name: filters[name] for name in ("created_after", "created_before")
                   if name in filters})
    for name in ("include_total", "vat_payer"):
        if name in params:
            params[name] = str(params[name]).lower()
    if params.get("archived") == "false":
        del params["archived"]
    if params.get("include_total") == "false":
        del params["include_total"]
    return page, 200, next_link(page.get("next_cursor"), **params)


_list_query = ClientListQuerySchema()


@blp.route("", methods=["POST"])
@blp.arguments(ClientCreateSchema)
@blp.response(201, ClientSchema, headers={"Location": {"schema": {"type": "string"}}})
@errors(400, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def create_client(payload):
    """Create a client; with an IČO its data is then loaded from ARES

    An IČO that an active client has already is a `409` naming it (`existing_id`,
    `existing_url`). The answer lists `possible_duplicates`: active clients with the same
    e-mail, phone or name (legal form aside); the client is created all the same."""
    client = rpc.call("clients", "create", payload=payload, **idempotency_key())
    return client, 201, {"Location": url_for(".get_client", client_id=client["id"])}


@blp.route("/batch", methods=["POST"])
@blp.arguments(ClientBatchSchema)
# documented, not re-serialised: the service's answers already have the resource's shape,
# and dumping 1,000 clients again was a fifth of the gateway's time on this path
@blp.alt_response(200, schema=ClientBatchResultSchema, success=True,
                  description="One answer per item, in the order sent")
@errors(400, 413, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def create_clients(batch):
    """Create up to 1,000 clients in one request (one transaction in the clients service)

    Each item is validated as for `POST /api/v1/clients` and answered in place, in the order
    sent: an invalid item gets its errors and never stops the others. With an
    `Idempotency-Key`, the same batch sent again answers the same and creates nothing twice.
    """
    key = idempotency_key()
    results, valid, positions = [], [], []
    for item in batch["items"]:
        try:
            valid.append(_create_schema.load(item))
        except ValidationError as exc:
            results.append(_item_errors(422, exc.messages))
            continue
        positions.append(len(results))
        results.append(None)
    if valid:
        # the positions in the caller's list key each item's idempotency: the same batch
        # sent again with its refused items corrected must not shift the others' keys
        answers = rpc.call("clients", "create_many", items=valid, positions=positions, **key)
        for position, answer in zip(positions, answers):
            results[position] = answer if answer["status"] == 201 else dict(
                _item_errors(answer["status"], answer.get("errors") or {}),
                **({"existing_id": answer["existing_id"]} if answer.get("existing_id")
                   else {}))
    return jsonify({"items": results})


_create_schema = ClientCreateSchema()


def _item_errors(status: int, messages) -> dict:
    return {"status": status, "errors": flatten(messages)}


@blp.route("/export")
@blp.arguments(ClientExportQuerySchema, location="query", unknown=RAISE)
@blp.doc(responses={"200": {"description": "The file, streamed", "content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}}}}})
@errors(422)
def export_clients(query):
    """Export the clients the list would show (same search, filters and sort) as CSV or
    XLSX, streamed

    CSV: UTF-8 with a BOM, `;` between cells unless `delimiter=comma`. Czech column headers
    unless `lang=en`. A cell starting with `=`, `+`, `-`, `@`, a tab or CR is written as
    text (a leading `'`), so no formula ever runs."""
    filters = _list_query.filters(query, request.args)
    columns = query.get("columns") or list(export.DEFAULT_COLUMNS)
    kwargs = {"ico": query.get("ico"), "archived": query["archived"], "q": query.get("q"),
              "filters": filters, "sort": query.get("sort") or "-created_at",
              "fields": export.fields_of(columns)}
    rpc.call("clients", "list", limit=1, **kwargs)  # a refusal (422) before the file starts

    def pages():
        """Each page; the next one is asked for before this one is written, so that the
        clients service reads it meanwhile (the export takes the longer of the two, not
        both one after the other)."""
        following = rpc.call_ahead("clients", "list", limit=export.PAGE, cursor=None,
                                   **kwargs)
        while following is not None:
            page = following.result()
            cursor = page.get("next_cursor")
            following = rpc.call_ahead("clients", "list", limit=export.PAGE, cursor=cursor,
                                       **kwargs) if cursor else None
            yield page["items"]
    stamp = "klienti" if query["lang"] == "cs" else "clients"
    if query["format"] == "xlsx":
        body = export.xlsx_stream(pages(), columns, query["lang"])
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = export.csv_stream(pages(), columns, query["lang"],
                                 ";" if query["delimiter"] == "semicolon" else ",")
        mimetype = "text/csv; charset=utf-8"
    return Response(stream_with_context(body), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{stamp}.{query["format"]}"'})


@blp.route("/duplicates")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, DuplicateReportSchema, headers=LINK_HEADER)
@errors(422)
def duplicate_report(query):
    """The duplicate report: groups of active clients sharing an e-mail, a phone or a name
    (legal form aside), by reason and value; merge them, or leave them be"""
    page = rpc.call("clients", "duplicates", limit=query["limit"], cursor=query.get("cursor"))
    return page, 200, next_link(page.get("next_cursor"), limit=query["limit"])


MOVED = {"Location": {"description": "the same address of the client it was merged into",
                      "schema": {"type": "string"}}}


def moved_response(description: str):
    """The 301 of an address of a client merged into another one (see `moved`)."""
    return blp.alt_response(301, schema=ClientSchema, headers=MOVED,
                            description=description)


def moved(client: dict, below: str = ""):
    """A merged client's address answers `301` to the same address of the client it was
    merged into; the body is the merged (archived) record, which says where it went."""
    location = f"/api/v1/clients/{client['merged_into']}{below}"
    if request.query_string:
        location += "?" + request.query_string.decode("latin-1")
    response = jsonify(client)
    response.status_code, response.headers["Location"] = 301, location
    return response


@blp.route("/<id:client_id>")
@blp.response(200, ClientSchema, headers=ETAG_HEADER)
@moved_response("Merged into another client: `Location` is that one's address; the "
                "body is this (archived) record")
@errors(404)
def get_client(client_id):
    """One client"""
    client = rpc.call("clients", "get", client_id=client_id)
    return moved(client) if client.get("merged_into") else with_etag(client)


@blp.route("/<id:client_id>/merge", methods=["POST"])
@blp.arguments(ClientMergeSchema)
@blp.response(200, ClientSchema, headers=ETAG_HEADER)
@errors(400, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def merge_client(merge, client_id):
    """Merge a duplicate (`source_id`) into this client

    This client stays, with the value picked per field (`fields`); the duplicate's contact
    persons, e-mails, phones, addresses, bank accounts, tags, custom field values,
    subsidiaries and timeline move here. The duplicate is archived with `merged_into`
    (its address answers `301` here, its IČO is free for this client) and its whole record
    is kept in this client's history. `If-Match` names this client's version. Emits
    `client.merged`. Refused (`409`): a duplicate merged or erased already, an archived
    target, a person and a company.
    """
    key = idempotency_key()
    return with_etag(rpc.call("clients", "merge", client_id=client_id,
                              source_id=merge["source_id"], fields=merge["fields"],
                              if_match=if_match(), **key))


@blp.route("/<id:client_id>", methods=["PATCH"])
@blp.arguments(ClientPatchSchema)
@blp.response(200, ClientSchema, headers=ETAG_HEADER)
@errors(400, 404, 409, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def update_client(changes, client_id):
    """Change some fields of a client

    Each field sent replaces that field (a list is replaced whole; null clears). With
    `If-Match: <ETag of GET>` the change is made only if nobody changed the client since:
    otherwise `412` and nothing changes. Every change is in the client's history and
    emits `client.updated`.
    """
    key = idempotency_key()
    return with_etag(rpc.call("clients", "update", client_id=client_id,
                              changes=changes, if_match=if_match(), **key))


@blp.route("/<id:client_id>/archive", methods=["POST"])
@takes_no_body
@blp.response(200, ClientSchema, headers=ETAG_HEADER)
@errors(400, 404, 409, 412, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def archive_client(client_id):
    """Archive a client: it leaves the lists (see `archived`), nothing is deleted"""
    key = idempotency_key()
    return with_etag(rpc.call("clients", "archive", client_id=client_id,
                              if_match=if_match(), **key))


@blp.route("/<id:client_id>/restore", methods=["POST"])
@takes_no_body
@blp.response(200, ClientSchema, headers=ETAG_HEADER)
@errors(400, 404, 409, 412, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def restore_client(client_id):
    """Bring an archived client back into the lists"""
    key = idempotency_key()
    return with_etag(rpc.call("clients", "restore", client_id=client_id,
                              if_match=if_match(), **key))


@blp.route("/<id:client_id>/subsidiaries")
@blp.arguments(SubsidiariesQuerySchema, location="query")
@blp.response(200, ClientPageSchema, headers=LINK_HEADER)
@errors(404, 422)
def client_subsidiaries(query, client_id):
    """The client's subsidiaries: direct ones, or with `depth=all` the whole group below it
    (level by level, parents before their children)"""
    page = rpc.call("clients", "subsidiaries", client_id=client_id, depth=query["depth"],
                    limit=query["limit"], cursor=query.get("cursor"))
    return page, 200, next_link(page.get("next_cursor"), limit=query["limit"],
                                depth=query["depth"])


@blp.route("/<id:client_id>/contacts")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, ContactPageSchema, headers=LINK_HEADER)
@errors(404, 422)
def client_contacts(query, client_id):
    """The client's contact persons, the primary one first, then by name"""
    page = rpc.call("clients", "list_contacts", client_id=client_id, limit=query["limit"],
                    cursor=query.get("cursor"))
    return page, 200, next_link(page.get("next_cursor"), limit=query["limit"])


@blp.route("/<id:client_id>/contacts", methods=["POST"])
@blp.arguments(ContactAddSchema)
@blp.response(201, ContactSchema, headers={"Location": {"schema": {"type": "string"}}})
@errors(400, 404, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def add_contact(contact, client_id):
    """Add a contact person to the client: a new one, or with `contact_id` a person who
    already works with another client"""
    key = idempotency_key()
    added = rpc.call("clients", "add_contact", client_id=client_id, contact=contact, **key)
    return added, 201, {"Location": url_for("contacts.get_contact", contact_id=added["id"])}


@blp.route("/<id:client_id>/contacts/vcard")
@blp.doc(**VCARD_DOC)
@errors(404)
def client_contacts_vcard(client_id):
    """All the client's contact persons as vCards, in one .vcf"""
    return vcard_response(rpc.call("clients", "client_vcards", client_id=client_id),
                          f"client-{client_id}-contacts")


@blp.route("/<id:client_id>/contacts/<id:contact_id>", methods=["PATCH"])
@blp.arguments(ContactLinkPatchSchema)
@blp.response(200, ContactSchema)
@errors(400, 404, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def update_contact_link(changes, client_id, contact_id):
    """The person's position at this client, or whether they are its primary contact"""
    key = idempotency_key()
    return rpc.call("clients", "update_contact_link", client_id=client_id,
                    contact_id=contact_id, changes=changes, **key)


@blp.route("/<id:client_id>/contacts/<id:contact_id>", methods=["DELETE"])
@blp.response(200, ContactSchema)
@errors(400, 404, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def remove_contact_link(client_id, contact_id):
    """The person no longer works with this client (they stay a contact of the others)"""
    key = idempotency_key()
    return rpc.call("clients", "remove_contact_link", client_id=client_id,
                    contact_id=contact_id, **key)


@blp.route("/<id:client_id>/erase", methods=["POST"])
@permission("clients.erase")
@takes_no_body
@blp.response(200, ClientSchema)
@errors(400, 403, 404, 409, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def erase_client(client_id):
    """GDPR erasure of a person client (administrators)

    The person's data leaves the client, its history (who did what when stays, the values
    go) and, through `client.erased`, the timeline. A company is refused (409): erase its
    contact persons one by one.
    """
    key = idempotency_key()
    return rpc.call("clients", "erase", client_id=client_id, **key)


@blp.route("/<id:client_id>/card")
# documented, not re-serialised: a section is passed on as its service answered it
@blp.alt_response(200, schema=ClientCardSchema, success=True,
                  description="The client and each section with its status")
@moved_response("Merged into another client: `Location` is that one's card")
@errors(404)
def client_card(client_id):
    """The client card: the client with its contact persons, parent company, subsidiaries,
    open and closed deals and their summary (how much have we done with this client), open
    tasks, recent timeline, fetched from the services in parallel

    A section whose service does not answer in time comes back as
    `{"status": "unavailable"}`; the client itself is required, and with it the clients
    service's sections (its parent company, contact persons and subsidiaries).
    """
    found = card_answers(client_id, float(current_app.config["CARD_TIMEOUT"]))
    clients = found["clients"]
    if isinstance(clients, Exception):
        raise clients  # 404, 503, 504 as for GET /clients/{id}
    client = clients["client"]
    if client.get("merged_into"):
        return moved(client, "/card")
    return jsonify({"client": client, **card_sections(found)})


@blp.route("/<id:client_id>/history")
@blp.arguments(HistoryQuerySchema, location="query")
@blp.response(200, HistoryPageSchema, headers=LINK_HEADER)
@errors(404, 422)
def client_history(query, client_id):
    """The client's change log, newest first: who changed what, from what to what"""
    page = rpc.call("clients", "history", client_id=client_id, limit=query["limit"],
                    cursor=query.get("cursor"))
    return page, 200, next_link(page.get("next_cursor"), limit=query["limit"])


@blp.route("/<id:client_id>/timeline")
@permission("activities.read")
@blp.arguments(TimelineFilterSchema, location="query", unknown=RAISE)
@blp.response(200, ActivityPageSchema, headers=LINK_HEADER)
@moved_response("Merged into another client, whose timeline holds its entries now")
@errors(404, 422)
def client_timeline(query, client_id):
    """The client's timeline, newest first: its entries and its deals'

    Filters: `types`, `author` (`me` or a user id), `from`, `to`, `q` (words, case and
    diacritics aside).
    """
    client = rpc.call("clients", "get", client_id=client_id)  # NotFound -> 404
    if client.get("merged_into"):
        return moved(client, "/timeline")
    return timeline_page(query, client_id=client_id)


@blp.route("/<id:client_id>/notes", methods=["POST"])
@permission("activities.write")
@blp.arguments(NoteCreateSchema)
@blp.response(201, ActivitySchema)
@errors(400, 404, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def add_note(note, client_id):
    """Write a note, meeting minutes, a call or an e-mail into the client's timeline"""
    key = idempotency_key()  # first: a 504 on any call of this request names it
    rpc.call("clients", "get", client_id=client_id)  # NotFound -> 404
    payload = dict(note, client_id=client_id, author=current_principal().actor)
    if payload.get("occurred_at") is not None:
        payload["occurred_at"] = payload["occurred_at"].isoformat()
    return rpc.call("activities", "add_note", payload=payload, **key), 201
