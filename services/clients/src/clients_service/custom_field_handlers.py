"""Use cases of custom field definitions, and the check every write of values goes through."""
import uuid

from crm_common.errors import Conflict, ValidationFailed
from crm_common.events import rfc3339, utcnow
from crm_common.fields import load

from crm_common.concurrency import concurrent_writes
from .custom_fields import APPLIES_TO, Definition, checked_values
from .repository import CustomFields
from .schemas import DefinitionCreateSchema, DefinitionPatchSchema, DefinitionSchema

CREATE = "custom_fields.create"  # the scopes of their Idempotency-Keys
UPDATE = "custom_fields.update"
RETIRE = "custom_fields.retire"
_create_schema = DefinitionCreateSchema()
_patch_schema = DefinitionPatchSchema()
_definition_schema = DefinitionSchema()


def to_resource(definition: Definition) -> dict:
    return _definition_schema.dump(definition)


def definition_event(definition: Definition) -> dict:
    return {"id": definition.id, "key": definition.key, "label": definition.label,
            "type": definition.type, "applies_to": definition.applies_to,
            "choices": definition.choices, "required": definition.required,
            "unique": definition.unique,
            "retired_at": rfc3339(definition.retired_at) if definition.retired_at else None}


def list_definitions(uow, applies_to: str | None = None, include_retired: bool = False
                     ) -> dict:
    return {"items": [to_resource(d) for d in CustomFields(uow.session).all(
        applies_to, include_retired)], "next_cursor": None}  # a few dozen at most


def create_definition(uow, payload: dict, idempotency_key: str | None = None) -> dict:
    replayed = uow.replay(CREATE, idempotency_key, payload)
    if replayed is not None:
        return replayed
    data = load(_create_schema, payload)
    repo = CustomFields(uow.session)
    if repo.exists(data["applies_to"], data["key"]):
        raise Conflict(f"key: a {data['applies_to']} custom field {data['key']!r} exists "
                       "already (retired ones keep their key)")
    now = utcnow()
    definition = Definition(id=str(uuid.uuid4()), created_at=now, updated_at=now, **data)
    uow.session.add(definition)
    _flush(uow)
    uow.emit("custom_field.created", definition.id, {"definition": definition_event(definition)})
    return uow.commit_once(CREATE, idempotency_key, payload, to_resource(definition))


def update_definition(uow, definition_id: str, payload: dict,
                      idempotency_key: str | None = None) -> dict:
    """Label, choices, required: what can change without making stored values wrong."""
    request = {"id": definition_id, "changes": payload}
    replayed = uow.replay(UPDATE, idempotency_key, request)
    if replayed is not None:
        return replayed
    data = load(_patch_schema, payload)
    definition = CustomFields(uow.session).get(definition_id)
    if definition.retired_at is not None:
        raise Conflict(f"custom field {definition.key} is retired: define another")
    if "choices" in data and definition.type not in ("choice", "multi_choice"):
        raise ValidationFailed({"choices": ["Only a choice field has choices."]})
    if definition.type in ("choice", "multi_choice") and data.get("choices") == []:
        raise ValidationFailed({"choices": ["A choice field needs at least one choice."]})
    changes = definition.edit(data, utcnow())
    if changes:
        _flush(uow)
        uow.emit("custom_field.updated", definition.id, {
            "definition": definition_event(definition), "changes": changes})
    return uow.commit_once(UPDATE, idempotency_key, request, to_resource(definition))


def retire_definition(uow, definition_id: str, idempotency_key: str | None = None) -> dict:
    """No longer offered nor writable; the values already written are kept."""
    request = {"id": definition_id}
    replayed = uow.replay(RETIRE, idempotency_key, request)
    if replayed is not None:
        return replayed
    definition = CustomFields(uow.session).get(definition_id)
    if definition.retired_at is None:
        now = utcnow()
        definition.retired_at, definition.updated_at = now, now
        definition.version += 1
        _flush(uow)
        uow.emit("custom_field.retired", definition.id,
                 {"definition": definition_event(definition)})
    return uow.commit_once(RETIRE, idempotency_key, request, to_resource(definition))


def _flush(uow) -> None:
    """Another administrator's write at the same moment: the same key defined (409), or the
    definition changed under us (412)."""
    with concurrent_writes("the custom field was changed at the same time: read it again",
                           "key: a custom field with this key was defined at the same time"):
        uow.session.flush()


def check_values(uow, applies_to: str, sent, current: dict | None, creating: bool) -> dict:
    """For the services whose records carry custom fields of their own (deals): the values
    after a write of `sent`, checked against the definitions; the errors as a ValidationFailed
    would name them; and the keys whose values must be unique (the caller checks its own
    records)."""
    if applies_to not in APPLIES_TO:
        raise ValidationFailed({"applies_to": [f"One of {', '.join(APPLIES_TO)}."]})
    definitions = CustomFields(uow.session).by_key(applies_to)
    values, errors = checked_values(definitions, {} if sent is None else sent,
                                    dict(current or {}), creating)
    return {"values": values, "errors": errors,
            "unique": sorted(key for key, d in definitions.items() if d.unique)}


def custom_values(session, applies_to: str, sent, current: dict | None,
                  entity_id: str | None, creating: bool,
                  definitions: dict[str, Definition] | None = None) -> dict:
    """The record's custom fields after a write of `sent` (merged key by key; null removes
    one), checked against the definitions (`definitions`: loaded once for a batch);
    ValidationFailed naming `custom_fields.<key>`."""
    repo = CustomFields(session)
    if definitions is None:
        definitions = repo.by_key(applies_to)
    values, errors = checked_values(definitions, {} if sent is None else sent,
                                    dict(current or {}), creating)
    for key, value in (sent or {}).items() if isinstance(sent, dict) else ():
        definition = definitions.get(key)
        name = f"custom_fields.{key}"
        if definition is not None and definition.unique and value is not None and \
                name not in errors and repo.taken_locked(applies_to, key, values[key],
                                                         entity_id):
            errors[name] = [f"Another {applies_to} has this {definition.label} already."]
    if errors:
        raise ValidationFailed(errors)
    return values
