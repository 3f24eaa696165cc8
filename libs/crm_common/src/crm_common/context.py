"""The request/event context of the current worker, for logs and for the events it causes."""
import contextvars
import logging
import re
import uuid

from .events import EventContext

_current: contextvars.ContextVar[EventContext | None] = contextvars.ContextVar(
    "crm_context", default=None)


def current() -> EventContext:
    return _current.get() or EventContext(correlation_id=str(uuid.uuid4()))


def set_current(context: EventContext) -> None:
    _current.set(context)


class CorrelationFilter(logging.Filter):
    """Adds `correlation_id` to every record so one request can be followed across services."""

    def filter(self, record):
        context = _current.get()
        record.correlation_id = context.correlation_id if context else "-"
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """Control characters as `\\xNN`: a value from a request (an id with %0a in it) can
    never start a forged line of its own."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class OneLineFormatter(logging.Formatter):
    """Each record's message on one line, its control characters escaped; a traceback
    (exc_info) still follows on lines of its own."""

    def format(self, record):
        record = logging.makeLogRecord(record.__dict__)
        record.msg, record.args = escape_controls(record.getMessage()), None
        return super().format(record)


class ExpectedErrorsFilter(logging.Filter):
    """nameko logs a caller's mistake (a 404, a 422: the RPC's `expected_exceptions`) as a
    warning with a traceback; it is the caller's error, not the service's: INFO, one line."""

    def filter(self, record):
        if record.name == "nameko.containers" and \
                str(record.msg).startswith("(expected) error handling worker"):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(CorrelationFilter())
    handler.addFilter(ExpectedErrorsFilter())
    handler.setFormatter(OneLineFormatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
