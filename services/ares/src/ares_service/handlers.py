"""Use cases of the ares service: lookups owed for new clients and changed IČOs (queued,
the dispatcher sends them), a client's erasure, and the RPCs (a preview, a refresh of one
client now, the statutory body, refresh jobs)."""
import json
import logging

from sqlalchemy import delete, select

from crm_common.errors import ValidationFailed
from crm_common.events import rfc3339, utcnow
from crm_common.messaging import outbox

from . import lookups, refresh_jobs, schedule
from .client import FOUND, UNAVAILABLE, is_valid_ico, normalize_ico
from .lookups import Answer, Settings
from .orm import lookup_cache
from .queue import LookupQueue, Pending

log = logging.getLogger(__name__)
CONSUMER = "ares.lookup"
# updates whose new IČO is looked up: a person's (the register's own are its answers)
LOOKED_UP_SOURCES = ("user", "import")


def queue_lookups(uow, events: list[dict]) -> None:
    """On client.created and on client.updated with another IČO: owe the client a lookup.
    Queued in the event's transaction, so none is lost; the dispatcher sends it within
    a tick. A client whose IČO was removed is no longer watched."""
    owed, queue = [], LookupQueue(uow.session)
    for event in events:
        data = event["data"]
        client = data.get("client") or {}
        ico = normalize_ico(client["ico"])[:8] if client.get("ico") else None
        if event.get("type") == "client.updated":
            if "ico" not in (data.get("changes") or {}) or \
                    data.get("source") not in LOOKED_UP_SOURCES:
                continue
            # the old IČO is no longer this client's: its lookups still waiting go
            queue.drop_client(client["id"], keep_ico=ico)
            if not ico:
                schedule.unwatch(uow.session, client["id"])
                continue
        if ico:
            owed.append({"ico": ico, "client_id": client["id"],
                         "reason": "updated" if event.get("type") == "client.updated"
                         else "created",
                         "correlation_id": event.get("correlationid"),
                         "causation_id": event.get("id")})
    queue.add(owed, utcnow())


def forget_client(uow, event: dict) -> None:
    """On `client.erased` (GDPR): no more lookups for the person, and nothing kept that
    names them: their queued lookups, their place in jobs and in the scheduled refresh,
    the register's answers for their IČO (found through the queue and the lookups this
    service published for them) and its messaging rows."""
    client_id = event["data"]["client_id"]
    queue = LookupQueue(uow.session)
    # the watch first: a scheduled refresh queueing this client meanwhile (it holds the
    # row) commits before, and its lookup is dropped below
    icos = schedule.icos_of(uow.session, client_id)
    schedule.unwatch(uow.session, client_id)
    icos |= queue.icos_of(client_id) | refresh_jobs.icos_of(uow, client_id)
    for (payload,) in uow.session.execute(select(outbox.c.payload).where(
            outbox.c.payload.like(f"%{client_id}%"))):
        ico = (json.loads(payload).get("data") or {}).get("ico")
        if ico:
            icos.add(ico)
    queue.drop_client(client_id)  # a lookup in flight is then no longer held: not recorded
    refresh_jobs.forget_client(uow, client_id)
    if icos:
        uow.session.execute(delete(lookup_cache).where(lookup_cache.c.ico.in_(icos)))
    uow.forget([client_id, *sorted(icos)])


def checked_ico(value) -> str:
    ico = normalize_ico(value) if isinstance(value, (str, int)) else ""
    if not is_valid_ico(ico):
        raise ValidationFailed({"ico": ["Not a valid IČO (8 digits with a correct check digit)."]})
    return ico


def call_ares(uow_factory, ares, breaker, call, ico: str):
    """One call to ARES through the circuit breaker (a LookupResult); when it closes the
    breaker, the lookups waiting for ARES go out now."""
    if not breaker.allow():
        return lookups.unavailable(ico, "ARES is unavailable (circuit breaker open)")
    result = call(ico)
    tell_breaker(uow_factory, breaker, answered=result.status != UNAVAILABLE)
    return result


def tell_breaker(uow_factory, breaker, answered: bool) -> None:
    """Whether ARES answered a call; when that closes the breaker, the lookups waiting
    for ARES go out now, not at their backoff time."""
    if not answered:
        breaker.failed()
    elif breaker.succeeded():
        _send_backlog(uow_factory)


def _send_backlog(uow_factory) -> None:
    with uow_factory() as uow:
        sent = LookupQueue(uow.session).send_backlog_now(utcnow())
        uow.commit()
    if sent:
        log.info("ARES is back: %d waiting lookups go out now", sent)


def lookup(uow_factory, ares, breaker, settings: Settings, ico) -> dict:
    """A preview for the UI: what the register says about an IČO (no events)."""
    ico = checked_ico(ico)
    now = utcnow()
    with uow_factory() as uow:
        answer = lookups.cached_answers(uow.session, [ico], now).get(ico)
    if answer is None:
        answer = Answer(call_ares(uow_factory, ares, breaker, ares.lookup, ico), utcnow())
        with uow_factory() as uow:
            lookups.remember(uow.session, settings, {ico: answer})
            uow.commit()
    return lookups.answer_resource(answer)


def refresh(uow_factory, ares, breaker, settings: Settings, client_id: str, ico) -> dict:
    """Fetch fresh data for one client now (bypassing the cache) and publish the outcome;
    when ARES does not answer, the lookup waits in the queue like any other."""
    ico = checked_ico(ico)
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 36:
        raise ValidationFailed({"client_id": ["A client id."]})
    answer = Answer(call_ares(uow_factory, ares, breaker, ares.lookup, ico), utcnow())
    with uow_factory() as uow:
        pending = Pending(ico=ico, client_id=client_id, reason="refresh",
                          correlation_id=uow.context.correlation_id,
                          causation_id=uow.context.causation_id)
        lookups.record(uow, settings, {ico: answer}, [pending])
        uow.commit()
    return lookups.answer_resource(answer)


def statutory_people(uow_factory, ares, breaker, ico) -> dict:
    """The current members of the statutory body in the public register: suggestions of
    contact persons. Personal data: fetched when asked for, never stored here."""
    ico = checked_ico(ico)
    result = call_ares(uow_factory, ares, breaker, ares.statutory_body, ico)
    return {"status": result.status, "ico": ico, "detail": result.detail,
            "people": (result.record or {}).get("people", []) if result.status == FOUND
            else [], "fetched_at": rfc3339(utcnow())}
