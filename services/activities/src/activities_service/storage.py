"""Where attachments' bytes live: `crm_common.storage`'s directory or S3 bucket, configured
by `ATTACHMENTS_S3_*` (see there), else files under `ACTIVITIES_DATA_DIR` (default
`$CRM_VAR_DIR/activities`)/attachments."""
import os
import threading
from pathlib import Path

from crm_common import storage
from crm_common.config import var_dir
from crm_common.storage import FileStore, Missing, S3Store, Store, key_for

__all__ = ["FileStore", "Missing", "S3Store", "Store", "configured", "for_kind",
           "from_environment", "key_for"]


def from_environment() -> Store:
    return storage.from_environment("ATTACHMENTS", _data_dir() / "attachments",
                                    "attachments/")


def _data_dir() -> Path:
    data_dir = os.environ.get("ACTIVITIES_DATA_DIR")
    return Path(data_dir) if data_dir else var_dir() / "activities"


_configured: dict[str, Store] = {}
_lock = threading.Lock()


def configured() -> Store:
    """The store this process writes new attachments to, made once (an S3 client is costly
    to make and safe to share)."""
    with _lock:
        if "store" not in _configured:
            _configured["store"] = from_environment()
        return _configured["store"]


def for_kind(kind: str) -> Store:
    """The store of an attachment written as `kind`: files written before a switch to S3
    stay readable (and deletable) where they are."""
    store = configured()
    if store.kind == kind:
        return store
    if kind == "file":
        return FileStore(_data_dir() / "attachments")
    raise Missing(f"stored in {kind}, which this process is not configured for")
