"""GDPR erasure in the ares service: nothing kept that names the erased person."""
import json
from datetime import timedelta

from sqlalchemy import func, select, update

from ares_service import handlers
from ares_service.orm import lookup_cache, metadata, refresh_queue
from crm_common.db import make_engine, make_session_factory
from crm_common.events import utcnow
from crm_common.messaging import metadata as messaging_metadata, outbox
from crm_common.nameko_glue import handle_event
from crm_common.uow import UnitOfWork

PERSON, OTHER = "0b6c7a1e-0000-4000-8000-000000000001", "0b6c7a1e-0000-4000-8000-000000000002"


def test_an_erased_client_is_forgotten(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ares.db'}")
    metadata.create_all(engine)
    messaging_metadata.create_all(engine)
    factory = make_session_factory(engine)

    def uow():
        return UnitOfWork(factory, "ares")
    now = utcnow()
    with uow() as u:  # her lookup, answered and published; another client's queued retry
        u.session.execute(lookup_cache.insert(), [
            {"ico": "87654321", "status": "found", "record": {"name": "Jana Nováková"},
             "raw": {"obchodniJmeno": "Jana Nováková"}, "fetched_at": now,
             "expires_at": now + timedelta(days=1)},
            {"ico": "25596641", "status": "found", "record": {"name": "ALTA a.s."},
             "raw": {}, "fetched_at": now, "expires_at": now + timedelta(days=1)}])
        u.emit("ares.lookup_succeeded", "87654321", {
            "client_id": PERSON, "ico": "87654321", "record": {"name": "Jana Nováková"}})
        u.session.execute(refresh_queue.insert(), [
            {"ico": "87654321", "client_id": PERSON, "attempts": 1, "next_attempt_at": now,
             "created_at": now},
            {"ico": "25596641", "client_id": OTHER, "attempts": 1, "next_attempt_at": now,
             "created_at": now}])
        u.commit()
    with uow() as u:
        u.session.execute(update(outbox).values(sent_at=now))
        u.commit()
    event = {"id": "e1", "type": "client.erased", "data": {"client_id": PERSON}}
    handle_event(handlers.forget_client, uow, "ares.erasure", event)
    handle_event(handlers.forget_client, uow, "ares.erasure", event)  # again: harmless
    with uow() as u:
        assert list(u.session.scalars(select(lookup_cache.c.ico))) == ["25596641"]
        assert list(u.session.scalars(select(refresh_queue.c.client_id))) == [OTHER]
        rows = [r.payload for r in u.session.execute(select(outbox))]
        assert u.session.scalar(select(func.count()).select_from(outbox)) == 0, rows
    assert "Nováková" not in json.dumps(rows, ensure_ascii=False)
