"""What a write met when another one got there at the same moment, as the caller hears it."""
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from crm_common.errors import Conflict, PreconditionFailed


@contextmanager
def concurrent_writes(stale: str, duplicate: str | None = None):
    """A version that moved on under us (`version_id_col`) -> 412 `stale`; a unique row the
    other one wrote first -> 409 `duplicate` (when given; else the error stands)."""
    try:
        yield
    except StaleDataError as exc:
        raise PreconditionFailed(stale) from exc
    except IntegrityError as exc:
        if duplicate is None:
            raise
        raise Conflict(duplicate) from exc
