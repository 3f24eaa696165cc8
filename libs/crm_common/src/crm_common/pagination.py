"""Keyset (cursor) pagination, newest first: a cursor stays valid while rows are added."""
import base64
from datetime import datetime
from typing import Callable

from sqlalchemy import tuple_

from .errors import ValidationFailed
from .events import to_utc

MAX_LIMIT = 500


def encode_cursor(moment: datetime, row_id: str) -> str:
    raw = f"{to_utc(moment).isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        moment, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return to_utc(datetime.fromisoformat(moment)), row_id
    except Exception as exc:  # noqa: BLE001 - any garbage is the caller's error
        raise ValidationFailed({"cursor": ["Not a valid cursor."]}) from exc


def newest_first(session, query, time_column, id_column, limit, cursor: str | None,
                 dump: Callable, key: Callable, rows: Callable | None = None) -> dict:
    """One page of `query` ordered by (time, id) descending: {"items", "next_cursor"}.

    `key(row)` gives the row's (time, id); `dump(row)` its resource; `rows(query)` runs
    the query (by default the ORM entities it selects; Core rows for a table select).
    """
    limit = max(1, min(int(limit or 50), MAX_LIMIT))
    query = query.order_by(time_column.desc(), id_column.desc())
    if cursor:
        query = query.where(tuple_(time_column, id_column) < decode_cursor(cursor))
    found = (rows or (lambda q: session.scalars(q).all()))(query.limit(limit + 1))
    next_cursor = encode_cursor(*key(found[limit - 1])) if len(found) > limit else None
    return {"items": [dump(row) for row in found[:limit]], "next_cursor": next_cursor}


def offset_page(fetch: Callable[[int, int], list], limit, cursor: str | None,
                dump: Callable) -> dict:
    """One page of a list in a fixed order that is not a time (a client's contact persons,
    a group of companies): `fetch(offset, count)` gives the rows; the cursor carries the
    offset. A row added before the cursor's place shifts the rest by one, which these small,
    rarely changing lists can afford."""
    limit = max(1, min(int(limit or 50), MAX_LIMIT))
    offset = _decode_offset(cursor) if cursor else 0
    rows = fetch(offset, limit + 1)
    next_cursor = base64.urlsafe_b64encode(f"o|{offset + limit}".encode()).decode() \
        if len(rows) > limit else None
    return {"items": [dump(row) for row in rows[:limit]], "next_cursor": next_cursor}


def _decode_offset(cursor: str) -> int:
    try:
        kind, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        if kind != "o" or not (offset.isascii() and offset.isdigit()):
            raise ValueError(cursor)
        return int(offset)
    except Exception as exc:  # noqa: BLE001 - any garbage is the caller's error
        raise ValidationFailed({"cursor": ["Not a valid cursor."]}) from exc
