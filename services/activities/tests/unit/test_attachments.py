"""Attachments on SQLite and PostgreSQL, each in a directory and in an S3 bucket (moto's S3
server, a real HTTP server, started once for the module): uploads in pieces, the checksum
checked on reading, the size limit, types from the bytes, names with diacritics, delete,
erasure and merge."""
import base64
import hashlib
import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select, update

from activities_service import attachments, entry_handlers, handlers, storage
from activities_service.orm import attachments as attachments_table
from activities_service.orm import timeline_entries
from crm_common import messaging
from crm_common.errors import DataDamaged, NotFound, PayloadTooLarge, ValidationFailed
from crm_common.events import utcnow
from crm_common.nameko_glue import handle_events
from crm_common.stack import free_port

SCHEMAS = Path(__file__).resolve().parents[4] / "docs" / "events"
ALICE, BOB = "user:alice", "user:bob"
CLIENT, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
PIECE = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    yield f"http://127.0.0.1:{server._port}"
    server.stop()


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return storage.FileStore(tmp_path / "attachments")
    bucket = f"crm-{uuid.uuid4().hex[:12]}"
    s3 = storage.S3Store(bucket, endpoint_url=request.getfixturevalue("s3_server"),
                         access_key_id="testing", secret_access_key="testing")
    s3.client.create_bucket(Bucket=bucket)
    return s3


@pytest.fixture
def uow_factory(units):
    return lambda actor=ALICE: units(actor)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _begin(uow_factory, store, name="Smlouva.pdf", actor=ALICE, **target):
    with uow_factory(actor) as uow:
        return attachments.begin(uow, {"client_id": CLIENT, "file_name": name, **target},
                                 store=store)["id"]


def _upload(uow_factory, store, data: bytes, name="Smlouva.pdf", actor=ALICE, **target):
    attachment_id = _begin(uow_factory, store, name, actor, **target)
    for offset in range(0, len(data), PIECE):
        with uow_factory(actor) as uow:
            attachments.write_piece(uow, attachment_id, offset,
                                    _b64(data[offset:offset + PIECE]), store=store)
    with uow_factory(actor) as uow:
        return attachments.finish(uow, attachment_id, len(data),
                                  hashlib.sha256(data).hexdigest(), store=store)


def _download(uow_factory, store, attachment_id, length=PIECE) -> bytes:
    with uow_factory() as uow:
        size = attachments.verify(uow, attachment_id, store=store)["size"]
    data = b""
    while len(data) < size:
        with uow_factory() as uow:
            data += base64.b64decode(attachments.read(uow, attachment_id, len(data), length,
                                                      store=store)["data"])
    return data


def _listed(uow_factory, **record) -> list[str]:
    with uow_factory() as uow:
        return [item["id"] for item in attachments.list_attachments(uow, **record)["items"]]


def _events(uow_factory, event_type) -> list[dict]:
    with uow_factory() as uow:
        events = [json.loads(payload) for payload in uow.session.scalars(
            select(messaging.outbox.c.payload))]
    found = [event for event in events if event["type"] == event_type]
    schema = json.loads((SCHEMAS / f"{event_type}.v1.json").read_text(encoding="utf-8"))
    for event in found:
        jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker()).validate(event)
    return found


def _entries(uow_factory, client_id=CLIENT) -> list[dict]:
    with uow_factory() as uow:
        return [dict(row._mapping) for row in uow.session.execute(
            select(timeline_entries).where(timeline_entries.c.client_id == client_id))]


def _gone(store, key) -> bool:
    with pytest.raises(storage.Missing):
        store.read(key, 0, 1)
    return list(store.parts(key)) == []


def _key(uow_factory, attachment_id) -> str:
    with uow_factory() as uow:
        return uow.session.scalar(select(attachments_table.c.storage_key).where(
            attachments_table.c.id == attachment_id))


