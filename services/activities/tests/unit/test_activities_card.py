"""The activities service's part of the client card in one call (`card.card`): the
client's recent timeline and its open tasks, as `timeline` and `tasks` answer them."""
from activities_service import card, entry_handlers as eh, handlers

CLIENT, OTHER = "c-1", "c-2"


def create(db, **payload):
    payload.setdefault("client_id", CLIENT)
    with db("user:jana") as uow:
        return eh.create(uow, payload)["activity"]


def test_the_card_holds_the_recent_timeline_and_the_open_tasks(units):
    notes = [create(units, type="note", title=f"Poznámka {n}") for n in range(3)]
    create(units, type="note", title="Jiný klient", client_id=OTHER)
    open_task = create(units, type="task", title="Zavolat", due_date="2030-01-02")
    done = create(units, type="task", title="Hotovo", due_date="2030-01-01")
    create(units, type="task", title="Jinde", client_id=OTHER)
    with units("user:jana") as uow:
        eh.complete_task(uow, done["id"])
    with units.reader("user:jana") as uow:  # as the RPC runs: it only reads
        answer = card.card(uow, CLIENT, timeline_limit=2, tasks_limit=5)
    with units("user:jana") as uow:
        assert answer["timeline"] == handlers.timeline(uow, CLIENT, limit=2)
        assert answer["open_tasks"] == eh.tasks(uow, {"client_id": CLIENT, "status": "open",
                                                      "limit": 5})
    assert [t["id"] for t in answer["open_tasks"]["items"]] == [open_task["id"]]
    assert len(answer["timeline"]["items"]) == 2 and answer["timeline"]["next_cursor"]
    timeline_ids = {e["id"] for e in answer["timeline"]["items"]}
    assert timeline_ids <= {n["id"] for n in notes} | {open_task["id"], done["id"]}
