"""Attachments through the gateway alone (the activities service faked in memory): the upload
read as it arrives and sent on in pieces, refusals before anything is stored, downloads
with their headers, and the access check of the record a file hangs on."""
import base64
import hashlib
import io
import os

import pytest
from gateway_support import AUTH, CLIENT, TOKEN

from crm_common.rpc import RemoteError
from crm_gateway import create_app
from crm_gateway.transfer import PIECE, content_disposition

ATTACHMENT_ID = "6c1f3b0e-0000-4000-8000-0000000000a1"
NAME = "Smlouva – Žluťoučký kůň.pdf"
PROBLEM = "application/problem+json"


class FakeActivities:
    """The activities service's attachment RPCs, over a dict."""

    def __init__(self, rpc):
        self.pieces, self.stored, self.aborted = {}, {}, []
        rpc.answers.update({("clients", "get"): CLIENT, **{
            ("activities", f"attachment_{name}"): getattr(self, name) for name in (
                "begin", "chunk", "finish", "abort", "get", "verify", "read", "delete")}})

    def begin(self, meta, idempotency_key=None):
        self.meta = meta
        return {"id": ATTACHMENT_ID}

    def chunk(self, attachment_id, offset, data):
        self.pieces[offset] = base64.b64decode(data)
        return {"received": offset + len(self.pieces[offset])}

    def finish(self, attachment_id, size, sha256, idempotency_key=None):
        data = b"".join(self.pieces[offset] for offset in sorted(self.pieces))
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha256)
        self.stored = {"id": attachment_id, "client_id": CLIENT["id"], "deal_id": None,
                       "activity_id": None, "file_name": self.meta["file_name"],
                       "content_type": "application/pdf", "size": size, "sha256": sha256,
                       "created_at": "2026-01-10T10:00:00Z", "created_by": "admin:bootstrap",
                       "data": data}
        return {k: v for k, v in self.stored.items() if k != "data"}

    def abort(self, attachment_id):
        self.aborted.append(attachment_id)

    def get(self, attachment_id):
        return {k: v for k, v in self.stored.items() if k != "data"}

    verify = get

    def read(self, attachment_id, offset, length):
        return {"data": base64.b64encode(self.stored["data"][offset:offset + length]).decode()}

    def delete(self, attachment_id, idempotency_key=None, replay_only=False):
        return {"id": attachment_id, "deleted": True}


@pytest.fixture
def service(rpc):
    return FakeActivities(rpc)


def _upload(client, data: bytes, name=NAME, path=f"/api/v1/clients/{CLIENT['id']}/attachments",
            **fields):
    return client.post(path, headers=AUTH, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), name), **fields})


def test_an_upload_goes_on_in_pieces_and_comes_back_whole(client, rpc, service):
    data = os.urandom(2 * PIECE + 77)
    answer = _upload(client, data, note="ignored")
    assert answer.status_code == 201, answer.json
    assert answer.headers["Location"] == f"/api/v1/attachments/{ATTACHMENT_ID}"
    assert answer.json["file_name"] == NAME and service.meta == {
        "client_id": CLIENT["id"], "file_name": NAME}
    pieces = rpc.called("activities", "attachment_chunk")
    assert [(c[2]["offset"], len(base64.b64decode(c[2]["data"]))) for c in pieces] == [
        (0, PIECE), (PIECE, PIECE), (2 * PIECE, 77)]

    download = client.get(f"/api/v1/attachments/{ATTACHMENT_ID}", headers=AUTH)
    assert download.status_code == 200 and download.data == data
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Length"] == str(len(data))
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"Smlouva _ Zlutoucky kun.pdf\"; filename*=UTF-8''"
        "Smlouva%20%E2%80%93%20%C5%BDlu%C5%A5ou%C4%8Dk%C3%BD%20k%C5%AF%C5%88.pdf")
    assert download.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert len(rpc.called("activities", "attachment_verify")) == 1


@pytest.mark.parametrize("name, stored", [
    ("C:\\Users\\jana\\nabídka.xlsx", "nabídka.xlsx"),
    ("Z\u030clut\u030couc\u030cky\u0301.txt", "Žluťoučký.txt"),
    ("a%0D%0Ab%22c%22.txt", 'a b"c".txt'),  # as browsers escape CR, LF and quotes
])
def test_names_are_kept_without_paths_and_control_characters(client, service, name, stored):
    assert _upload(client, b"x", name).json["file_name"] == stored


def _refused(answer, status, field=None):
    assert answer.status_code == status, answer.data
    assert answer.mimetype == PROBLEM
    if field:
        assert field in answer.json["fields"], answer.json