def test_a_file_sent_in_pieces_is_stored_whole_listed_and_read_back(uow_factory, store):
    data = os.urandom(2 * PIECE + 12345)
    attachment_id = _begin(uow_factory, store, deal_id="d-1")
    pieces = [(offset, data[offset:offset + PIECE]) for offset in range(0, len(data), PIECE)]
    for offset, piece in [pieces[1], pieces[0], pieces[2], pieces[1]]:  # any order, twice
        with uow_factory() as uow:
            attachments.write_piece(uow, attachment_id, offset, _b64(piece), store=store)
    assert _listed(uow_factory, client_id=CLIENT) == []  # not while it is uploading
    with uow_factory(BOB) as uow, pytest.raises(NotFound):  # nobody else's to finish
        attachments.finish(uow, attachment_id, len(data), "0" * 64, store=store)
    with uow_factory() as uow:
        stored = attachments.finish(uow, attachment_id, len(data),
                                    hashlib.sha256(data).hexdigest(), store=store)
    with uow_factory() as uow:  # a redelivered finish answers the same
        assert attachments.finish(uow, attachment_id, len(data), "x", store=store) == stored

    assert stored["size"] == len(data) and stored["content_type"] == "application/octet-stream"
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert (stored["client_id"], stored["deal_id"], stored["created_by"]) == (CLIENT, "d-1",
                                                                              ALICE)
    assert _download(uow_factory, store, attachment_id) == data
    assert _download(uow_factory, store, attachment_id, length=1000 * 1000) == data
    assert list(store.parts(stored_key := _key(uow_factory, attachment_id))) == []
    assert store.read(stored_key, len(data) - 5, 100) == data[-5:]
    assert _listed(uow_factory, client_id=CLIENT) == [attachment_id]
    assert _listed(uow_factory, deal_id="d-1") == [attachment_id]
    [event] = _events(uow_factory, "attachment.added")
    assert event["subject"] == attachment_id and event["data"]["attachment"] == stored
    [entry] = _entries(uow_factory)
    assert (entry["title"], entry["body"], entry["deal_id"]) == (
        "Attachment added", "Attachment added: Smlouva.pdf", "d-1")


def test_newest_first_in_pages(uow_factory, store):
    ids = [_upload(uow_factory, store, f"{n}".encode(), f"{n}.txt")["id"] for n in range(3)]
    with uow_factory() as uow:
        first = attachments.list_attachments(uow, client_id=CLIENT, limit=2)
    with uow_factory() as uow:
        rest = attachments.list_attachments(uow, client_id=CLIENT, limit=2,
                                            cursor=first["next_cursor"])
    assert [a["id"] for a in first["items"] + rest["items"]] == ids[::-1]
    with uow_factory() as uow, pytest.raises(ValidationFailed):
        attachments.list_attachments(uow)  # one record, not none


def test_damaged_or_missing_bytes_are_refused_never_served(uow_factory, store, caplog):
    data = "Zápis z jednání: cena 1 000 000 Kč.\n".encode() * 1000
    attachment_id = _upload(uow_factory, store, data)["id"]
    key = _key(uow_factory, attachment_id)
    store.write(key, [data[:-1] + b"X"])  # same size, one byte different
    with uow_factory() as uow, pytest.raises(DataDamaged, match="damaged"):
        attachments.verify(uow, attachment_id, store=store)
    assert f"attachment {attachment_id}" in caplog.text and "SHA-256" in caplog.text
    store.delete(key)
    with uow_factory() as uow, pytest.raises(DataDamaged):
        attachments.verify(uow, attachment_id, store=store)
    with uow_factory() as uow, pytest.raises(DataDamaged, match="missing"):
        attachments.read(uow, attachment_id, 0, 10, store=store)


def test_the_size_limit_holds_for_every_piece_and_the_whole(uow_factory, store, monkeypatch):
    monkeypatch.setenv("ATTACHMENTS_MAX_BYTES", "1000")
    assert _upload(uow_factory, store, b"x" * 1000)["size"] == 1000  # the limit itself
    attachment_id = _begin(uow_factory, store)
    with uow_factory() as uow, pytest.raises(PayloadTooLarge, match="1000 bytes"):
        attachments.write_piece(uow, attachment_id, 600, _b64(b"x" * 401), store=store)
    with uow_factory() as uow, pytest.raises(PayloadTooLarge):
        attachments.finish(uow, attachment_id, 1001, "0" * 64, store=store)
    with uow_factory() as uow, pytest.raises(ValidationFailed):
        attachments.write_piece(uow, attachment_id, -1, _b64(b"x"), store=store)
    with uow_factory() as uow, pytest.raises(ValidationFailed):
        attachments.write_piece(uow, attachment_id, 0, "not base64!", store=store)


