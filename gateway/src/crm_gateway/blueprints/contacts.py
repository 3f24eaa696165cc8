"""/api/v1/contacts: contact persons (clients service); a client's own list is under
/api/v1/clients/{id}/contacts."""
from flask import Response
from flask_smorest import Blueprint

from .. import rpc
from ..permissions import permission
from ..schemas import ContactErasedSchema, ContactPatchSchema, ContactSchema
from . import (ETAG_HEADER, IDEMPOTENCY_HEADER, IF_MATCH_HEADER, idempotency_key, if_match,
               problem_responses, require_json, takes_no_body, with_etag, with_ids)

blp = Blueprint("contacts", __name__, url_prefix="/api/v1/contacts",
                description="Contact persons of clients")
with_ids(blp)
blp.before_request(require_json)

VCARD = "text/vcard"


def errors(*codes):
    return problem_responses(blp, *codes)


def vcard_response(text: str, filename: str) -> Response:
    return Response(text, mimetype=VCARD, content_type=f"{VCARD}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}.vcf"'})


VCARD_DOC = {"responses": {"200": {"description": "vCard 4.0 (RFC 6350), UTF-8",
                                   "content": {VCARD: {"schema": {"type": "string"}}}}}}


@blp.route("/<id:contact_id>")
@blp.response(200, ContactSchema, headers=ETAG_HEADER)
@errors(404)
def get_contact(contact_id):
    """One contact person, with the clients they work with"""
    return with_etag(rpc.call("clients", "get_contact", contact_id=contact_id))


@blp.route("/<id:contact_id>", methods=["PATCH"])
@blp.arguments(ContactPatchSchema)
@blp.response(200, ContactSchema, headers=ETAG_HEADER)
@errors(400, 404, 412, 415, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def update_contact(changes, contact_id):
    """Change some fields of a contact person (If-Match: a stale version is a 412)"""
    key = idempotency_key()
    return with_etag(rpc.call("clients", "update_contact", contact_id=contact_id,
                              changes=changes, if_match=if_match(), **key))


@blp.route("/<id:contact_id>", methods=["DELETE"])
@blp.response(204)
@errors(400, 404, 412, 422)
@blp.doc(parameters=[IF_MATCH_HEADER, IDEMPOTENCY_HEADER])
def delete_contact(contact_id):
    """Delete a contact person (and their links to clients; each client's history keeps
    that they were removed)"""
    key = idempotency_key()
    rpc.call("clients", "delete_contact", contact_id=contact_id, if_match=if_match(), **key)
    return "", 204


@blp.route("/<id:contact_id>/erase", methods=["POST"])
@permission("contacts.erase")
@takes_no_body
@blp.response(200, ContactErasedSchema)
@errors(400, 403, 404, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def erase_contact(contact_id):
    """GDPR erasure of a contact person (administrators): the person, their links and the
    values in every history that named them are gone; `contact.erased` tells the rest"""
    key = idempotency_key()
    return rpc.call("clients", "erase_contact", contact_id=contact_id, **key)


@blp.route("/<id:contact_id>/vcard")
@blp.doc(**VCARD_DOC)
@errors(404)
def contact_vcard(contact_id):
    """The contact person as a vCard (for Outlook, a phone)"""
    return vcard_response(rpc.call("clients", "contact_vcard", contact_id=contact_id),
                          f"contact-{contact_id}")
