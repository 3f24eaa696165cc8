"""Attachments through the real gateway and activities service, on both databases, in a
directory and (PostgreSQL) in an S3 bucket of moto's S3 server: a file of several pieces
up and down byte for byte, with its type detected and its name intact; the size limit
(413); a sales rep who may not see the client gets 404 for its files; files on a timeline
entry; delete; the events valid against docs/events."""
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
import requests

from crm_common.stack import free_port
from crm_common.testing import TEST_ADMIN_TOKEN, EventTap

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"
LIMIT = 3 * 1024 * 1024
NAME = "Smlouva – Žluťoučký kůň.pdf"
PASSWORD = "Heslo-pro-testy-2026"


class Person:
    def __init__(self, base: str, token: str):
        self.base, self.http = base, requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def __getattr__(self, method):
        def call(path, **kwargs):
            kwargs.setdefault("timeout", 60)
            return self.http.request(method.upper(), self.base + "/api/v1" + path, **kwargs)
        return call


@pytest.fixture(scope="module")
def s3_bucket():
    """An S3 bucket in moto's S3 server (a real HTTP server), as the service's settings."""
    import boto3
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    settings = {"ATTACHMENTS_S3_BUCKET": "crm-e2e",
                "ATTACHMENTS_S3_ENDPOINT_URL": f"http://127.0.0.1:{server._port}",
                "ATTACHMENTS_S3_ACCESS_KEY_ID": "testing",
                "ATTACHMENTS_S3_SECRET_ACCESS_KEY": "testing"}
    boto3.client("s3", endpoint_url=settings["ATTACHMENTS_S3_ENDPOINT_URL"],
                 region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="crm-e2e")
    yield settings
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "postgresql-s3"])
def crm(request, small_stack, amqp_uri):
    store = request.getfixturevalue("s3_bucket") if request.param.endswith("s3") else {}
    stack = small_stack(request.param.split("-")[0], ("clients", "activities"), {
        "ATTACHMENTS_MAX_BYTES": str(LIMIT), "SETTINGS_CACHE_SECONDS": "0",
        "AUTH_CACHE_SECONDS": "0", **store})
    tap = EventTap(amqp_uri, [("activities.events", "attachment.*")])
    admin = Person(stack.url, TEST_ADMIN_TOKEN)
    people = {"admin": admin}
    for name in ("anna", "bob"):
        user = admin.post("/users", json={"email": f"{name}@firma.cz",
                                          "name": name.title(), "role": "sales",
                                          "password": PASSWORD})
        assert user.status_code == 201, user.text
        token = admin.post("/tokens", json={"name": "e2e", "user_id": user.json()["id"],
                                            "scopes": ["write"]})
        assert token.status_code == 201, token.text
        people[name] = Person(stack.url, token.json()["token"])
    yield people, tap
    admin.patch("/settings", json={"sales_see_own_only": False})
    tap.close()
    stack.stop()


def _upload(person, path, data: bytes, name=NAME, **kwargs):
    return person.post(path, files={"file": (name, data, "text/plain")}, **kwargs)


def test_a_file_goes_up_in_pieces_and_comes_down_byte_for_byte(crm):
    people, tap = crm
    anna = people["anna"]
    client_id = anna.post("/clients", json={"name": "Přílohy s.r.o."}).json()["id"]
    data = b"%PDF-1.7\n" + os.urandom(2 * 1024 * 1024 + 300_000)  # three pieces
    stored = _upload(anna, f"/clients/{client_id}/attachments", data,
                     headers={"Idempotency-Key": "upload-1"})
    assert stored.status_code == 201, stored.text
    attachment = stored.json()
    assert (attachment["file_name"], attachment["content_type"], attachment["size"],
            attachment["sha256"]) == (NAME, "application/pdf", len(data),
                                      hashlib.sha256(data).hexdigest())
    assert stored.headers["Location"] == f"/api/v1/attachments/{attachment['id']}"
    # the same request again: the first answer, no second file
    again = _upload(anna, f"/clients/{client_id}/attachments", data,
                    headers={"Idempotency-Key": "upload-1"})
    assert again.status_code == 201 and again.json() == attachment

    download = anna.get(f"/attachments/{attachment['id']}")
    assert download.status_code == 200 and download.content == data
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == (
        f"attachment; filename=\"Smlouva _ Zlutoucky kun.pdf\"; "
        f"filename*=UTF-8''{quote(NAME, safe='')}")
    assert [a["id"] for a in anna.get(f"/clients/{client_id}/attachments").json()[
        "items"]] == [attachment["id"]]
    timeline = anna.get(f"/clients/{client_id}/timeline").json()["items"]
    assert f"Attachment added: {NAME}" in [entry["body"] for entry in timeline]

    text = "Zápis: Žluťoučký kůň úpěl ďábelské ódy.\n".encode()
    note = _upload(anna, f"/clients/{client_id}/attachments", text, "zapis.pdf").json()
    assert note["content_type"] == "text/plain"  # the bytes say so, not the name
    assert anna.get(f"/attachments/{note['id']}").headers["Content-Type"] == \
        "text/plain; charset=utf-8"

    added = tap.wait_for(lambda e: e["type"] == "attachment.added" and
                         e["subject"] == attachment["id"])
    assert added["data"]["attachment"] == attachment
    _valid(added)