@pytest.mark.parametrize("name, data, expected", [
    ("smlouva.txt", PDF, "application/pdf"),  # the bytes say PDF, whatever the name says
    ("logo.jpg", PNG, "image/png"),
    ("zápis.pdf", "Zápis z jednání\nŽluťoučký kůň úpěl ďábelské ódy.\n".encode(),
     "text/plain"),
    ("BMW.txt", b"BMW X5, nabidka pro p. Novaka\n", "text/plain"),  # not a bitmap
    ("data.bin", bytes(range(256)) * 4, "application/octet-stream"),
    ("latin2.txt", "Žluťoučký".encode("iso-8859-2"), "application/octet-stream"),
    ("prázdný.txt", b"", "application/octet-stream"),  # empty files are kept, as they are
])
def test_the_content_type_comes_from_the_bytes(uow_factory, store, name, data, expected):
    stored = _upload(uow_factory, store, data, name)
    assert (stored["content_type"], stored["size"]) == (expected, len(data))
    assert _download(uow_factory, store, stored["id"]) == data


def test_names_keep_their_diacritics_and_lose_paths_and_control_characters(uow_factory,
                                                                           store):
    def stored_name(name):
        return _upload(uow_factory, store, b"x", name)["file_name"]
    assert stored_name("Smlouva – Žluťoučký kůň.pdf") == "Smlouva – Žluťoučký kůň.pdf"
    assert stored_name("Smlouva – Žluťoučký kůň.pdf".encode().decode()) == \
        "Smlouva – Žluťoučký kůň.pdf"
    assert stored_name("Z\u030clut\u030couc\u030cky\u0301.txt") == "Žluťoučký.txt"  # NFD
    assert stored_name("C:\\Users\\jana\\Desktop\\nabídka.xlsx") == "nabídka.xlsx"
    assert stored_name("../../etc/passwd") == "passwd"
    assert stored_name("řádek\r\nhlavička:\tx\u202egpj.exe") == "řádek hlavička: xgpj.exe"
    assert stored_name("a" * 251 + ".pdf") == "a" * 251 + ".pdf"
    for name in ("a" * 252 + ".pdf", "", "  ", "..", "dir/"):
        with uow_factory() as uow, pytest.raises(ValidationFailed) as refused:
            attachments.begin(uow, {"client_id": CLIENT, "file_name": name}, store=store)
        assert "file_name" in refused.value.errors


def test_finish_refuses_bytes_that_differ_from_those_sent(uow_factory, store):
    data = b"0123456789" * 1000
    attachment_id = _begin(uow_factory, store)
    with uow_factory() as uow:
        attachments.write_piece(uow, attachment_id, 0, _b64(data[:4000]), store=store)
        attachments.write_piece(uow, attachment_id, 5000, _b64(data[5000:]), store=store)
    with uow_factory() as uow, pytest.raises(ValidationFailed, match="4000 is missing"):
        attachments.finish(uow, attachment_id, len(data), hashlib.sha256(data).hexdigest(),
                           store=store)
    with uow_factory() as uow:
        attachments.write_piece(uow, attachment_id, 4000, _b64(data[4000:5000]), store=store)
    with uow_factory() as uow, pytest.raises(ValidationFailed, match="differ"):
        attachments.finish(uow, attachment_id, len(data), "ab" * 32, store=store)
    assert _listed(uow_factory, client_id=CLIENT) == []
    assert _events(uow_factory, "attachment.added") == []


