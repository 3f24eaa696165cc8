"""Where a service keeps uploaded files: a directory (the default) or an S3-compatible bucket.

An upload arrives in pieces (`put_part`, each named by its offset, so a redelivered piece
overwrites itself); `write` then streams the pieces into the one stored object and the
caller drops them (`delete_parts`). Both stores are shared by every replica of a service:
the directory must be a volume all of them mount.

`from_environment("ATTACHMENTS", default_dir)`: `<PREFIX>_S3_BUCKET` switches to S3, with
`<PREFIX>_S3_ENDPOINT_URL` (MinIO, Ceph...), `<PREFIX>_S3_REGION`, `<PREFIX>_S3_PREFIX`,
`<PREFIX>_S3_ACCESS_KEY_ID` / `..._SECRET_ACCESS_KEY` (else boto3's usual chain: AWS_*
variables, instance roles); otherwise files under `default_dir`. boto3 is imported only by
a service configured for S3 (the service lists it among its dependencies).
"""
import base64
import binascii
import contextlib
import os
import tempfile
import uuid
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from .errors import PayloadTooLarge, ValidationFailed


READ_BLOCK = 1024 * 1024
S3_PART = 8 * 1024 * 1024  # S3 multipart parts must be >= 5 MiB (all but the last)


class Missing(Exception):
    """The stored object is not there (deleted, or never written)."""


class Store(Protocol):
    kind: str  # what the `storage` column records: "file" | "s3"

    def put_part(self, key: str, offset: int, data: bytes) -> None: ...
    def parts(self, key: str) -> Iterator[tuple[int, bytes]]: ...
    def write(self, key: str, chunks: Iterable[bytes]) -> None: ...
    def read(self, key: str, offset: int, length: int) -> bytes: ...
    def stream(self, key: str) -> Iterator[bytes]: ...
    def delete_parts(self, key: str) -> None: ...
    def delete(self, key: str) -> None: ...


def key_for(attachment_id: str) -> str:
    """Two characters of fan-out keep a directory from holding every file."""
    return f"{attachment_id[:2]}/{attachment_id}"


def _part_name(offset: int) -> str:
    return f"{offset:012d}"  # names sort as offsets do


