"""One module per resource."""
import json
from urllib.parse import urlencode

from flask import request


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