def test_an_idempotency_key_gives_the_first_answer_again(uow_factory, store):
    meta = {"client_id": CLIENT, "file_name": "a.txt"}
    with uow_factory() as uow:
        attachment_id = attachments.begin(uow, meta, "key-1", store=store)["id"]
    with uow_factory() as uow:
        attachments.write_piece(uow, attachment_id, 0, _b64(b"abc"), store=store)
    with uow_factory() as uow:
        stored = attachments.finish(uow, attachment_id, 3, hashlib.sha256(b"abc").hexdigest(),
                                    "key-1", store=store)
    with uow_factory() as uow:
        assert attachments.begin(uow, meta, "key-1", store=store) == {"attachment": stored}
    with uow_factory() as uow, pytest.raises(ValidationFailed):
        attachments.begin(uow, dict(meta, file_name="b.txt"), "key-1", store=store)


def test_abandoned_uploads_go_after_an_hour_and_aborted_ones_at_once(uow_factory, store):
    old, aborted = _begin(uow_factory, store), _begin(uow_factory, store)
    for attachment_id in (old, aborted):
        with uow_factory() as uow:
            attachments.write_piece(uow, attachment_id, 0, _b64(b"part"), store=store)
    with uow_factory() as uow:
        uow.session.execute(update(attachments_table).where(attachments_table.c.id == old)
                            .values(created_at=utcnow() - timedelta(hours=2)))
        uow.commit()
    keys = {attachment_id: _key(uow_factory, attachment_id) for attachment_id in (old, aborted)}
    with uow_factory(BOB) as uow:
        attachments.abort(uow, aborted, store=store)  # not Bob's: nothing happens
    young = _begin(uow_factory, store)  # cleans up what is over an hour old
    with uow_factory() as uow:
        attachments.abort(uow, aborted, store=store)
    with uow_factory() as uow:
        left = set(uow.session.scalars(select(attachments_table.c.id)))
    assert left == {young}
    assert _gone(store, keys[old]) and _gone(store, keys[aborted])


def test_an_entry_takes_attachments_while_it_exists(uow_factory, store):
    with uow_factory() as uow:
        entry = handlers.add_note(uow, {"client_id": CLIENT, "deal_id": "d-2",
                                        "title": "Schůzka"})
    with uow_factory() as uow:
        found = entry_handlers.target(uow, entry["id"])
    assert (found["client_id"], found["deal_id"]) == (CLIENT, "d-2")
    stored = _upload(uow_factory, store, PDF, "zápis.pdf", activity_id=entry["id"],
                     deal_id="d-2")
    assert _listed(uow_factory, activity_id=entry["id"]) == [stored["id"]]
    with uow_factory() as uow:
        uow.session.execute(update(timeline_entries).where(
            timeline_entries.c.id == entry["id"]).values(deleted_at=utcnow()))
        uow.commit()
    for call in (lambda uow: entry_handlers.target(uow, entry["id"]),
                 lambda uow: entry_handlers.target(uow, str(uuid.uuid4())),
                 lambda uow: attachments.begin(uow, {"client_id": CLIENT, "file_name": "x",
                                                     "activity_id": entry["id"]}, store=store)):
        with uow_factory() as uow, pytest.raises(NotFound):
            call(uow)


def test_a_deleted_attachment_is_gone_with_its_bytes(uow_factory, store):
    stored = _upload(uow_factory, store, PDF)
    key = _key(uow_factory, stored["id"])
    with uow_factory(BOB) as uow:
        assert attachments.delete_attachment(uow, stored["id"], "del-1", store=store) == {
            "id": stored["id"], "deleted": True}
    with uow_factory(BOB) as uow:  # the same request again: the same answer
        assert attachments.delete_attachment(uow, stored["id"], "del-1", store=store)["deleted"]
    for call in (attachments.get, attachments.verify,
                 lambda uow, i, **kw: attachments.delete_attachment(uow, i, **kw)):
        with uow_factory() as uow, pytest.raises(NotFound):
            call(uow, stored["id"], **({} if call is attachments.get else {"store": store}))
    assert _gone(store, key) and _listed(uow_factory, client_id=CLIENT) == []
    [event] = _events(uow_factory, "attachment.deleted")
    assert event["data"] == {"attachment_id": stored["id"], "client_id": CLIENT,
                             "deal_id": None, "activity_id": None, "reason": "deleted"}
    assert event["actor"] == BOB
    assert [e["body"] for e in _entries(uow_factory) if e["title"] == "Attachment deleted"] \
        == ["Attachment deleted: Smlouva.pdf"]


