"""One module per resource."""
import json
import uuid
from http import HTTPStatus
from urllib.parse import urlencode

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import UUIDConverter

from crm_common.errors import ValidationFailed
from crm_common.pagination import cursor_offset, offset_cursor


class IdConverter(UUIDConverter):
    """`<id:client_id>`: a record's id, a UUID as the services make them, passed on as the
    string it was sent as. Documented as `format: uuid`; anything else in its place is not
    that route, so `/clients/batch` is only the batch and `/contacts/vcard` only the vCards
    (an OPTIONS answer then names only the methods the document lists)."""

    def to_python(self, value):
        return value

    def to_url(self, value):
        return str(value)


def with_ids(blp):
    """Lets the blueprint's routes use `<id:...>`; call it before its first route."""
    blp.record_once(lambda state: state.app.url_map.converters.setdefault("id", IdConverter))
    return blp


def next_link(next_cursor: str | None, **params) -> dict:
    """A `Link: <...>; rel="next"` header for the page after this one (none on the last)."""
    if not next_cursor:
        return {}
    query = {k: v for k, v in params.items() if v not in (None, "", [])}
    query["cursor"] = next_cursor
    return {"Link": f'<{request.path}?{urlencode(query, doseq=True)}>; rel="next"'}


LINK_HEADER = {"Link": {"description": 'rel="next": the next page',
                        "schema": {"type": "string"}}}


def paged(page: dict):
    """A page's answer with the link to the next one: the same query, its cursor."""
    params = {name: value for name, value in request.args.to_dict(flat=False).items()
              if name != "cursor"}
    return page, 200, next_link(page.get("next_cursor"), **params)


def takes_no_body(view):
    """An action endpoint (POST .../archive) that needs no request body."""
    view.takes_no_body = True
    return view


def require_json():
    """Writes take a JSON body: anything else is a 415, malformed JSON a 400 (problem+json)."""
    from ..problems import problem  # noqa: PLC0415 - keep the package import light

    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "takes_no_body", False) and not request.get_data(cache=True):
        return None  # an action such as archive: nothing to send
    if not request.is_json:
        return problem(415, "The request body must be JSON (Content-Type: application/json).",
                       headers={"Accept-Post": "application/json"})
    try:
        json.loads(request.get_data(cache=True) or b"")
    except ValueError:
        return problem(400, "The request body is not valid JSON.")
    except RecursionError:
        return problem(400, "The request body is nested too deeply.")
    return None


IDEMPOTENCY_HEADER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    # 1 to 200 characters once trimmed, so something that is not blank
    "schema": {"type": "string", "minLength": 1, "maxLength": 200,
               "pattern": r"[^\s\x1c-\x1f\x85\ufeff]"},
    "description": "Send the same key again (e.g. after a 504) and get the first answer back "
                   "instead of a second record. Without one the gateway makes a key for this "
                   "request; a 504 answer names it (`idempotency_key`) so you can retry "
                   "safely all the same. Once a key has had a 504, keep retrying with that "
                   "key until you get a definite answer: a 503 to a retry means only that "
                   "the retry did nothing, not that the first attempt did nothing. A key "
                   "used before with a different request is a 422."}


IF_MATCH_HEADER = {
    "in": "header", "name": "If-Match", "required": False,
    # what `if_match()` takes; anything else is a 400
    "schema": {"type": "string", "pattern": r'^[ \t]*(\*|(W/)?"[0-9]{1,18}")[ \t]*$'},
    "description": "The ETag of your last GET (`W/\"<version>\"`): the change is made only "
                   "if the record is still at that version, else 412 and nothing changes. "
                   "Without it the change applies to whatever version is current."}


ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description":
                        'W/"<version>": send it back in If-Match to change the record'}}


def with_etag(record: dict, status: int = 200):
    """A versioned record's answer with its weak ETag."""
    headers = {"ETag": f'W/"{record["version"]}"'} if record.get("version") is not None else {}
    return record, status, headers


def if_match() -> int | None:
    """The version an `If-Match` header names (`W/"3"` or `"3"`); None without one or for
    `*` (any current version)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    tag = header.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    digits = tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else ""
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        raise BadRequest('If-Match must be one ETag as GET answered it, e.g. W/"3".')
    return int(digits)


def idempotency_key() -> dict:
    """`{"idempotency_key": key}` for a write RPC: the request's `Idempotency-Key`, else a
    key made for this request (`auto-<uuid4>`).

    The convention for every write endpoint: call it before the first RPC and pass it to
    the write RPC (`rpc.call(..., **idempotency_key())`), whether the caller sent a key or
    not. RPC requests are delivered at least once, so a redelivered request finds the key
    used and gets the first answer instead of writing twice; and a 504 (outcome unknown)
    names the key, so the caller can retry without risk. One key per HTTP request.
    """
    key = g.get("idempotency_key")
    if key is None:
        header = request.headers.get("Idempotency-Key")
        if header is None:
            key = f"auto-{uuid.uuid4()}"
        else:
            key = header.strip()
            if not key or len(key) > 200:
                raise BadRequest("Idempotency-Key must be 1 to 200 characters.")
        g.idempotency_key = key  # problems.from_timeout names it
    return {"idempotency_key": key}


def problem_responses(blp, *codes, public: bool = False):
    """Document the problem+json answers an operation can give: `codes` plus those of every
    operation (401 who are you, 403 your role, scopes or CSRF token do not allow it; none
    of these for a `public` one) and of every RPC-backed one (503 nothing was done, 504
    outcome unknown)."""
    always = () if public else (401, 403)

    def decorate(view):
        for code in sorted({*always, *codes, 503, 504}):
            view = blp.alt_response(code, response=HTTPStatus(code).name)(view)
        return view
    return decorate


def offset_of(cursor: str | None, marker: str = "o") -> int:
    """The place a cursor of `page_cursor` stands for; garbage is a 422."""
    from ..problems import invalid  # noqa: PLC0415 - keep the package import light

    if not cursor:
        return 0
    try:
        return cursor_offset(cursor, marker)
    except ValidationFailed as exc:
        raise invalid(exc.errors) from exc


def page_cursor(place: int | None, marker: str = "o") -> str | None:
    return None if place is None else offset_cursor(place, marker)
