"""Where uploaded import files are kept: `IMPORTS_S3_*` (see crm_common.storage) or files
under `IMPORTER_DATA_DIR` (default `$CRM_VAR_DIR/importer`)/files. Every replica of the
importer must reach the same store (a shared volume or the bucket)."""
import os
import threading
from pathlib import Path

from crm_common import storage
from crm_common.config import var_dir
from crm_common.storage import FileStore, Missing, Store, key_for, local_file

__all__ = ["Missing", "Store", "configured", "for_kind", "key_for", "local_file"]

_configured: dict[str, Store] = {}
_lock = threading.Lock()


def _files_dir() -> Path:
    data_dir = os.environ.get("IMPORTER_DATA_DIR")
    return (Path(data_dir) if data_dir else var_dir() / "importer") / "files"


def configured() -> Store:
    with _lock:
        if "store" not in _configured:
            _configured["store"] = storage.from_environment("IMPORTS", _files_dir(), "imports/")
        return _configured["store"]


def for_kind(kind: str) -> Store:
    """The store a file was written to, also after a switch between the two."""
    store = configured()
    if store.kind == kind:
        return store
    if kind == "file":
        return FileStore(_files_dir())
    raise Missing(f"stored in {kind}, which this process is not configured for")
