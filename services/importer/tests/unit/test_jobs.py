"""Import jobs on SQLite and PostgreSQL: an upload in pieces becomes a queued job (size and
SHA-256 checked, bad options leave nothing), a runner's lease (one runner at a time, taken
over when it runs out), cancel and revert requests by status, who sees which job, and the
saved mappings."""
import base64
import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm_common import messaging
from crm_common.access import Caller
from crm_common.db import make_engine, make_session_factory
from crm_common.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from crm_common.events import EventContext, utcnow
from crm_common.pagination import values_cursor
from crm_common.storage import FileStore, Missing
from crm_common.uow import UnitOfWork
from importer_service import jobs, runner, templates, uploads
from importer_service.orm import jobs as job_table
from importer_service.orm import metadata
from importer_service.storage import key_for as storage_key

ANNA = Caller(user_id="anna", role="sales")
BOB = Caller(user_id="bob", role="sales")
MANAGER = Caller(user_id="mia", role="manager")


@pytest.fixture(params=["sqlite", "postgresql"])
def units(request, tmp_path):
    """`units(caller)`: a unit of work acting for that person, on a fresh database."""
    url = f"sqlite:///{tmp_path / 'importer.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("make_postgres_db")("importer")
    engine = make_engine(url)
    metadata.create_all(engine)
    messaging.metadata.create_all(engine)
    factory = make_session_factory(engine)
    yield lambda caller=ANNA: UnitOfWork(factory, "importer", EventContext(
        actor=f"user:{caller.user_id}", caller=caller, correlation_id="c-1"))
    engine.dispose()


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path / "files")


