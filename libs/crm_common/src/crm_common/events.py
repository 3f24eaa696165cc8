"""The CloudEvents 1.0 envelope (structured mode, JSON) every service publishes."""
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .access import SYSTEM, Caller


# CloudEvents' AMQP binding: structured mode says so in the message's content type.
CONTENT_TYPE = "application/cloudevents+json"


def dumps(event: dict) -> str:
    """Encoder of the `cloudevents` serializer nameko registers (see services' config.yaml)."""
    return json.dumps(event, ensure_ascii=False)


def loads(body):
    return json.loads(body)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive time is taken as UTC (SQLite hands stored times back naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def rfc3339(moment: datetime) -> str:
    return to_utc(moment).isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return to_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def schema_uri(event_type: str, version: int = 1) -> str:
    # Versioned: an incompatible change gets a new number, old consumers keep theirs.
    return f"urn:crm:schema:{event_type}:v{version}"


@dataclass(frozen=True)
class EventContext:
    """Who and what caused the change: carried into every event it produces."""
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str | None = None
    actor: str | None = None
    # who asked, for the access rules; never put into events
    caller: Caller = SYSTEM


def make_event(service: str, event_type: str, subject: str, data: dict,
               context: EventContext, version: int = 1) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/crm/{service}",
        "type": event_type,
        "time": rfc3339(utcnow()),
        "subject": str(subject),
        "datacontenttype": "application/json",
        "dataschema": schema_uri(event_type, version),
        "correlationid": context.correlation_id,
        "causationid": context.causation_id,
        "actor": context.actor,
        "data": data,
    }


def context_of(event: dict, actor: str | None = None) -> EventContext:
    """The context for work caused by `event`: same correlation, caused by it."""
    return EventContext(
        correlation_id=event.get("correlationid") or str(uuid.uuid4()),
        causation_id=event.get("id"),
        actor=actor or event.get("actor"),
    )


def exchange_name(service: str) -> str:
    """nameko's convention, and a public interface: `<service>.events`."""
    return f"{service}.events"


def envelope_problem(body, expected_type: str | None = None) -> str | None:
    """Why `body` is not a CloudEvent a handler can take (None when it is).

    Checked before a handler runs: such a message can never succeed, so it is parked at
    once instead of going through every retry delay.
    """
    if not isinstance(body, dict):
        return f"the body is a JSON {type(body).__name__}, not a CloudEvent object"
    if body.get("specversion") != "1.0":
        return "specversion is not \"1.0\""
    for name in ("id", "source", "type"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            return f"{name} is missing or not a non-empty string"
    if len(body["id"]) > 36:  # the inbox keeps ids of at most 36 characters (UUIDs)
        return "id is longer than 36 characters"
    if expected_type and body["type"] != expected_type:
        return f"type is {body['type']!r}, this handler takes {expected_type!r}"
    if not isinstance(body.get("data"), dict):
        return "data is missing or not an object"
    if body.get("time") is not None:
        try:
            parse_time(body["time"])
        except (TypeError, ValueError):
            return "time is not an RFC 3339 timestamp"
    return None