def test_bad_uploads_are_refused_and_nothing_stays(client, rpc, service):
    path = f"/api/v1/clients/{CLIENT['id']}/attachments"
    _refused(client.post(path, headers=AUTH, json={"file": "x"}), 415)
    _refused(client.post(path, headers=AUTH, data=b"x",
                         content_type="multipart/form-data"), 400)  # no boundary
    _refused(client.post(path, headers={**AUTH, "Content-Type": "multipart/form-data; "
                                        "boundary*=UTF-8''%C5%BE"}, data=b"x"), 400)
    _refused(client.post(path, headers=AUTH, data={"note": "no file"},
                         content_type="multipart/form-data"), 422, "file")
    _refused(client.post(path, headers=AUTH, data={"file": "not a file part"},
                         content_type="multipart/form-data"), 422, "file")
    _refused(_upload(client, b"x", "a" * 252 + ".pdf"), 422, "file")
    _refused(_upload(client, b"x", ""), 422, "file")
    assert rpc.called("activities", "attachment_begin") == []
    two = client.post(path, headers=AUTH, content_type="multipart/form-data", data={
        "file": [(io.BytesIO(b"one"), "1.txt"), (io.BytesIO(b"two"), "2.txt")]})
    _refused(two, 422, "file")
    assert service.aborted == [ATTACHMENT_ID] and rpc.called("activities",
                                                            "attachment_finish") == []
    broken = client.post(path, headers={**AUTH, "Content-Type":
                                        "multipart/form-data; boundary=xyz"},
                         data=b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; "
                              b"filename=\"a.txt\"\r\n\r\nhalf a file")
    _refused(broken, 400)


def test_too_large_is_413_before_anything_is_asked_or_while_counting(rpc, service):
    app = create_app({"RPC": rpc, "CRM_BOOTSTRAP_ADMIN_TOKEN": TOKEN,
                      "ATTACHMENTS_MAX_BYTES": 1000})
    client = app.test_client()
    _refused(_upload(client, b"x" * 200_000), 413)  # Content-Length says so
    assert rpc.calls == []
    _refused(_upload(client, b"x" * 1001), 413)  # within the framing allowance: counted
    assert service.aborted == [ATTACHMENT_ID]
    assert "1000 bytes" in _upload(client, b"x" * 1001).json["detail"]
    assert _upload(client, b"x" * 1000).status_code == 201


def test_a_file_is_seen_only_by_who_sees_its_record(client, rpc, service):
    assert _upload(client, b"%PDF-1.4").status_code == 201
    rpc.answers[("clients", "get")] = RemoteError("NotFound", f"client {CLIENT['id']}", [])
    for method in ("get", "delete"):
        answer = getattr(client, method)(f"/api/v1/attachments/{ATTACHMENT_ID}", headers=AUTH)
        _refused(answer, 404)
        assert answer.json["detail"] == f"attachment {ATTACHMENT_ID} not found"
    assert rpc.called("activities", "attachment_read") == []
    assert rpc.called("activities", "attachment_delete") == []
    # a retried delete (the first one went through, then a 504) gets the first answer
    retry = client.delete(f"/api/v1/attachments/{ATTACHMENT_ID}",
                          headers={**AUTH, "Idempotency-Key": "k-1"})
    assert retry.status_code == 204
    assert rpc.called("activities", "attachment_delete")[0][2]["replay_only"] is True


def test_bytes_changed_after_the_check_never_arrive_whole(client, rpc, service):
    data = os.urandom(PIECE + 10)
    assert _upload(client, data).status_code == 201
    service.stored["data"] = data[:-1] + b"X"
    with pytest.raises(RuntimeError, match="damaged"):
        client.get(f"/api/v1/attachments/{ATTACHMENT_ID}", headers=AUTH).data


def test_damaged_bytes_are_a_problem(client, rpc, service):
    assert _upload(client, b"x").status_code == 201
    rpc.answers[("activities", "attachment_verify")] = RemoteError(
        "DataDamaged", "attachment x: the stored file is damaged", [
            "attachment x: the stored file is damaged"])
    answer = client.get(f"/api/v1/attachments/{ATTACHMENT_ID}", headers=AUTH)
    _refused(answer, 500)
    assert answer.json["type"] == "urn:crm:problem:data-damaged"


def test_content_disposition_of_plain_and_awkward_names():
    assert content_disposition("a.pdf") == "attachment; filename=\"a.pdf\"; filename*=UTF-8''a.pdf"
    assert content_disposition('say "hi".txt').startswith('attachment; filename="say _hi_.txt"')
