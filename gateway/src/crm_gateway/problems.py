"""RFC 9457 problem details for every error the gateway answers."""
import logging
from http import HTTPStatus

from flask import Response, current_app, g, json, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, UnprocessableEntity

from crm_common.errors import CrmError
from crm_common.rpc import BrokerBlocked, NotSent, RemoteError, RpcTimeout

PROBLEM_MIME = "application/problem+json"
VALIDATION_TYPE = "urn:crm:problem:validation-failed"
UNAVAILABLE_TYPE = "urn:crm:problem:service-unavailable"  # 503: nothing was done
OUTCOME_UNKNOWN_TYPE = "urn:crm:problem:outcome-unknown"  # 504: it may have been done
NOTHING_DONE = "Nothing was done; try again later."
log = logging.getLogger(__name__)

# remote exception class name -> (status, problem type); anything else is a 502
REMOTE_ERRORS = {
    "ValidationFailed": (422, VALIDATION_TYPE),
    "NotFound": (404, "about:blank"),
    "Forbidden": (403, "about:blank"),
    "Conflict": (409, "urn:crm:problem:conflict"),
    "PreconditionFailed": (412, "urn:crm:problem:stale-version"),
    "ServiceUnavailable": (503, UNAVAILABLE_TYPE),  # returned by the broker: nobody consumes
    "PayloadTooLarge": (413, "urn:crm:problem:too-large"),
    # stored bytes that fail their checksum: never handed out (the service logs it)
    "DataDamaged": (500, "urn:crm:problem:data-damaged"),
}


