"""The activities service's part of the client card (GET /api/v1/clients/{id}/card) in one
call: the recent timeline and the open tasks (one RPC instead of one per section)."""
from . import entry_handlers, handlers


def card(uow, client_id: str, timeline_limit: int = 10, tasks_limit: int = 10) -> dict:
    """`{"timeline", "open_tasks"}`, as `timeline` and `tasks` answer them; the caller's
    access rules apply to both, as they would to those calls."""
    return {"timeline": handlers.timeline(uow, client_id, limit=timeline_limit),
            "open_tasks": entry_handlers.tasks(uow, {"client_id": client_id,
                                                     "status": "open",
                                                     "limit": tasks_limit})}
