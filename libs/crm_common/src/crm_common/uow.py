"""Unit of work: one transaction holding the state change, its outbox rows and its inbox row."""
import hashlib
import json
from typing import Callable

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from .errors import OutcomeUnknown, ServiceUnavailable, ValidationFailed
from .events import EventContext, make_event, utcnow
from .messaging import idempotency_keys, inbox, outbox


# the database is down, the connection broke or none could be had from the pool
DATABASE_UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)


class UnitOfWork:
    """`after_commit` runs after a commit that emitted events (wakes the relay); `on_commit`
    after every commit; `committed_before` tells whether an earlier unit of work of the same
    call committed (then a failure here leaves the call half done, not undone)."""

    def __init__(self, session_factory: sessionmaker, service: str,
                 context: EventContext | None = None,
                 after_commit: Callable[[], None] | None = None,
                 on_commit: Callable[[], None] | None = None,
                 committed_before: Callable[[], bool] = lambda: False):
        self._session_factory = session_factory
        self.service = service
        self.context = context or EventContext()
        self._after_commit = after_commit
        self._on_commit = on_commit
        self._committed_before = committed_before
        self.session: Session | None = None
        self.emitted: list[dict] = []

    def __enter__(self):
        self.session = self._session_factory()
        self.emitted = []
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.rollback()
            self.session.close()
        except DATABASE_UNREACHABLE:
            if exc is None:
                raise
        # a database that cannot be reached before COMMIT means nothing was stored: say so
        # (ServiceUnavailable, a 503), instead of an internal error
        if isinstance(exc, DATABASE_UNREACHABLE):
            if self._committed_before():
                raise OutcomeUnknown("the database failed after part of the work was "
                                     "stored") from exc
            raise ServiceUnavailable("the database cannot be reached; nothing was done") \
                from exc

    def emit(self, event_type: str, subject, data: dict, version: int = 1) -> dict:
        """Stage an event; it is published only if this transaction commits."""
        return self.emit_many([(event_type, subject, data)], version)[0]

    def emit_many(self, events: list[tuple[str, object, dict]], version: int = 1) -> list[dict]:
        """Stage many `(event_type, subject, data)` events in one statement (bulk writes)."""
        made = [make_event(self.service, event_type, subject, data, self.context, version)
                for event_type, subject, data in events]
        if made:
            moment = utcnow()
            self.session.execute(insert(outbox), [
                {"event_id": event["id"], "event_type": event["type"],
                 "subject": event["subject"], "created_at": moment, "attempts": 0,
                 "payload": json.dumps(event, ensure_ascii=False)} for event in made])
        self.emitted.extend(made)
        return made

    def handled(self, consumer: str, event: dict) -> bool:
        """True when `consumer` already handled this event (records nothing)."""
        return self.session.execute(
            select(inbox.c.event_id).where(inbox.c.consumer == consumer,
                                           inbox.c.event_id == event["id"])).first() is not None

    def seen(self, consumer: str, event: dict) -> bool:
        """True when `consumer` already handled this event; else records that it does now.

        The inbox row commits with the handler's writes, so a redelivery after a crash
        either finds it (skip) or finds nothing (the first attempt rolled back). Inserted
        with ON CONFLICT DO NOTHING: a concurrent duplicate (another replica handling the
        same event) waits for the first transaction and then sees no row inserted, instead
        of failing on the primary key.
        """
        return not self.unseen(consumer, [event])

    def unseen(self, consumer: str, events: list[dict]) -> list[dict]:
        """`seen` for many events in one statement: the events `consumer` has not handled
        before (each id once, in arrival order), recorded as handled now.

        RETURNING names the rows the INSERT ... ON CONFLICT DO NOTHING really inserted
        (PostgreSQL; SQLite since 3.35); executed with many parameter sets, SQLAlchemy
        sends it as few multi-row statements compiled once. Rows go in event id order, so
        two concurrent batches sharing events wait for each other instead of deadlocking.
        """
        firsts: dict[str, dict] = {}
        for event in events:
            firsts.setdefault(event["id"], event)
        if not firsts:
            return []
        now = utcnow()
        rows = [{"consumer": consumer, "event_id": event_id,
                 "event_type": event.get("type", ""), "processed_at": now}
                for event_id, event in sorted(firsts.items())]
        statement = insert_ignoring_duplicates(self.session, inbox) \
            .returning(inbox.c.event_id)
        inserted = set(self.session.scalars(statement, rows))
        return [event for event_id, event in firsts.items() if event_id in inserted]

    def forget(self, ids: list[str]) -> None:
        """Erasure (GDPR): drop what the messaging tables still hold about these records:
        outbox rows already published whose event names one of `ids`; the stored answers
        of Idempotency-Keys that mention one become `{"id", "erased": true}` (the key stays
        used, so a late retry of the request that created the record cannot create it
        again). Rows still to be published stay (the events are owed to subscribers; the
        erasure event follows them)."""
        for record_id in ids:
            pattern = f"%{record_id}%"
            self.session.execute(delete(outbox).where(outbox.c.sent_at.is_not(None),
                                                      outbox.c.payload.like(pattern)))
            self.session.execute(update(idempotency_keys).where(
                idempotency_keys.c.response.like(pattern)).values(
                    response=json.dumps({"id": record_id, "erased": True})))

    def _key_scope(self, operation: str) -> str:
        return f"{operation}:{self.context.actor}"  # a key is its caller's own

    def replay(self, operation: str, key: str | None, request: dict) -> dict | None:
        """The answer `operation` already gave to this caller's Idempotency-Key, or None
        to go ahead; ValidationFailed when the key came with a different request."""
        answer = self.replay_many(operation, [key], [request])[0]
        if isinstance(answer, ValidationFailed):
            raise answer
        return answer

    def replay_many(self, operation: str, keys: list[str | None], requests: list[dict]
                    ) -> list[dict | ValidationFailed | None]:
        """`replay` for many keys in one query: per request its earlier answer, None to go
        ahead, or the ValidationFailed of a key reused with a different request."""
        wanted = {key for key in keys if key}
        found = {}
        if wanted:
            found = {row.key: row for row in self.session.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.scope == self._key_scope(operation),
                    idempotency_keys.c.key.in_(wanted)))}
        answers = []
        for key, request in zip(keys, requests):
            row = found.get(key) if key else None
            if row is None:
                answers.append(None)
            elif row.fingerprint != _fingerprint(request):
                answers.append(ValidationFailed({"Idempotency-Key": [
                    "This key was already used with a different request."]}))
            else:
                answers.append(json.loads(row.response))
        return answers

    def commit_many_once(self, operation: str, answered: list[tuple[str, dict, dict]]) -> bool:
        """`commit_once` for many `(key, request, response)` at once. False when a concurrent
        request with one of these keys won: then nothing was written (rolled back) and the
        caller replays (`replay_many`) and goes again."""
        try:
            if answered:
                moment = utcnow()
                self.session.execute(insert(idempotency_keys), [
                    {"scope": self._key_scope(operation), "key": key,
                     "fingerprint": _fingerprint(request), "created_at": moment,
                     "response": json.dumps(response, ensure_ascii=False)}
                    for key, request, response in answered])
            self.commit()
        except IntegrityError:
            self.rollback()
            self.emitted = []
            return False
        return True

    def commit_once(self, operation: str, key: str | None, request: dict,
                    response: dict) -> dict:
        """Commit, keeping `response` for retries with the same key; when a concurrent
        request with that key won, roll back and give its answer instead."""
        if not key:
            self.commit()
            return response
        try:
            self.session.execute(insert(idempotency_keys).values(
                scope=self._key_scope(operation), key=key, fingerprint=_fingerprint(request),
                response=json.dumps(response, ensure_ascii=False), created_at=utcnow()))
            self.commit()
        except IntegrityError:
            self.rollback()  # the other request's record stands; this one's is dropped
            self.emitted = []
            replayed = self.replay(operation, key, request)
            if replayed is None:
                raise
            return replayed
        return response

    def ping(self):
        self.session.execute(text("SELECT 1"))

    def commit(self):
        try:
            self.session.commit()
        except DATABASE_UNREACHABLE as exc:  # the COMMIT may have been carried out
            raise OutcomeUnknown("the database connection failed while committing; the "
                                 "change may or may not be stored") from exc
        if self._on_commit:
            self._on_commit()
        if self.emitted and self._after_commit:
            self._after_commit()  # wake the relay so events leave at once

    def rollback(self):
        if self.session is not None:
            self.session.rollback()


_DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(connectable, table):
    """The INSERT of the session's (or connection's) dialect, which knows ON CONFLICT."""
    dialect = connectable.get_bind().dialect if isinstance(connectable, Session) \
        else connectable.dialect
    return _DIALECT_INSERTS[dialect.name](table)


def insert_ignoring_duplicates(session: Session, table):
    """INSERT ... ON CONFLICT DO NOTHING on the session's dialect: a row that would break
    any unique constraint is skipped."""
    return dialect_insert(session, table).on_conflict_do_nothing()


def _fingerprint(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
