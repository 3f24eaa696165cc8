"""What the clients' events mean for deals. Every handler is idempotent and tolerant of
order: a client's events carry its version, and a deal keeps the newest it has seen
(`client_version`), so an older event arriving late changes nothing."""
from sqlalchemy import update

from crm_common.events import utcnow

from .domain import OPEN, Deal
from .handlers import deal_event
from .orm import deal_history, deals
from .repository import Deals, Pipelines

ERASED_TITLE = "Erased (GDPR)"


def on_client_events(uow, events: list[dict]) -> None:
    for event in events:
        handler = HANDLERS.get(event.get("type"))
        if handler:
            handler(uow, event.get("data") or {}, event)


def _client_updated(uow, data: dict, event: dict) -> None:
    client = data.get("client") or {}
    archived = client.get("archived_at") is not None
    for deal in _newer(uow, client.get("id"), client.get("version")):
        if deal.client_name != client.get("name"):
            deal.client_name = client.get("name")
            Deals(uow.session).reindex(deal)
        if deal.status == OPEN and deal.client_archived != archived:
            _flag(uow, deal, archived, event)


def _client_archived(uow, data: dict, event: dict) -> None:
    archived = event.get("type") == "client.archived"
    for deal in _newer(uow, data.get("client_id"), data.get("version")):
        if deal.status == OPEN and deal.client_archived != archived:
            _flag(uow, deal, archived, event)


def _flag(uow, deal: Deal, archived: bool, event: dict) -> None:
    """An open deal of an archived client is flagged, not closed (someone decides)."""
    changes = {"client_archived": {"before": deal.client_archived, "after": archived}}
    deal.client_archived = archived
    deal.updated_at, deal.version = utcnow(), deal.version + 1
    uow.session.flush()
    Deals(uow.session).record(deal, "updated", changes, event.get("actor"), deal.updated_at)
    stage = Pipelines(uow.session).stages_by_id([deal.stage_id]).get(deal.stage_id)
    uow.emit("deal.updated", deal.id, {"deal": deal_event(deal, stage), "changes": changes})


def _client_merged(uow, data: dict, event: dict) -> None:
    """The surviving client takes the merged one's deals."""
    source, target = data.get("source_id"), data.get("target_id")
    if not source or not target or source == target:
        return
    repo, now = Deals(uow.session), utcnow()
    for deal in repo.of_client(source):
        changes = {"client_id": {"before": source, "after": target}}
        deal.client_id, deal.updated_at, deal.version = target, now, deal.version + 1
        uow.session.flush()
        repo.record(deal, "client_merged", changes, event.get("actor"), now)
        stage = Pipelines(uow.session).stages_by_id([deal.stage_id]).get(deal.stage_id)
        uow.emit("deal.updated", deal.id, {"deal": deal_event(deal, stage),
                                           "changes": changes})


def _client_erased(uow, data: dict, event: dict) -> None:
    """A person's erasure (GDPR): their deals stay (amounts, stages, dates), what they may
    say about the person goes: the title, the description, the client's name, the lost
    note, the custom field values, and the values in the deals' history."""
    client_id = data.get("client_id") or event.get("subject")
    repo = Deals(uow.session)
    erased = repo.of_client(client_id)
    for deal in erased:
        deal.title, deal.description, deal.lost_note = ERASED_TITLE, None, None
        deal.client_name, deal.custom_fields = None, {}
        repo.reindex(deal)
    if erased:
        uow.session.execute(update(deal_history).where(
            deal_history.c.deal_id.in_([deal.id for deal in erased])).values(changes={}))


def _newer(uow, client_id: str | None, version) -> list[Deal]:
    """The client's deals that have not seen this version of it yet (then they have)."""
    if not client_id or not isinstance(version, int):
        return []
    found = [deal for deal in Deals(uow.session).of_client(client_id)
             if deal.client_version is None or deal.client_version < version]
    if found:
        uow.session.execute(update(deals).where(deals.c.id.in_([d.id for d in found]))
                            .values(client_version=version)
                            .execution_options(synchronize_session="fetch"))
    return found


HANDLERS = {"client.updated": _client_updated, "client.archived": _client_archived,
            "client.restored": _client_archived, "client.merged": _client_merged,
            "client.erased": _client_erased}