class FileStore:
    kind = "file"

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def _parts_dir(self, key: str) -> Path:
        return self.root / f"{key}.parts"

    def put_part(self, key: str, offset: int, data: bytes) -> None:
        self._atomic_write(self._parts_dir(key) / _part_name(offset), [data])

    def parts(self, key: str) -> Iterator[tuple[int, bytes]]:
        folder = self._parts_dir(key)
        names = sorted(n for n in os.listdir(folder) if n.isdigit()) if folder.is_dir() else []
        for name in names:
            yield int(name), (folder / name).read_bytes()

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        self._atomic_write(self._path(key), chunks)

    def read(self, key: str, offset: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as file:
                file.seek(offset)
                return file.read(length)
        except FileNotFoundError as exc:
            raise Missing(key) from exc

    def stream(self, key: str) -> Iterator[bytes]:
        try:
            file = open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise Missing(key) from exc
        with file:
            while block := file.read(READ_BLOCK):
                yield block

    def delete_parts(self, key: str) -> None:
        folder = self._parts_dir(key)
        if not folder.is_dir():
            return
        for name in os.listdir(folder):
            (folder / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a late piece landed meanwhile: stale cleanup
            folder.rmdir()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self.delete_parts(key)

    @staticmethod
    def _atomic_write(path: Path, chunks: Iterable[bytes]) -> None:
        """Written beside, synced, then renamed: a reader never sees half a file, and a
        crash leaves no stored object that is not whole."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as file:
                for chunk in chunks:
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


class S3Store:
    kind = "s3"

    def __init__(self, bucket: str, prefix: str = "attachments/", endpoint_url=None,
                 region=None, access_key_id=None, secret_access_key=None):
        import boto3  # noqa: PLC0415 - only a service configured for S3 needs it
        from botocore.config import Config  # noqa: PLC0415

        self.bucket, self.prefix = bucket, prefix
        # custom endpoints (MinIO, Ceph, moto) answer path-style addresses reliably
        config = Config(s3={"addressing_style": "path"} if endpoint_url else {},
                        retries={"max_attempts": 3, "mode": "standard"})
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=config)
        self._no_such_key = self.client.exceptions.NoSuchKey

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _part_keys(self, key: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(f"{key}.parts/"))
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def put_part(self, key: str, offset: int, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Body=data,
                               Key=self._key(f"{key}.parts/{_part_name(offset)}"))

    def parts(self, key: str) -> Iterator[tuple[int, bytes]]:
        for part_key in self._part_keys(key):
            body = self.client.get_object(Bucket=self.bucket, Key=part_key)["Body"]
            yield int(part_key.rsplit("/", 1)[1]), body.read()

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        """One PUT for a small file; a multipart upload of 8 MiB parts for a larger one, so
        no more than a part is held in memory."""
        buffer, upload, numbered = bytearray(), None, []
        try:
            for chunk in chunks:
                buffer += chunk
                if len(buffer) >= S3_PART:
                    upload = upload or self.client.create_multipart_upload(
                        Bucket=self.bucket, Key=self._key(key))["UploadId"]
                    numbered.append(self._upload_part(key, upload, len(numbered) + 1, buffer))
                    buffer = bytearray()
            if upload is None:
                self.client.put_object(Bucket=self.bucket, Key=self._key(key),
                                       Body=bytes(buffer))
                return
            if buffer:
                numbered.append(self._upload_part(key, upload, len(numbered) + 1, buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self._key(key), UploadId=upload,
                MultipartUpload={"Parts": numbered})
        except BaseException:
            if upload is not None:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key),
                                                   UploadId=upload)
            raise

    def _upload_part(self, key, upload, number, data) -> dict:
        answer = self.client.upload_part(Bucket=self.bucket, Key=self._key(key),
                                         UploadId=upload, PartNumber=number, Body=bytes(data))
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def read(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key),
                                          Range=f"bytes={offset}-{offset + length - 1}"
                                          )["Body"].read()
        except self._no_such_key as exc:
            raise Missing(key) from exc
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # at or past the end (an empty object has no byte 0)
            raise

    def stream(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self._no_such_key as exc:
            raise Missing(key) from exc
        yield from body.iter_chunks(READ_BLOCK)

    def delete_parts(self, key: str) -> None:
        keys = self._part_keys(key)
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 at a time
            self.client.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))  # none: no error
        self.delete_parts(key)


def from_environment(prefix: str, default_dir: Path, s3_prefix: str) -> Store:
    """The store `<prefix>_S3_*` variables configure, else files under `default_dir`."""
    def env(name):
        return os.environ.get(f"{prefix}_S3_{name}") or None
    bucket = env("BUCKET")
    if bucket:
        return S3Store(bucket, prefix=env("PREFIX") or s3_prefix,
                       endpoint_url=env("ENDPOINT_URL"), region=env("REGION"),
                       access_key_id=env("ACCESS_KEY_ID"),
                       secret_access_key=env("SECRET_ACCESS_KEY"))
    return FileStore(default_dir)


@contextlib.contextmanager
def local_file(store: Store, key: str) -> Iterator[Path]:
    """A path to the stored object for code that reads files by path (spreadsheet readers):
    the file itself in a directory store, else a temporary copy, removed afterwards."""
    if isinstance(store, FileStore):
        yield store._path(key)
        return
    temporary = Path(tempfile.gettempdir()) / f"crm-{uuid.uuid4()}"
    try:
        with open(temporary, "wb") as file:
            for chunk in store.stream(key):
                file.write(chunk)
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def decoded_piece(offset, data, max_piece: int, max_total: int) -> bytes:
    """The bytes of an upload's piece that starts at byte `offset` (base64 in `data`), or
    why not: a ValidationFailed, or PayloadTooLarge past `max_total` bytes."""
    try:
        piece = base64.b64decode(data, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise ValidationFailed({"data": ["Not base64."]}) from exc
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationFailed({"offset": ["A byte offset (0 or more)."]})
    if len(piece) > max_piece:
        raise ValidationFailed({"data": [f"A piece has at most {max_piece} bytes."]})
    if offset + len(piece) > max_total:
        raise PayloadTooLarge(f"The file is larger than the limit of {max_total} bytes.")
    return piece