def test_an_erased_client_loses_its_attachments_rows_and_bytes(uow_factory, store,
                                                               make_event, monkeypatch):
    monkeypatch.setattr(storage, "configured", lambda: store)  # what the handler uses
    mine = [_upload(uow_factory, store, PDF, "Jana Nováková – smlouva.pdf")["id"],
            _upload(uow_factory, store, b"x", deal_id="d-3")["id"]]
    pending = _begin(uow_factory, store)  # an upload under way goes too
    keys = [_key(uow_factory, attachment_id) for attachment_id in (*mine, pending)]
    theirs = _upload(uow_factory, store, b"y", client_id=OTHER)
    handle_events(handlers.erase_records, uow_factory, "activities.timeline", [make_event(
        "client.erased", {"client_id": CLIENT}, subject=CLIENT)])
    with uow_factory() as uow:
        left = list(uow.session.execute(select(attachments_table)))
    assert [row.id for row in left] == [theirs["id"]]
    assert all(_gone(store, key) for key in keys)
    assert {e["subject"] for e in _events(uow_factory, "attachment.deleted")} == set(mine)
    assert "Nováková" not in json.dumps(_entries(uow_factory), default=str,
                                        ensure_ascii=False)


def test_a_merged_clients_attachments_follow_it(uow_factory, store, make_event):
    stored = _upload(uow_factory, store, PDF)
    handle_events(handlers.merge_clients, uow_factory, "activities.timeline", [make_event(
        "client.merged", {"source_id": CLIENT, "target_id": OTHER,
                          "source": {"name": "Duplikát"}}, subject=OTHER)])
    assert _listed(uow_factory, client_id=OTHER) == [stored["id"]]
    assert _listed(uow_factory, client_id=CLIENT) == []


def test_the_store_is_chosen_by_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ATTACHMENTS_S3_BUCKET", raising=False)
    monkeypatch.setenv("ACTIVITIES_DATA_DIR", str(tmp_path))
    store = storage.from_environment()
    assert (store.kind, store.root) == ("file", tmp_path / "attachments")
    monkeypatch.setenv("ATTACHMENTS_S3_BUCKET", "crm-files")
    monkeypatch.setenv("ATTACHMENTS_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    s3 = storage.from_environment()
    assert (s3.kind, s3.bucket, s3.prefix) == ("s3", "crm-files", "attachments/")


def test_an_erased_contact_persons_entries_lose_their_attachments(uow_factory, store,
                                                                  make_event, monkeypatch):
    monkeypatch.setattr(storage, "configured", lambda: store)
    contact = str(uuid.uuid4())
    with uow_factory() as uow:
        about = entry_handlers.create(uow, {"type": "call", "direction": "inbound",
                                            "client_id": CLIENT, "contact_ids": [contact]})
    with uow_factory() as uow:
        other = entry_handlers.create(uow, {"type": "note", "title": "Jiné",
                                            "client_id": CLIENT})
    theirs = _upload(uow_factory, store, PDF, "Dvořák – plná moc.pdf",
                     activity_id=about["activity"]["id"])
    kept = [_upload(uow_factory, store, PDF, activity_id=other["activity"]["id"])["id"],
            _upload(uow_factory, store, PDF)["id"]]  # the client's own stay
    key = _key(uow_factory, theirs["id"])
    handle_events(handlers.erase_records, uow_factory, "activities.timeline", [make_event(
        "contact.erased", {"contact_id": contact}, subject=contact)])
    with uow_factory() as uow:
        left = {row.id for row in uow.session.execute(select(attachments_table))}
    assert left == set(kept) and _gone(store, key)
    assert [e["subject"] for e in _events(uow_factory, "attachment.deleted")] == [theirs["id"]]
