"""An upload's bytes between HTTP and the service that keeps them (attachments: activities;
import files: importer), a piece at a time.

Upload: the multipart body is read as it arrives (werkzeug's sans-IO decoder over
`request.stream`), and the part `file` goes on to the service in 1 MiB pieces over RPC
(`attachment_begin`, `attachment_chunk`..., `attachment_finish` with the size and SHA-256
counted here), so no gateway process holds a whole file. Over the limit is a 413: at once
when Content-Length says so, else as soon as the count passes it.

Download: the service checks the stored bytes first; they are then streamed as the
service hands them out, counted and hashed again on the way.
"""
import base64
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

from flask import Response, request, stream_with_context
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from crm_common.errors import ValidationFailed
from crm_common.text import MAX_FILE_NAME, safe_file_name

from . import rpc
from .attachment_schemas import FIELD

log = logging.getLogger(__name__)
PIECE = 1024 * 1024  # per RPC: ~1.4 MB of base64 in one message
READ = 64 * 1024  # from the socket at a time
# the multipart framing around the file (boundaries, part headers, a few small fields)
FORM_OVERHEAD = 64 * 1024
MAX_PARTS = 20
_QUOTED_FILE_NAME = re.compile(r'filename="((?:[^"\\]|\\.)*)"')
# what browsers percent-encode in a file name (WHATWG HTML, multipart/form-data)
_BROWSER_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n"}


class TooLarge(RequestEntityTooLarge):
    def __init__(self, limit: int):
        super().__init__(f"The file is larger than the limit of {limit} bytes.")


def refuse_too_large(limit: int) -> None:
    """Before anything is read or asked: a body that says it is too large gets its 413 at
    once, and werkzeug counts a body that says nothing (chunked) against the same bound."""
    if (request.content_length or 0) > limit + FORM_OVERHEAD:
        raise TooLarge(limit)
    request.max_content_length = limit + FORM_OVERHEAD


def discard_rest(limit: int) -> None:
    """Reads what is left of a refused upload's body and drops it, when it is no larger
    than an upload that would be taken: gunicorn drains at most 64 KiB of an unread body
    and otherwise closes the connection after the answer (which said keep-alive), so the
    client's next request on it would fail. A body over the limit stays unread: refusing
    it early is the point, and the connection closes."""
    length = request.content_length
    if length is None or length > limit + FORM_OVERHEAD:
        return
    request.max_content_length = limit + FORM_OVERHEAD
    try:
        while request.stream.read(READ):
            pass
    except Exception:  # noqa: BLE001 - the client went away, or sent less: nothing to keep
        pass


@dataclass(frozen=True)
class Destination:
    """The service an upload goes to and the names of its upload RPCs: `<prefix>_begin`
    (`begin(file name, meta)` gives its arguments; it answers {"id"}, or {replayed: answer} for a
    repeated Idempotency-Key), `<prefix>_chunk`, `<prefix>_finish`, `<prefix>_abort`, each
    naming the upload by `id_name`."""
    service: str
    prefix: str
    id_name: str
    replayed: str
    begin: Callable[[str, dict], dict]


ATTACHMENT = Destination("activities", "attachment", "attachment_id", "attachment",
                         lambda name, meta: {"meta": dict(meta, file_name=name)})


class _Upload:
    """One file on its way to a service."""

    def __init__(self, to: Destination, meta: dict, key: dict, limit: int):
        self.to, self.meta, self.key, self.limit = to, meta, key, limit
        self.id = self.replayed = None
        self.size, self.sent, self.finishing = 0, 0, False
        self.sha256, self.buffer = hashlib.sha256(), bytearray()

    def _call(self, verb: str, **kwargs):
        return rpc.call(self.to.service, f"{self.to.prefix}_{verb}", **kwargs)

    def begin(self, file_name: str) -> None:
        name = safe_file_name(file_name)
        if not name:
            raise ValidationFailed({FIELD: ["The file has no name (filename)."]})
        if len(name) > MAX_FILE_NAME:
            raise ValidationFailed({FIELD: [
                f"A file name has at most {MAX_FILE_NAME} characters."]})
        answer = self._call("begin", **self.to.begin(name, self.meta), **self.key)
        # a repeated Idempotency-Key: the first answer, and the bytes are not sent again
        self.replayed, self.id = answer.get(self.to.replayed), answer.get("id")

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        if self.replayed is None:
            self.sha256.update(data)
            self.buffer += data
            while len(self.buffer) >= PIECE:
                self._send(PIECE)

    def _send(self, length: int) -> None:
        piece = bytes(self.buffer[:length])
        del self.buffer[:length]
        self._call("chunk", **{self.to.id_name: self.id}, offset=self.sent,
                   data=base64.b64encode(piece).decode("ascii"))
        self.sent += len(piece)

    def finish(self, **extra) -> dict:
        if self.replayed is not None:
            return self.replayed
        if self.buffer:
            self._send(len(self.buffer))
        self.finishing = True  # from here a failure may have stored it: no abort
        return self._call("finish", **{self.to.id_name: self.id}, size=self.size,
                          sha256=self.sha256.hexdigest(), **extra, **self.key)

    def abort(self) -> None:
        if self.id is None or self.finishing:
            return
        try:
            self._call("abort", **{self.to.id_name: self.id})
        except Exception as exc:  # noqa: BLE001 - the service removes it within the hour
            log.warning("could not abort upload %s: %s", self.id, exc)


