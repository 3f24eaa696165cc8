"""/api/v1/audit: who wrote what through the API, when, from where (administrators)."""
from flask_smorest import Blueprint

from ..account_schemas import AuditPageSchema, AuditQuerySchema
from ..accounts import audit, store
from . import next_link, offset_of, page_cursor, problem_responses

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit",
                description="The audit log of every write (administrators)")


@blp.route("")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditPageSchema)
@problem_responses(blp, 403, 422)
def list_audit(query):
    """Writes through the API, newest first; filter by user, token, resource, action,
    record, status and time (`since` inclusive, `until` exclusive)"""
    before = offset_of(query.get("cursor"), marker="a") or None
    with store.transaction() as connection:
        items, more = audit.page(connection, query["limit"], before, query)
    cursor = page_cursor(items[-1]["id"] if more else None, marker="a")
    params = {k: v for k, v in query.items() if k not in ("cursor",)}
    for name in ("since", "until"):
        if params.get(name) is not None:
            params[name] = params[name].isoformat()
    return {"items": items, "next_cursor": cursor}, 200, next_link(cursor, **params)
