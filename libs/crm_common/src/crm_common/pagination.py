"""Keyset (cursor) pagination, newest first: a cursor stays valid while rows are added."""
import base64
import json
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
    offset = cursor_offset(cursor) if cursor else 0
    rows = fetch(offset, limit + 1)
    next_cursor = offset_cursor(offset + limit) if len(rows) > limit else None
    return {"items": [dump(row) for row in rows[:limit]], "next_cursor": next_cursor}


def offset_cursor(offset: int, kind: str = "o") -> str:
    """The cursor of a place in a list (`kind` tells lists of different orders apart)."""
    return base64.urlsafe_b64encode(f"{kind}|{offset}".encode()).decode()


def cursor_offset(cursor: str, kind: str = "o") -> int:
    """The place an `offset_cursor` stands for; garbage -> ValidationFailed."""
    try:
        found, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        if found != kind or not (offset.isascii() and offset.isdigit()) or len(offset) > 15:
            raise ValueError(cursor)
        return int(offset)
    except Exception as exc:  # noqa: BLE001 - any garbage is the caller's error
        raise ValidationFailed({"cursor": ["Not a valid cursor."]}) from exc


def values_cursor(*values) -> str:
    """A cursor holding the last row's sort key (JSON values)."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode()


def cursor_values(cursor: str, count: int, message: str = "Not a valid cursor.") -> list:
    """The `count` text values of a `values_cursor`; garbage -> ValidationFailed."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(values, list) and len(values) == count and \
                all(isinstance(value, str) for value in values):
            return values
    except Exception:  # noqa: BLE001 - any garbage is the caller's error
        pass
    raise ValidationFailed({"cursor": [message]})
