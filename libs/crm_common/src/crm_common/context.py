"""The request/event context of the current worker, for logs and for the events it causes."""
import contextvars
import logging
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


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
