"""/api/v1/custom-fields: the custom fields of clients, contacts and deals, defined at run
time by administrators (the clients service keeps the definitions)."""
from flask_smorest import Blueprint

from .. import rpc
from ..schemas import (DefinitionCreateSchema, DefinitionListSchema, DefinitionPatchSchema,
                       DefinitionQuerySchema, DefinitionSchema)
from . import (IDEMPOTENCY_HEADER, idempotency_key, problem_responses, require_json,
               takes_no_body, with_ids)

blp = Blueprint("custom_fields", __name__, url_prefix="/api/v1/custom-fields",
                description="Custom field definitions (administrators)")
with_ids(blp)
blp.before_request(require_json)


def errors(*codes):
    return problem_responses(blp, *codes)


@blp.route("")
@blp.arguments(DefinitionQuerySchema, location="query")
@blp.response(200, DefinitionListSchema)
@errors(422)
def list_definitions(query):
    """The custom fields (active ones; `include_retired=true` for all)"""
    return rpc.call("clients", "custom_fields", applies_to=query.get("applies_to"),
                    include_retired=query["include_retired"])


@blp.route("", methods=["POST"])
@blp.arguments(DefinitionCreateSchema)
@blp.response(201, DefinitionSchema)
@errors(400, 403, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def create_definition(definition):
    """Define a custom field: usable at once, no code change and no migration"""
    key = idempotency_key()
    return rpc.call("clients", "define_custom_field", definition=definition, **key), 201


@blp.route("/<id:definition_id>", methods=["PATCH"])
@blp.arguments(DefinitionPatchSchema)
@blp.response(200, DefinitionSchema)
@errors(400, 403, 404, 409, 415, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def update_definition(changes, definition_id):
    """Change a custom field's label, choices or whether it is required (its key, type and
    uniqueness stay: retire it and define another)"""
    key = idempotency_key()
    return rpc.call("clients", "update_custom_field", definition_id=definition_id,
                    changes=changes, **key)


@blp.route("/<id:definition_id>/retire", methods=["POST"])
@takes_no_body
@blp.response(200, DefinitionSchema)
@errors(400, 403, 404, 422)
@blp.doc(parameters=[IDEMPOTENCY_HEADER])
def retire_definition(definition_id):
    """Retire a custom field: no longer offered nor writable; the values written are kept"""
    key = idempotency_key()
    return rpc.call("clients", "retire_custom_field", definition_id=definition_id, **key)
