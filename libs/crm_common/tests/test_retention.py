"""Retention on real databases: what goes, what stays, in batches, next to other pruners."""
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, insert, select

from crm_common.db import make_engine
from crm_common.events import utcnow
from crm_common.messaging import idempotency_keys, inbox, metadata, outbox
from crm_common.retention import RetentionLoop, RetentionPolicy, prune
from crm_common.testing import wait_until

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _outbox_row(subject: str, age: timedelta | None, created_age=timedelta(hours=1)):
    """A row sent `age` ago (None: never sent)."""
    return dict(event_id=str(uuid.uuid4()), event_type="thing.happened", subject=subject,
                payload="{}", created_at=NOW - created_age, attempts=0,
                sent_at=None if age is None else NOW - age)


def _add(engine, outbox_rows=(), inbox_ages=(), key_ages=()):
    with engine.begin() as conn:
        for row in outbox_rows:
            conn.execute(insert(outbox).values(**row))
        for i, age in enumerate(inbox_ages):
            conn.execute(insert(inbox).values(consumer="svc.on_thing", event_id=f"in-{i}",
                                              event_type="thing.happened",
                                              processed_at=NOW - age))
        for i, age in enumerate(key_ages):
            conn.execute(insert(idempotency_keys).values(
                scope="create:u1", key=f"key-{i}", fingerprint="f" * 64, response="{}",
                created_at=NOW - age))


def _left(engine, column) -> set:
    with engine.connect() as conn:
        return set(conn.scalars(select(column)))


def test_only_what_the_policy_lets_go_is_deleted(engine):
    _add(engine,
         outbox_rows=[_outbox_row("sent-long-ago", timedelta(hours=200)),
                      _outbox_row("sent-just-inside", timedelta(hours=167)),
                      _outbox_row("sent-recently", timedelta(minutes=5)),
                      _outbox_row("never-sent", None, created_age=timedelta(days=400))],
         inbox_ages=[timedelta(days=31), timedelta(days=29)],
         key_ages=[timedelta(hours=49), timedelta(hours=47)])

    deleted = prune(engine, RetentionPolicy(), now=NOW)

    assert deleted == {"outbox": 1, "inbox": 1, "idempotency_keys": 1}
    assert _left(engine, outbox.c.subject) == {"sent-just-inside", "sent-recently",
                                               "never-sent"}
    assert _left(engine, inbox.c.event_id) == {"in-1"}
    assert _left(engine, idempotency_keys.c.key) == {"key-1"}
    assert prune(engine, RetentionPolicy(), now=NOW) == {
        "outbox": 0, "inbox": 0, "idempotency_keys": 0}
    # an unsent row stays whatever its age and whatever the policy
    prune(engine, RetentionPolicy(outbox_sent=timedelta(0)), now=NOW + timedelta(days=999))
    assert _left(engine, outbox.c.subject) == {"never-sent"}


def test_deletes_in_bounded_batches(engine):
    _add(engine, outbox_rows=[_outbox_row(f"old-{i}", timedelta(days=30)) for i in range(10)]
         + [_outbox_row("pending", None)])
    deletes = []

    def count_deletes(conn, cursor, statement, *_):
        if statement.startswith("DELETE FROM outbox"):
            deletes.append(statement)
    event.listen(engine, "before_cursor_execute", count_deletes)

    assert prune(engine, RetentionPolicy(batch_size=3), now=NOW)["outbox"] == 10
    assert len(deletes) == 4  # 3 + 3 + 3 + 1, each in its own transaction
    assert _left(engine, outbox.c.subject) == {"pending"}


def test_policy_from_the_environment():
    assert RetentionPolicy.from_env({}) == RetentionPolicy()
    policy = RetentionPolicy.from_env({
        "OUTBOX_RETENTION_HOURS": "0", "INBOX_RETENTION_DAYS": "90",
        "IDEMPOTENCY_KEY_RETENTION_HOURS": "1.5", "RETENTION_INTERVAL_SECONDS": "60",
        "RETENTION_BATCH_SIZE": "50"})
    assert policy == RetentionPolicy(outbox_sent=None, inbox=timedelta(days=90),
                                     idempotency_keys=timedelta(minutes=90),
                                     interval=60, batch_size=50)
    with pytest.raises(ValueError, match="INBOX_RETENTION_DAYS"):
        RetentionPolicy.from_env({"INBOX_RETENTION_DAYS": "-1"})


def test_zero_keeps_a_table_forever(engine):
    _add(engine, outbox_rows=[_outbox_row("ancient", timedelta(days=3000))],
         inbox_ages=[timedelta(days=3000)])
    deleted = prune(engine, RetentionPolicy(outbox_sent=None), now=NOW)
    assert deleted == {"inbox": 1, "idempotency_keys": 0}
    assert _left(engine, outbox.c.subject) == {"ancient"}


def test_replicas_pruning_at_once_skip_each_others_rows(make_postgres_db):
    """PostgreSQL (SQLite has one process per database, so nothing prunes beside it):
    rows another transaction holds are skipped, not waited for."""
    engine = make_engine(make_postgres_db("retention"))
    metadata.create_all(engine)
    try:
        _add(engine, outbox_rows=[_outbox_row(f"old-{i}", timedelta(days=30))
                                  for i in range(50)])
        policy = RetentionPolicy(batch_size=7)
        with engine.connect() as holder:  # another replica in the middle of a batch
            holder.begin()
            held = holder.execute(select(outbox.c.id).order_by(outbox.c.id).limit(5)
                                  .with_for_update()).scalars().all()
            done = []
            pruner = threading.Thread(target=lambda: done.append(prune(engine, policy,
                                                                       now=NOW)))
            pruner.start()
            pruner.join(10)
            assert done and done[0]["outbox"] == 45  # did not wait for the held rows
            holder.rollback()
        assert _left(engine, outbox.c.id) == set(held)

        # many pruners at once: every row deleted exactly once, nobody fails
        _add(engine, outbox_rows=[_outbox_row(f"more-{i}", timedelta(days=30))
                                  for i in range(200)])
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            prune(engine, policy, now=NOW)["outbox"])) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(results) == 4 and sum(results) == 205
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(outbox)) == 0
    finally:
        engine.dispose()


def test_the_loop_runs_soon_after_start_and_survives_database_errors(database_url):
    engine = make_engine(database_url)  # no tables yet: every run fails until they exist
    failures = []
    event.listen(engine, "handle_error", lambda context: failures.append(context))
    loop = RetentionLoop(engine, RetentionPolicy(interval=0.2), first_delay=0.05)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(failures) >= 2, timeout=5, what="failing runs")
        assert thread.is_alive()
        metadata.create_all(engine)
        with engine.begin() as conn:  # the loop prunes by the real clock
            conn.execute(insert(outbox).values(
                **{**_outbox_row("old", None), "sent_at": utcnow() - timedelta(days=30)}))
        wait_until(lambda: not _left(engine, outbox.c.subject), what="the old row pruned")
    finally:
        loop.stop()
        thread.join(5)
        engine.dispose()
    assert not thread.is_alive()