def problem(status: int, detail: str | None = None, *, title: str | None = None,
            type_: str = "about:blank", headers: dict | None = None, **extra) -> Response:
    body = {"type": type_, "title": title or HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path if request else None
    body.update(extra)
    if g.get("correlation_id"):
        body["correlation_id"] = g.correlation_id
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


MAX_ERRORS = 100  # a 1 MB body of unknown keys must not get a 10 MB answer
MAX_ECHO = 200  # characters of a field name or message repeated back


def validation_problem(fields: dict, detail: str = "The request is not valid.",
                       location: str | None = None) -> Response:
    errors = [{"field": _clip(e["field"]), "message": _clip(e["message"])}
              for e in flatten(fields)]
    extra = {}
    if len(errors) > MAX_ERRORS:
        extra["errors_omitted"] = len(errors) - MAX_ERRORS
        errors = errors[:MAX_ERRORS]
    if location:
        errors = [dict(e, location=location) for e in errors]
    by_field: dict = {}
    for error in errors:  # `fields` from the (clipped) list: what it says, once
        by_field.setdefault(error["field"] or "_schema", []).append(error["message"])
    return problem(422, detail, title="Validation failed", type_=VALIDATION_TYPE,
                   errors=errors, fields=by_field, **extra)


def _clip(text):
    if isinstance(text, str) and len(text) > MAX_ECHO:
        return text[:MAX_ECHO] + "…"
    return text


def flatten(messages, prefix: str = "") -> list[dict]:
    """{"a": {"b": ["msg"]}, "c": ["x"]} -> [{"field": "a.b", "message": "msg"}, ...]."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            name = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            out.extend(flatten(value, name))
        return out
    if isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            return [{"field": prefix or None, "message": m} for m in messages]
        return [e for m in messages for e in flatten(m, prefix)]
    return [{"field": prefix or None, "message": str(messages)}]


def _retry_after() -> dict:
    return {"Retry-After": str(current_app.config.get("RETRY_AFTER", 5))}


def from_http_exception(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    messages = data.get("messages") or data.get("errors")
    if error.code == 422 and isinstance(messages, dict):
        # webargs: {location: {field: [messages]}}
        if len(messages) == 1:
            location, fields = next(iter(messages.items()))
            return validation_problem(fields, location=location)
        errors = [dict(e, location=loc) for loc, f in messages.items() for e in flatten(f)]
        return problem(422, "The request is not valid.", title="Validation failed",
                       type_=VALIDATION_TYPE, errors=errors, fields=messages)
    first = next(iter(flatten(messages)), {}) if messages else {}
    detail = data.get("message") or first.get("message") or error.description
    return problem(error.code or 500, detail, headers=headers)


def from_remote_error(error: RemoteError) -> Response:
    if error.exc_type in ("DeadlineExceeded", "OutcomeUnknown"):
        # the service saw our deadline pass (its clock a little ahead), or its database
        # failed while committing: either way nobody knows whether the write is stored
        return from_timeout(error)
    status, type_ = REMOTE_ERRORS.get(error.exc_type, (502, "urn:crm:problem:bad-gateway"))
    if status == 422:
        fields = error.args_[0] if error.args_ and isinstance(error.args_[0], dict) else {
            "_schema": [error.value or "Invalid."]}
        return validation_problem(fields)
    if status == 503:
        log.warning("service unavailable: %s", error)
        return problem(503, f"The service is not available. {NOTHING_DONE}", type_=type_,
                       headers=_retry_after())
    if status == 500:
        log.error("%s: %s", error.exc_type, error)
    if status == 502:
        log.error("remote error: %s", error)  # internals stay in the log
        return problem(502, "A service failed to answer the request.", type_=type_)
    return problem(status, _remote_detail(error), type_=type_, **_conflict_details(error))


def from_own_check(error: CrmError) -> Response:
    """A check the gateway makes itself (a deal's client) refuses as a service would."""
    return from_remote_error(RemoteError(type(error).__name__, str(error), list(error.args)))


def _conflict_details(error: RemoteError) -> dict:
    """What a 409 names besides its message: the record already holding the value."""
    details = error.args_[1] if error.exc_type == "Conflict" and len(error.args_ or ()) > 1 \
        else None
    existing = details.get("existing_id") if isinstance(details, dict) else None
    if not isinstance(existing, str):
        return {}
    return {"existing_id": existing, "existing_url": f"/api/v1/clients/{existing}"}


def _remote_detail(error: RemoteError) -> str | None:
    if error.args_ and isinstance(error.args_[0], str):
        return error.args_[0]
    return error.value


def from_not_sent(error: NotSent) -> Response:
    """The request never reached a service: broker unreachable or blocking publishers."""
    log.warning("not sent: %s", error)
    why = ("The message broker is refusing new messages for now (it is short of memory or "
           "disk)." if isinstance(error, BrokerBlocked)
           else "The message broker cannot be reached.")
    return problem(503, f"{why} {NOTHING_DONE}", type_=UNAVAILABLE_TYPE,
                   headers=_retry_after())


def from_timeout(error: Exception) -> Response:
    """Sent, but no answer by the deadline. A write carries an idempotency key (the caller's
    or one made for this request): retrying with it gives the first outcome, never a second
    write. The service skips the request if it only reaches it after the deadline."""
    log.warning("outcome unknown: %s", error)
    key = g.get("idempotency_key")
    if key is None:  # no write was sent in this request
        return problem(504, "A service did not answer in time. This request only reads, so "
                            "nothing was changed; it is safe to repeat.",
                       title="Outcome unknown", type_=OUTCOME_UNKNOWN_TYPE,
                       headers=_retry_after())
    return problem(504, "A service did not answer in time: the request may or may not have "
                        "been carried out. Retry it with the same Idempotency-Key "
                        "(idempotency_key) to get its outcome without doing it twice.",
                   title="Outcome unknown", type_=OUTCOME_UNKNOWN_TYPE,
                   headers=_retry_after(), idempotency_key=key)


class Invalid(UnprocessableEntity):
    """A 422 naming fields, raised from a view: `raise invalid({"cursor": ["..."]})`."""

    def __init__(self, fields: dict, location: str):
        super().__init__()
        self.data = {"messages": {location: fields}}


def invalid(fields: dict, location: str = "query") -> Invalid:
    return Invalid(fields, location)


def from_database_error(error: DBAPIError) -> Response:
    """The gateway's own database (users, tokens, audit) does not answer: nothing of this
    request is known to be done, try again."""
    log.error("gateway database: %s", str(error).splitlines()[0])
    return problem(503, "The gateway's database is not available; try again shortly.",
                   headers=_retry_after())


def from_busy(_error) -> Response:
    return problem(503, "Too many logins at this moment; try again shortly.",
                   headers=_retry_after())


def from_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):  # pragma: no cover - handled more specifically
        return from_http_exception(error)
    log.exception("unhandled error")
    return problem(500, "An unexpected error occurred.")


def init_app(app) -> None:
    app.register_error_handler(HTTPException, from_http_exception)
    app.register_error_handler(RemoteError, from_remote_error)
    app.register_error_handler(CrmError, from_own_check)
    app.register_error_handler(RpcTimeout, from_timeout)
    app.register_error_handler(NotSent, from_not_sent)
    app.register_error_handler(OperationalError, from_database_error)
    from .accounts.passwords import Busy  # noqa: PLC0415 - problems is imported early
    app.register_error_handler(Busy, from_busy)
    app.register_error_handler(Exception, from_unexpected)
