"""The client card (GET /api/v1/clients/{id}/card) put together from the services: one
`card` RPC to each of clients, activities and deals, in parallel, each answering all of
its sections (an RPC costs the broker, this process and the service more than the reads
it carries).

A service of the release before the `card` RPCs answers `MethodNotFound` while a rolling
upgrade runs (replicas of both releases share its queue); its sections are then asked
for one call each, as that release's gateway did. Drop `_per_section` once no supported
release lacks `card`."""
from crm_common.rpc import RemoteError

from . import rpc

TIMELINE = 10  # entries of the card's recent timeline
DEALS = 10  # open (and closed) deals on the card, the most recently changed first
TASKS = 10  # open tasks on the card, the soonest due first
SECTIONS = {  # the sections each service answers; the clients service's also the client
    "clients": ("parent", "contacts", "subsidiaries"),
    "activities": ("timeline", "open_tasks"),
    "deals": ("open_deals", "closed_deals", "deal_summary"),
}
UNAVAILABLE = {"status": "unavailable"}


def answers(client_id: str, timeout: float) -> dict:
    """{service: its sections (and the clients service's `client`) or the exception its
    call ended in}; within a service's answer a section may be an exception too."""
    found = rpc.fan_out({
        "clients": ("clients", "card", {"client_id": client_id}),
        "activities": ("activities", "card", {"client_id": client_id,
                                              "timeline_limit": TIMELINE,
                                              "tasks_limit": TASKS}),
        "deals": ("deals", "card", {"client_id": client_id, "limit": DEALS}),
    }, timeout=timeout)
    older = [service for service, answer in found.items() if _without_card(answer)]
    if older:
        found.update(_per_section(client_id, older, timeout))
    return found


def sections(found: dict) -> dict:
    """The card's sections from `answers` whose clients answer holds the client: each
    `{"status": "ok", ...}` or `{"status": "unavailable"}`."""
    card = {}
    for service, names in SECTIONS.items():
        answer = found[service]
        for name in names:
            value = answer if isinstance(answer, Exception) else answer.get(name)
            if isinstance(value, Exception):
                card[name] = UNAVAILABLE
            elif name == "parent":
                card[name] = {"status": "ok", "client": value}
            else:
                card[name] = {"status": "ok", **(value or {})}
    return card


def _without_card(answer) -> bool:
    return isinstance(answer, RemoteError) and answer.exc_type == "MethodNotFound"


def _calls_per_section(client_id: str) -> dict:
    return {
        "clients": {"client": ("clients", "get", {"client_id": client_id}),
                    "contacts": ("clients", "list_contacts", {"client_id": client_id}),
                    "subsidiaries": ("clients", "subsidiaries", {"client_id": client_id})},
        "activities": {
            "timeline": ("activities", "timeline", {"client_id": client_id,
                                                    "limit": TIMELINE}),
            "open_tasks": ("activities", "tasks", {"query": {
                "client_id": client_id, "status": "open", "limit": TASKS}})},
        "deals": {
            "open_deals": ("deals", "list", {"filters": {"client_id": client_id,
                                                         "status": "open"},
                                             "sort": "-updated_at", "limit": DEALS}),
            "closed_deals": ("deals", "list", {"filters": {"client_id": client_id,
                                                           "status": "closed"},
                                               "sort": "-updated_at", "limit": DEALS}),
            "deal_summary": ("deals", "client_summary", {"client_id": client_id})},
    }


def _per_section(client_id: str, services: list[str], timeout: float) -> dict:
    """The answers of `services` asked one call per section (the release before)."""
    calls = _calls_per_section(client_id)
    flat = rpc.fan_out({(service, name): call for service in services
                        for name, call in calls[service].items()}, timeout=timeout)
    found = {service: {name: flat[(service, name)] for name in calls[service]}
             for service in services}
    clients = found.get("clients")
    if clients is not None:
        if isinstance(clients["client"], Exception):
            found["clients"] = clients["client"]  # as the card's own call would fail
        else:
            clients["parent"] = _parent(clients["client"].get("parent_id"), timeout)
    return found


def _parent(parent_id: str | None, timeout: float):
    if not parent_id:
        return None
    parent = rpc.fan_out({"parent": ("clients", "get", {"client_id": parent_id})},
                         timeout=timeout)["parent"]
    if isinstance(parent, RemoteError) and parent.exc_type == "NotFound":
        return None  # one the caller may not see: no parent shown, no outage either
    return parent