def receive(meta: dict, key: dict, limit: int, to: Destination = ATTACHMENT,
            fields: Callable[[dict], dict] | None = None) -> dict:
    """The upload stored from the request's part `file`. `fields`, when given, takes the
    form's other parts ({name: text}, in whatever order they came, before or after the
    file) and gives the extra arguments of `<prefix>_finish`; without it they are ignored."""
    boundary = parse_options_header(request.headers.get("Content-Type", ""))[1].get(
        "boundary", "")
    if not boundary or not boundary.isascii():
        raise BadRequest("A multipart/form-data body needs its boundary (ASCII).")
    decoder = MultipartDecoder(boundary.encode("ascii"), max_form_memory_size=PIECE,
                               max_parts=MAX_PARTS)
    upload, in_file, seen = _Upload(to, meta, key, limit), False, False
    form, field = {}, None
    try:
        while not isinstance(event := decoder.next_event(), Epilogue):
            if isinstance(event, NeedData):
                decoder.receive_data(request.stream.read(READ) or None)
            elif isinstance(event, (File, Field)):
                in_file = event.name == FIELD
                field = event.name if isinstance(event, Field) and not in_file else None
                if field is not None:
                    form[field] = bytearray()
                if in_file and (seen or isinstance(event, Field)):
                    raise ValidationFailed({FIELD: [
                        "Send one file, as a file part (with a filename)."]})
                if in_file:
                    seen = True
                    upload.begin(_file_name(event))
            elif isinstance(event, Data) and in_file:
                upload.add(event.data)
            elif isinstance(event, Data) and field is not None:
                form[field] += event.data
                if len(form[field]) > FORM_OVERHEAD:
                    raise ValidationFailed({field: ["At most 64 KiB."]})
        if not seen:
            raise ValidationFailed({FIELD: [f"Missing: send the file in the part `{FIELD}`."]})
        extra = fields(_texts(form)) if fields else {}
        return upload.finish(**extra)
    except ValueError as exc:  # what the decoder says of a malformed body
        upload.abort()
        raise BadRequest(f"The multipart body is malformed: {exc}") from exc
    except BaseException:
        upload.abort()
        raise


def _texts(form: dict) -> dict:
    try:
        return {name: bytes(value).decode("utf-8") for name, value in form.items()}
    except UnicodeDecodeError as exc:
        raise ValidationFailed({"_schema": ["Form fields are UTF-8 text."]}) from exc


def _file_name(event: File) -> str:
    """The part's file name as browsers write it: a backslash is itself, not an escape
    (werkzeug reads "C:\\Users\\a.pdf" as "C:Usersa.pdf"), except before a quote; and
    %22, %0D, %0A are what browsers make of a quote, CR and LF. `filename*` (RFC 5987)
    is exact and wins."""
    header = event.headers.get("Content-Disposition", "")
    found = _QUOTED_FILE_NAME.search(header)
    if "filename*" in header or found is None:
        return event.filename
    name = found.group(1).replace('\\"', '"')
    for escaped, char in _BROWSER_ESCAPES.items():
        name = name.replace(escaped, char).replace(escaped.lower(), char)
    return name


def send(attachment: dict) -> Response:
    """The stored file as a streamed answer. The last piece is held back until the whole
    count and SHA-256 match: bytes that changed after the service checked them break the
    answer off short of Content-Length, never arrive as if whole."""
    def pieces():
        digest, sent, held = hashlib.sha256(), 0, b""
        while sent < attachment["size"]:
            data = base64.b64decode(rpc.call("activities", "attachment_read",
                                             attachment_id=attachment["id"], offset=sent,
                                             length=PIECE)["data"])
            if not data:
                break
            digest.update(data)
            sent += len(data)
            if held:
                yield held
            held = data
        if (sent, digest.hexdigest()) != (attachment["size"], attachment["sha256"]):
            log.error("attachment %s changed while it was sent (%s bytes, SHA-256 %s); the "
                      "answer was broken off", attachment["id"], sent, digest.hexdigest())
            raise RuntimeError(f"attachment {attachment['id']} is damaged")
        if held:
            yield held

    content_type = attachment["content_type"]
    if content_type == "text/plain":  # detected as UTF-8 text
        content_type += "; charset=utf-8"
    return Response(stream_with_context(pieces()), status=200, content_type=content_type,
                    headers={"Content-Length": str(attachment["size"]),
                             "Content-Disposition": content_disposition(
                                 attachment["file_name"]),
                             "ETag": f'"{attachment["sha256"]}"',
                             "Cache-Control": "private, no-cache"})


def content_disposition(name: str) -> str:
    """RFC 6266 with RFC 5987's `filename*`: the exact name in UTF-8 for every current
    browser, an ASCII look-alike ("Smlouva _ Zlutoucky kun.pdf") for the rest."""
    fallback = "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\' else "_"
        for char in unicodedata.normalize("NFKD", name) if not unicodedata.combining(char))
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
