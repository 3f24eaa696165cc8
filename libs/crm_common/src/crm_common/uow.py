"""Unit of work: one transaction holding the state change, its outbox rows and its inbox row."""
import json
from typing import Callable

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from .events import EventContext, make_event, utcnow
from .messaging import inbox, outbox


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker, service: str,
                 context: EventContext | None = None,
                 after_commit: Callable[[], None] | None = None):
        self._session_factory = session_factory
        self.service = service
        self.context = context or EventContext()
        self._after_commit = after_commit
        self.session: Session | None = None
        self.emitted: list[dict] = []

    def __enter__(self):
        self.session = self._session_factory()
        self.emitted = []
        return self

    def __exit__(self, *exc):
        self.rollback()
        self.session.close()

    def emit(self, event_type: str, subject, data: dict, version: int = 1) -> dict:
        """Stage an event; it is published only if this transaction commits."""
        event = make_event(self.service, event_type, subject, data, self.context, version)
        self.session.execute(insert(outbox).values(
            event_id=event["id"], event_type=event_type, subject=event["subject"],
            payload=json.dumps(event, ensure_ascii=False), created_at=utcnow(), attempts=0))
        self.emitted.append(event)
        return event

    def handled(self, consumer: str, event: dict) -> bool:
        """True when `consumer` already handled this event (records nothing)."""
        return self.session.execute(
            select(inbox.c.event_id).where(inbox.c.consumer == consumer,
                                           inbox.c.event_id == event["id"])).first() is not None

    def seen(self, consumer: str, event: dict) -> bool:
        """True when `consumer` already handled this event; else records that it does now.

        The inbox row commits with the handler's writes, so a redelivery after a crash
        either finds it (skip) or finds nothing (the first attempt rolled back).
        """
        if self.handled(consumer, event):
            return True
        self.session.execute(insert(inbox).values(
            consumer=consumer, event_id=event["id"], event_type=event.get("type", ""),
            processed_at=utcnow()))
        return False

    def ping(self):
        self.session.execute(text("SELECT 1"))

    def commit(self):
        self.session.commit()
        if self.emitted and self._after_commit:
            self._after_commit()  # wake the relay so events leave at once

    def rollback(self):
        if self.session is not None:
            self.session.rollback()
