"""Which clients a registry refresh (ARES) may take: the gateway asks before it starts a
refresh job, so the job only holds clients the caller may see, each with its IČO."""
from crm_common.errors import ValidationFailed
from crm_common.pagination import cursor_values, values_cursor

from .handlers import clients_of

MAX_LIMIT = 1000
MAX_IDS = 10_000  # what one refresh request may name (the gateway's limit too)


def registry_targets(uow, client_ids: list | None = None, cursor: str | None = None,
                     limit: int = MAX_LIMIT) -> dict:
    """{"items": [{"client_id", "ico"}], "next_cursor"}: active clients (not archived,
    erased or merged) with an IČO that the caller may see, by id. With `client_ids`, a
    page over those ids (sorted): the answer also names, in `no_ico`, the ones of the page
    that qualify but have no IČO; the others of the page do not exist for the caller."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed({"limit": [f"A number from 1 to {MAX_LIMIT}."]})
    after = cursor_values(cursor, 1)[0] if cursor else None
    clients = clients_of(uow)
    if client_ids is None:
        rows = clients.refreshable(after=after, limit=limit + 1)
        page = rows[:limit]
        return {"items": [{"client_id": row.id, "ico": row.ico} for row in page],
                "next_cursor": values_cursor(page[-1].id) if len(rows) > limit else None}
    asked = [i for i in _ids(client_ids) if after is None or i > after]
    page = asked[:limit]
    rows = clients.refreshable(among=page) if page else []
    return {"items": [{"client_id": row.id, "ico": row.ico} for row in rows if row.ico],
            "no_ico": [row.id for row in rows if not row.ico],
            "next_cursor": values_cursor(page[-1]) if len(asked) > limit else None}


def _ids(client_ids) -> list[str]:
    if not isinstance(client_ids, list) or len(client_ids) > MAX_IDS or \
            not all(isinstance(i, str) and 0 < len(i) <= 64 for i in client_ids):
        raise ValidationFailed({"client_ids": [f"A list of up to {MAX_IDS} client ids."]})
    return sorted(set(client_ids))