def upload(units, store, data: bytes, options=None, caller=ANNA, pieces=3, key=None):
    with units(caller) as uow:
        job_id = uploads.begin(uow, "klienti.csv", key, store=store)["id"]
    size = max(1, -(-len(data) // pieces))
    for offset in range(0, len(data), size):
        with units(caller) as uow:
            uploads.write_piece(uow, job_id, offset,
                                base64.b64encode(data[offset:offset + size]).decode(),
                                store=store)
    with units(caller) as uow:
        return uploads.finish(uow, job_id, len(data), hashlib.sha256(data).hexdigest(),
                              options if options is not None else {}, key, store=store)


def outbox_types(units) -> list[str]:
    with units() as uow:
        return [row.event_type for row in uow.session.execute(select(messaging.outbox))]


def test_an_upload_in_pieces_is_a_queued_job_with_its_file(units, store):
    data = "Název;IČO\nFirma;25596641\n".encode() * 50
    job = upload(units, store, data, {"mode": "upsert", "dry_run": False,
                                      "mapping": {"Název": "name"},
                                      "users": [{"id": "u1", "email": "a@b.cz",
                                                 "name": "A"}]})
    assert (job["status"], job["mode"], job["file"]["size"]) == ("queued", "upsert", len(data))
    assert job["created_by"] == "user:anna" and job["counts"]["created"] == 0
    with units() as uow:
        row = uow.session.execute(select(job_table)).one()
    assert b"".join(store.stream(row.storage_key)) == data
    assert row.options["mapping"] == {"Název": "name"} and row.users[0]["id"] == "u1"


def test_a_mismatched_checksum_or_bad_options_leave_nothing(units, store):
    with units() as uow:
        job_id = uploads.begin(uow, "a.csv", store=store)["id"]
    with units() as uow:
        uploads.write_piece(uow, job_id, 0, base64.b64encode(b"abc").decode(), store=store)
    with units() as uow, pytest.raises(ValidationFailed):
        uploads.finish(uow, job_id, 3, hashlib.sha256(b"abd").hexdigest(), {}, store=store)
    with pytest.raises(ValidationFailed) as refused:
        upload(units, store, b"abc", {"mode": "merge"})
    assert "mode" in refused.value.errors
    with units() as uow:
        assert uow.session.execute(select(job_table)).all() == []
    assert not any(store.root.rglob("*.*")) or all(p.is_dir() for p in store.root.rglob("*"))


def test_bad_pieces_are_refused(units, store):
    with units() as uow:
        job_id = uploads.begin(uow, "a.csv", store=store)["id"]
    for offset, data in ((0, "not base64!"), (-1, "YQ=="), (True, "YQ==")):
        with units() as uow, pytest.raises(ValidationFailed):
            uploads.write_piece(uow, job_id, offset, data, store=store)
    with units(BOB) as uow, pytest.raises(NotFound):  # another person's upload
        uploads.write_piece(uow, job_id, 0, "YQ==", store=store)
    with units() as uow, pytest.raises(ValidationFailed):
        uploads.begin(uow, "", store=store)


def test_the_same_idempotency_key_answers_the_same_job(units, store):
    first = upload(units, store, b"Nazev\nA\n", key="k-1")
    with units() as uow:
        again = uploads.begin(uow, "klienti.csv", "k-1", store=store)
    assert again == {"job": first}


def test_one_runner_holds_a_job_until_its_lease_runs_out(units, store):
    job = upload(units, store, b"Nazev\nA\n")
    with units() as uow:
        claimed = runner.claim(uow, "runner-1")
    assert claimed.id == job["id"] and claimed.status == "running"
    with units() as uow:
        assert runner.claim(uow, "runner-2") is None
    with units() as uow:
        uow.session.execute(update(job_table).values(lease_until=utcnow() - timedelta(1)))
        uow.commit()
    with units() as uow:
        taken = runner.claim(uow, "runner-2")
    assert taken.runner == "runner-2"
    assert outbox_types(units) == ["import.started"]


def _lease_runs_out(units):
    with units() as uow:
        uow.session.execute(update(job_table).values(lease_until=utcnow() - timedelta(1)))
        uow.commit()


def test_a_job_its_runners_keep_dying_on_fails_after_the_cap(units, store, monkeypatch):
    monkeypatch.setenv("IMPORTER_MAX_TAKEOVERS", "2")
    job = upload(units, store, b"Nazev\nA\n")
    later = upload(units, store, b"Nazev\nB\n")
    with units() as uow:
        assert runner.claim(uow, "r-1").id == job["id"]
    for n, who in ((1, "r-2"), (2, "r-3")):   # each runner dies holding it
        _lease_runs_out(units)
        with units() as uow:
            taken = runner.claim(uow, who)
        assert (taken.id, taken.takeovers) == (job["id"], n)
    _lease_runs_out(units)
    with units() as uow:   # the third takeover is one too many: failed, and the next job runs
        assert runner.claim(uow, "r-4").id == later["id"]
    with units() as uow:
        failed = uow.session.execute(select(job_table).where(
            job_table.c.id == job["id"])).first()
    assert failed.status == "failed" and failed.runner is None and failed.takeovers == 3
    assert failed.error["code"] == "stalled" and "3 times" in failed.error["en"]
    assert "3krát" in failed.error["cs"]
    assert outbox_types(units) == ["import.started", "import.failed", "import.started"]
    # what it imported before it stalled can still be undone: the undo starts uncounted
    with units() as uow:
        assert jobs.request_revert(uow, job["id"])["status"] == "reverting"
    _lease_runs_out(units)
    with units() as uow:
        reverting = runner.claim(uow, "r-5")
    assert (reverting.id, reverting.status, reverting.takeovers) == (job["id"], "reverting", 0)


def test_progress_and_letting_go_are_not_counted_as_takeovers(units, store, monkeypatch):
    monkeypatch.setenv("IMPORTER_MAX_TAKEOVERS", "1")
    job = upload(units, store, b"Nazev\nA\n")
    with units() as uow:
        held = runner.claim(uow, "r-1")
    _lease_runs_out(units)
    with units() as uow:
        assert runner.claim(uow, "r-2").takeovers == 1
    # a committed batch resets the count
    run = runner.JobRun(units, held, clients=None, runner="r-2")
    with units() as uow:
        run._held(uow, takeovers=0)
        uow.commit()
    _lease_runs_out(units)
    with units() as uow:
        assert runner.claim(uow, "r-3").takeovers == 1
    # a runner that waits (the clients service is away) lets go: not a takeover
    runner.JobRun(units, held, clients=None, runner="r-3")._let_go()
    _lease_runs_out(units)
    with units() as uow:
        taken = runner.claim(uow, "r-4")
    assert (taken.id, taken.status, taken.takeovers) == (job["id"], "running", 1)


def _stored(store, job_id) -> bool:
    try:
        return bool(store.read(storage_key(job_id), 0, 1))
    except Missing:
        return False


def test_files_of_jobs_finished_long_ago_are_removed_and_the_jobs_stay(units, store,
                                                                        monkeypatch):
    monkeypatch.setenv("IMPORTER_FILE_RETENTION_DAYS", "30")
    now = utcnow()
    old, recent, running = (upload(units, store, f"Nazev\n{n}\n".encode()) for n in "ABC")
    with units() as uow:
        for job, finished in ((old, now - timedelta(days=31)), (recent, now - timedelta(days=29))):
            uow.session.execute(update(job_table).where(job_table.c.id == job["id"]).values(
                status="completed", finished_at=finished))
        uow.session.execute(update(job_table).where(job_table.c.id == running["id"]).values(
            status="running"))
        uow.commit()
    with units() as uow:
        assert uploads.remove_old_files(uow, now, store=store) == 1
    assert not _stored(store, old["id"])
    assert _stored(store, recent["id"]) and _stored(store, running["id"])
    with units() as uow:
        shown = jobs.get(uow, old["id"])
        assert shown["status"] == "completed" and shown["file"]["removed_at"]
        assert jobs.get(uow, recent["id"])["file"]["removed_at"] is None
        assert uploads.remove_old_files(uow, now, store=store) == 0   # once
    # a file already gone (removed by hand) is recorded as removed, not an error
    store.delete(storage_key(recent["id"]))
    with units() as uow:
        assert uploads.remove_old_files(uow, now + timedelta(days=2), store=store) == 1
        assert jobs.get(uow, recent["id"])["file"]["removed_at"]


def test_a_file_retention_of_zero_keeps_every_file(units, store, monkeypatch):
    monkeypatch.setenv("IMPORTER_FILE_RETENTION_DAYS", "0")
    job = upload(units, store, b"Nazev\nA\n")
    with units() as uow:
        uow.session.execute(update(job_table).values(status="failed",
                                                     finished_at=utcnow() - timedelta(3650)))
        uow.commit()
    with units() as uow:
        assert uploads.remove_old_files(uow, store=store) == 0
    assert _stored(store, job["id"])


def test_cancel_and_revert_follow_the_status(units, store):
    queued = upload(units, store, b"Nazev\nA\n")
    with units() as uow:
        assert jobs.cancel(uow, queued["id"])["status"] == "cancelled"
    with units() as uow, pytest.raises(Conflict):
        jobs.cancel(uow, queued["id"])
    running = upload(units, store, b"Nazev\nB\n")
    with units() as uow:
        runner.claim(uow, "r")
    with units() as uow:
        answer = jobs.cancel(uow, running["id"])
    assert answer["status"] == "running" and answer["cancel_requested"] is True
    with units() as uow, pytest.raises(Conflict):
        jobs.request_revert(uow, running["id"])  # still running
    with units() as uow:
        assert jobs.request_revert(uow, queued["id"])["status"] == "reverting"
    dry = upload(units, store, b"Nazev\nC\n", {"dry_run": True})
    with units() as uow:
        uow.session.execute(update(job_table).where(job_table.c.id == dry["id"])
                            .values(status="completed"))
        uow.commit()
    with units() as uow, pytest.raises(Conflict):
        jobs.request_revert(uow, dry["id"])


def test_a_job_is_seen_by_its_starter_managers_and_admins(units, store):
    job = upload(units, store, b"Nazev\nA\n")
    with units(BOB) as uow, pytest.raises(NotFound):
        jobs.get(uow, job["id"])
    with units(BOB) as uow:
        assert jobs.list_jobs(uow)["items"] == []
    with units(MANAGER) as uow:
        assert [j["id"] for j in jobs.list_jobs(uow)["items"]] == [job["id"]]
    with units(BOB) as uow, pytest.raises(NotFound):
        jobs.cancel(uow, job["id"])


def test_lists_page_with_cursors(units, store):
    made = [upload(units, store, f"Nazev\n{n}\n".encode())["id"] for n in range(3)]
    with units() as uow:
        first = jobs.list_jobs(uow, limit=2)
    with units() as uow:
        second = jobs.list_jobs(uow, limit=2, cursor=first["next_cursor"])
    assert [j["id"] for j in first["items"] + second["items"]] == made[::-1]
    for garbage in ("garbage", values_cursor("\u00b2"), values_cursor("-1")):
        with units() as uow, pytest.raises(ValidationFailed):
            jobs.row_results(uow, made[0], cursor=garbage)
    with units() as uow, pytest.raises(NotFound):
        jobs.row_results(uow, str(uuid.uuid4()))


def test_templates_are_changed_by_their_creator_or_a_manager(units):
    with units() as uow:
        made = templates.create(uow, {"name": "Účetnictví", "mapping": {"Firma": "name"}})
    with units(BOB) as uow, pytest.raises(Forbidden):
        templates.change(uow, made["id"], {"name": "cizí"})
    with units(MANAGER) as uow:
        assert templates.change(uow, made["id"], {"mode": "upsert"}, 1)["version"] == 2
    with units() as uow, pytest.raises(PreconditionFailed):
        templates.change(uow, made["id"], {"name": "x"}, 1)
    for bad in ({"name": " ", "mapping": {"a": "name"}}, {"name": "x", "mapping": {}},
                {"name": "x", "mapping": {"a": "name"}, "extra": 1}):
        with units() as uow, pytest.raises(ValidationFailed):
            templates.create(uow, bad)
    with units() as uow:
        templates.delete(uow, made["id"])
    with units() as uow, pytest.raises(NotFound):
        templates.get(uow, made["id"])


def test_a_job_takes_its_template_where_the_request_says_nothing(units, store):
    with units() as uow:
        template = templates.create(uow, {"name": "ERP", "mapping": {"Firma": "name"},
                                          "mode": "upsert", "sheet": "Klienti"})
    job = upload(units, store, b"Firma\nA\n", {"template_id": template["id"]})
    assert job["mode"] == "upsert"
    with units() as uow:
        row = uow.session.execute(select(job_table)).one()
    assert row.options["mapping"] == {"Firma": "name"} and row.options["sheet"] == "Klienti"
    mine = upload(units, store, b"Firma\nA\n", {"template_id": template["id"],
                                                 "mode": "create"})
    assert mine["mode"] == "create"
    with pytest.raises(NotFound):  # a template that is not there: no job
        upload(units, store, b"Firma\nA\n", {"template_id": str(uuid.uuid4())})


def test_cancelling_a_dry_run_emits_nothing(units, store):
    job = upload(units, store, b"Nazev\nA\n", {"dry_run": True})
    with units() as uow:
        assert jobs.cancel(uow, job["id"])["status"] == "cancelled"
    assert outbox_types(units) == []


def test_cells_json_cannot_hold_are_kept_as_text():
    assert runner._json_cell(float("nan")) == "nan"
    assert runner._json_cell(float("inf")) == "inf"
    assert runner._json_cell(1.5) == 1.5
