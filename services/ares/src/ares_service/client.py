"""HTTP client for the ARES REST API (ekonomicke-subjekty-v-be/rest).

`lookup` never raises for registry or network trouble: callers get a `LookupResult` whose status
says whether to apply data ("found"), tell the user ("not_found", "invalid") or retry later
("unavailable").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from crm_common import ico as ico_number

from .mapping import map_subject

DEFAULT_BASE_URL = "https://ares.gov.cz/ekonomicke-subjekty-v-be/rest"

FOUND, NOT_FOUND, INVALID, UNAVAILABLE = "found", "not_found", "invalid", "unavailable"



@dataclass(frozen=True)
class LookupResult:
    status: str  # found | not_found | invalid | unavailable
    ico: str
    record: dict | None = None
    raw: dict | None = None
    detail: str | None = None
    http_status: int | None = None


# ARES does not check the check digit (a wrong one answers 404), and its terms frown on
# invalid queries, so lookups check it here first.
normalize_ico = ico_number.compact
is_valid_ico = ico_number.is_valid


class _ThrottledRetry(Retry):
    """A Retry that also takes a throttle token before each retried request (they count too)."""

    throttle: Callable[[], Any] | None = None

    def new(self, **kw: Any) -> "_ThrottledRetry":
        retry = super().new(**kw)
        retry.throttle = self.throttle
        return retry

    def sleep(self, response: Any = None) -> None:
        super().sleep(response)
        if self.throttle is not None:
            self.throttle()


def _error_body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class AresClient:
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        connect_timeout: float = 3.05,
        read_timeout: float = 10,
        retries: int = 2,
        throttle: Any = None,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        # A Throttle instance or any zero-argument callable.
        self._throttle = getattr(throttle, "acquire", throttle)
        self._owns_session = session is None
        self.session = session or requests.Session()
        if self._owns_session:
            retry = _ThrottledRetry(
                total=retries,
                connect=retries,
                read=False,  # a read timeout re-raises at once: retrying a hung server only multiplies the wait
                status=retries,
                other=0,
                allowed_methods=frozenset({"GET"}),
                status_forcelist=(502, 503, 504),
                backoff_factor=0.3,
                raise_on_status=False,  # give us the last 5xx response rather than an exception
                respect_retry_after_header=False,
            )
            retry.throttle = self._throttle
            adapter = HTTPAdapter(max_retries=retry)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> "AresClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def lookup(self, ico: Any) -> LookupResult:
        try:
            ico = ico_number.validate(ico)
        except ValueError as exc:  # never sent: ARES would only answer 400 or 404
            return LookupResult(INVALID, normalize_ico(ico), detail=str(exc))

        if self._throttle is not None:
            self._throttle()
        try:
            response = self.session.get(
                f"{self.base_url}/ekonomicke-subjekty/{ico}",
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:  # timeouts, refused connections, exhausted retries
            return LookupResult(UNAVAILABLE, ico, detail=f"{type(exc).__name__}: {exc}")

        status = response.status_code
        if status == 200:
            try:
                raw = response.json()
            except ValueError:
                return LookupResult(UNAVAILABLE, ico, detail="invalid JSON in a 200 response", http_status=status)
            if not isinstance(raw, dict) or "ico" not in raw:
                return LookupResult(UNAVAILABLE, ico, detail="200 response is not an EkonomickySubjekt", http_status=status)
            return LookupResult(FOUND, ico, record=map_subject(raw), raw=raw, http_status=status)

        body = _error_body(response)
        popis, sub_kod = body.get("popis"), body.get("subKod")
        if status == 404:
            return LookupResult(NOT_FOUND, ico, raw=body or None, detail=popis or sub_kod or "not found", http_status=status)
        if status == 400:
            return LookupResult(INVALID, ico, raw=body or None, detail=popis or sub_kod or "rejected by ARES", http_status=status)
        # 5xx and anything unexpected (e.g. a block by the ministry): try again later.
        detail = f"HTTP {status}" + (f": {popis or sub_kod}" if popis or sub_kod else "")
        return LookupResult(UNAVAILABLE, ico, raw=body or None, detail=detail, http_status=status)
