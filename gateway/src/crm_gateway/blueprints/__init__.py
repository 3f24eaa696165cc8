"""One module per resource."""
import json
from urllib.parse import urlencode

from flask import request
from werkzeug.exceptions import BadRequest


def next_link(next_cursor: str | None, **params) -> dict:
    """A `Link: <...>; rel="next"` header for the page after this one (none on the last)."""
    if not next_cursor:
        return {}
    query = {k: v for k, v in params.items() if v not in (None, "", [])}
    query["cursor"] = next_cursor
    return {"Link": f'<{request.path}?{urlencode(query, doseq=True)}>; rel="next"'}


def require_json():
    """Writes take a JSON body: anything else is a 415, malformed JSON a 400 (problem+json)."""
    from ..problems import problem  # noqa: PLC0415 - keep the package import light

    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    if not request.is_json:
        return problem(415, "The request body must be JSON (Content-Type: application/json).",
                       headers={"Accept-Post": "application/json"})
    try:
        json.loads(request.get_data(cache=True) or b"")
    except ValueError:
        return problem(400, "The request body is not valid JSON.")
    return None


IDEMPOTENCY_HEADER = {"in": "header", "name": "Idempotency-Key", "required": False,
                      "schema": {"type": "string", "maxLength": 200},
                      "description": "Send the same key again (e.g. after a timeout) and get "
                                     "the first answer back instead of a second record."}


def idempotency_key() -> dict:
    """`{"idempotency_key": ...}` for the RPC when the request carries the header."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return {}
    key = key.strip()
    if not key or len(key) > 200:
        raise BadRequest("Idempotency-Key must be 1 to 200 characters.")
    return {"idempotency_key": key}
