"""Merging a duplicate (the source) into the client that stays (the target), in one unit
of work. See merge.py for which values the target keeps."""
from sqlalchemy import select

from crm_common.db import take_turns
from crm_common.errors import Conflict, ValidationFailed
from crm_common.events import rfc3339, utcnow

from . import merge
from .contact_handlers import move_contacts
from .domain import Client
from .handlers import (clients_of, current_client, event_client, flush_client, ico_free,
                       save_client, to_resource)
from .orm import clients

MERGE = "clients.merge"  # the scope of its Idempotency-Keys


def merge_clients(uow, target_id: str, source_id: str, fields: dict | None = None,
                  if_match: int | None = None, idempotency_key: str | None = None) -> dict:
    """The source's values (as picked), contact persons, lists, custom field values and
    subsidiaries move to the target; the source is archived pointing to it (`merged_into`)
    and its whole record is kept in the target's history. Emits `client.merged` (and
    `client.updated` / `contact.updated` for what changed). `if_match`: the target's."""
    request = {"target_id": target_id, "source_id": source_id, "fields": fields,
               "if_match": if_match}
    replayed = uow.replay(MERGE, idempotency_key, request)
    if replayed is not None:
        return replayed
    picks = merge.checked_choices(fields)
    if not isinstance(source_id, str):
        raise ValidationFailed({"source_id": ["A client's id."]})
    if source_id == target_id:
        raise Conflict("source_id: a client cannot be merged into itself")
    take_turns(uow.session, "clients:merge")  # no two merges of one client at once
    target = current_client(uow, target_id, if_match)
    source = clients_of(uow).get(source_id)
    _check_mergeable(target, source)
    actor, now = uow.context.actor, utcnow()
    source_record = to_resource(source)

    source_changes = source.merge_into(target.id, actor, now)
    flush_client(uow, source)  # archived first: its IČO is free for the target
    values = merge.merged_values(target, source, picks)
    values["parent_id"] = _parent(target, source, values["parent_id"])
    if values["parent_id"] != target.parent_id:
        clients_of(uow).check_parent(target.id, values["parent_id"])
    changes = target.edit(values, actor, now)
    if "ico" in changes:
        ico_free(uow, target.ico, but=target.id)
    contacts = move_contacts(uow, source.id, target.id, now)
    subsidiaries = _move_subsidiaries(uow, source.id, target.id, actor, now)

    if contacts:
        source_changes["contacts"] = {"before": contacts, "after": []}
    save_client(uow, source, "merged", source_changes, actor, now)
    save_client(uow, target, "merged", {**changes, "merged_from": {"before": None, "after": {
        "id": source.id, "name": source.name, "record": source_record, "contacts": contacts,
        "subsidiaries": subsidiaries}}}, actor, now)
    if changes:
        uow.emit("client.updated", target.id, {"client": event_client(to_resource(target)),
                                               "source": "user", "changes": changes})
    uow.emit("client.merged", target.id, {
        "target_id": target.id, "source_id": source.id,
        "source": {"name": source.name, "ico": source.ico},
        "target_version": target.version, "source_version": source.version,
        "merged_at": rfc3339(now), "contact_ids": [c["id"] for c in contacts],
        "subsidiary_ids": subsidiaries})
    return uow.commit_once(MERGE, idempotency_key, request, to_resource(target))


def _check_mergeable(target: Client, source: Client) -> None:
    if source.merged_into is not None:
        raise Conflict(f"source_id: client {source.id} was merged into {source.merged_into} "
                       "already", {"existing_id": source.merged_into})
    if source.erased_at is not None:
        raise Conflict(f"source_id: client {source.id} was erased (GDPR): nothing to merge")
    if target.archived_at is not None:
        raise Conflict(f"client {target.id} is archived: restore it first, or merge it into "
                       "the other one")
    if target.kind != source.kind:
        raise Conflict(f"kind: a {source.kind} cannot be merged into a {target.kind}; change "
                       "the kind of one of them first")


def _parent(target: Client, source: Client, picked: str | None) -> str | None:
    """The target's parent company: never itself or the source (a target that was the
    source's subsidiary takes the source's parent)."""
    if picked == source.id:
        picked = source.parent_id
    return None if picked == target.id else picked


def _move_subsidiaries(uow, source_id: str, target_id: str, actor, now) -> list[str]:
    """The source's subsidiaries become the target's; each has it in its history."""
    moved = []
    for child in uow.session.scalars(select(Client).where(
            clients.c.parent_id == source_id, clients.c.id != target_id)
            .order_by(clients.c.id)):
        changes = child.edit({"parent_id": target_id}, actor, now)
        save_client(uow, child, "updated", changes, actor, now)
        uow.emit("client.updated", child.id, {"client": event_client(to_resource(child)),
                                              "source": "user", "changes": changes})
        moved.append(child.id)
    return moved