def test_over_the_limit_is_413_and_nothing_is_stored(crm):
    people, _ = crm
    anna = people["anna"]
    client_id = anna.post("/clients", json={"name": "Velké soubory a.s."}).json()["id"]
    path = f"/clients/{client_id}/attachments"
    # counted while streaming (Content-Length was within the framing's allowance)
    counted = _upload(anna, path, b"x" * (LIMIT + 1))
    # said by Content-Length: refused before a byte is read; the gateway then closes the
    # connection (it does not read 6 MiB only to drop them), so it gets one of its own
    declared = requests.post(anna.base + "/api/v1" + path, headers={
        "Authorization": anna.http.headers["Authorization"]}, timeout=60,
        files={"file": (NAME, b"x" * (2 * LIMIT))})
    for refused in (counted, declared):
        assert refused.status_code == 413, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert f"{LIMIT} bytes" in refused.json()["detail"]
    assert _upload(anna, path, b"x" * LIMIT).status_code == 201  # the limit itself
    assert len(anna.get(path).json()["items"]) == 1
    refused = anna.post(path, json={"file": "x"})
    assert refused.status_code == 415
    missing = anna.post(path, files={"other": ("a.txt", b"x")})
    assert missing.status_code == 422 and "file" in missing.json()["fields"]
    assert anna.post("/clients/00000000-0000-4000-8000-000000000000/attachments",
                     files={"file": ("a.txt", b"x")}).status_code == 404


def test_a_rep_who_may_not_see_the_client_gets_404_for_its_files(crm):
    people, _ = crm
    admin, anna, bob = people["admin"], people["anna"], people["bob"]
    client_id = anna.post("/clients", json={"name": "Annina tajná firma"}).json()["id"]
    note = anna.post(f"/clients/{client_id}/notes", json={"title": "Schůzka"}).json()
    on_note = _upload(anna, f"/activities/{note['id']}/attachments", b"%PDF-1.4\n",
                      "zápis.pdf")
    assert on_note.status_code == 201, on_note.text
    on_note = on_note.json()
    assert (on_note["activity_id"], on_note["client_id"]) == (note["id"], client_id)
    assert [a["id"] for a in anna.get(f"/activities/{note['id']}/attachments").json()[
        "items"]] == [on_note["id"]]
    assert admin.patch("/settings", json={"sales_see_own_only": True}).status_code == 200
    try:
        for method, path, kwargs in [
                ("get", f"/attachments/{on_note['id']}", {}),
                ("delete", f"/attachments/{on_note['id']}", {}),
                ("get", f"/clients/{client_id}/attachments", {}),
                ("post", f"/clients/{client_id}/attachments",
                 {"files": {"file": ("a.txt", b"x")}}),
                ("get", f"/activities/{note['id']}/attachments", {}),
                ("post", f"/activities/{note['id']}/attachments",
                 {"files": {"file": ("a.txt", b"x")}})]:
            answer = getattr(bob, method)(path, **kwargs)
            assert answer.status_code == 404, (method, path, answer.text)
        assert anna.get(f"/attachments/{on_note['id']}").content == b"%PDF-1.4\n"
    finally:
        admin.patch("/settings", json={"sales_see_own_only": False})


def test_a_deleted_file_is_gone(crm):
    people, tap = crm
    anna = people["anna"]
    client_id = anna.post("/clients", json={"name": "Mazání k.s."}).json()["id"]
    attachment = _upload(anna, f"/clients/{client_id}/attachments", b"pryc").json()
    assert anna.delete(f"/attachments/{attachment['id']}").status_code == 204
    assert anna.get(f"/attachments/{attachment['id']}").status_code == 404
    assert anna.delete(f"/attachments/{attachment['id']}").status_code == 404
    assert anna.get(f"/clients/{client_id}/attachments").json()["items"] == []
    deleted = tap.wait_for(lambda e: e["type"] == "attachment.deleted" and
                           e["subject"] == attachment["id"])
    assert deleted["data"]["reason"] == "deleted"
    _valid(deleted)


def _valid(event: dict) -> None:
    schema = json.loads((SCHEMAS / f"{event['type']}.v1.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema,
                                    format_checker=jsonschema.FormatChecker()).validate(event)
