"""HTTP client for the ARES REST API (ekonomicke-subjekty-v-be/rest).

No method raises for registry or network trouble: callers get a `LookupResult` whose status
says whether to apply data ("found"), tell the user ("not_found", "invalid") or retry later
("unavailable").
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from crm_common import ico as ico_number

from .mapping import map_statutory_people, map_subject, search_subjects

DEFAULT_BASE_URL = "https://ares.gov.cz/ekonomicke-subjekty-v-be/rest"

FOUND, NOT_FOUND, INVALID, UNAVAILABLE = "found", "not_found", "invalid", "unavailable"
MAX_SEARCH = 100  # IČOs one vyhledat request may ask for (ARES's limit)

log = logging.getLogger(__name__)


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

    def get_backoff_time(self) -> float:
        # urllib3 retries the first failure at once; a registry in trouble deserves a pause
        # there too. The jitter keeps replicas that failed together from retrying together.
        if not self.history:
            return 0.0
        wait = self.backoff_factor * 2 ** (len(self.history) - 1)
        return min(self.backoff_max, wait + random.uniform(0, self.backoff_jitter))

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


def _outcome_of(exc: requests.RequestException) -> str:
    """The `observe` outcome of a failed request. After exhausted retries requests reports
    even a timeout as a ConnectionError wrapping urllib3's MaxRetryError: look at its reason."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "connection_error"  # a refused connection (a ConnectTimeoutError subclass)
    if isinstance(exc, requests.Timeout) or isinstance(reason, urllib3.exceptions.TimeoutError):
        return "timeout"
    return "connection_error" if isinstance(exc, requests.ConnectionError) else "error"


def _failed(ico: str, response: requests.Response) -> LookupResult:
    """The result of a non-200 answer."""
    status = response.status_code
    body = _error_body(response)
    popis, sub_kod = body.get("popis"), body.get("subKod")
    if status in (404, 400):
        fallback = "not found" if status == 404 else "rejected by ARES"
        return LookupResult(NOT_FOUND if status == 404 else INVALID, ico, raw=body or None,
                            detail=popis or sub_kod or fallback, http_status=status)
    # 5xx and anything unexpected (e.g. a block by the ministry): try again later.
    detail = f"HTTP {status}" + (f": {popis or sub_kod}" if popis or sub_kod else "")
    return LookupResult(UNAVAILABLE, ico, raw=body or None, detail=detail, http_status=status)


class AresClient:
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        connect_timeout: float = 3.05,
        read_timeout: float = 10,
        retries: int = 2,
        throttle: Any = None,
        session: requests.Session | None = None,
        observe: Callable[[str, str, float], Any] | None = None,
        backoff_factor: float = 0.3,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        # A Throttle instance or any zero-argument callable.
        self._throttle = getattr(throttle, "acquire", throttle)
        # observe(endpoint "subject" | "search" | "vr", outcome "200" | "timeout" | ..., seconds)
        self._observe = observe
        self._owns_session = session is None
        self.session = session or requests.Session()
        if self._owns_session:
            retry = _ThrottledRetry(
                total=retries,
                connect=retries,
                read=retries,  # read timeouts too: keep read_timeout short, it multiplies
                status=retries,
                other=0,
                allowed_methods=frozenset({"GET", "POST"}),  # our only POST, vyhledat, is a search
                status_forcelist=(502, 503, 504),
                backoff_factor=backoff_factor,
                backoff_jitter=backoff_factor,
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

    # -- the endpoints ---------------------------------------------------------------------------

    def lookup(self, ico: Any) -> LookupResult:
        """GET /ekonomicke-subjekty/{ico}: the subject, mapped by `map_subject`."""
        return self._get_one("subject", "ekonomicke-subjekty", ico, map_subject,
                             lambda raw: isinstance(raw, dict) and "ico" in raw, "an EkonomickySubjekt")

    def statutory_body(self, ico: Any) -> LookupResult:
        """GET /ekonomicke-subjekty-vr/{ico}: record {"people": [...]}, the current members of
        the statutory bodies. A subject not in the public register (a sole trader) is 404."""
        return self._get_one("vr", "ekonomicke-subjekty-vr", ico,
                             lambda raw: {"people": map_statutory_people(raw)},
                             lambda raw: isinstance(raw, dict) and isinstance(raw.get("zaznamy"), list),
                             "an EkonomickySubjektVr")

    def lookup_many(self, icos: Sequence[Any]) -> dict[str, LookupResult]:
        """One result per distinct IČO (keyed by the normalized IČO) with as few requests as
        possible: none for invalid IČOs, the GET for a single one (it tells a precise 404),
        one POST /ekonomicke-subjekty/vyhledat for more. ValueError above MAX_SEARCH."""
        if isinstance(icos, (str, bytes)):
            raise TypeError("lookup_many takes a sequence of IČOs, not one IČO")
        keys = list(dict.fromkeys(normalize_ico(value) for value in icos))  # input order
        results: dict[str, LookupResult] = {}
        valid: list[str] = []
        for key in keys:
            try:
                valid.append(ico_number.validate(key))
            except ValueError as exc:  # never sent, as in lookup
                results[key] = LookupResult(INVALID, key, detail=str(exc))
        if len(valid) > MAX_SEARCH:
            raise ValueError(f"at most {MAX_SEARCH} valid IČOs per lookup_many, got {len(valid)}")
        if len(valid) == 1:
            results[valid[0]] = self.lookup(valid[0])
        elif valid:
            results.update(self._search(valid))
        return {key: results[key] for key in keys}

    # -- how -------------------------------------------------------------------------------------

    def _get_one(self, endpoint: str, path: str, ico: Any, make_record: Callable[[dict], dict],
                 looks_right: Callable[[Any], bool], expected: str) -> LookupResult:
        try:
            ico = ico_number.validate(ico)
        except ValueError as exc:  # never sent: ARES would only answer 400 or 404
            return LookupResult(INVALID, normalize_ico(ico), detail=str(exc))
        response = self._request(endpoint, "GET", f"{path}/{ico}")
        if isinstance(response, str):
            return LookupResult(UNAVAILABLE, ico, detail=response)
        if response.status_code != 200:
            return _failed(ico, response)
        try:
            raw = response.json()
        except ValueError:
            return LookupResult(UNAVAILABLE, ico, detail="invalid JSON in a 200 response", http_status=200)
        if not looks_right(raw):
            return LookupResult(UNAVAILABLE, ico, detail=f"200 response is not {expected}", http_status=200)
        return LookupResult(FOUND, ico, record=make_record(raw), raw=raw, http_status=200)

    def _search(self, icos: list[str]) -> dict[str, LookupResult]:
        response = self._request("search", "POST", "ekonomicke-subjekty/vyhledat",
                                 json={"ico": icos, "start": 0, "pocet": len(icos)})
        if isinstance(response, str):
            return {ico: LookupResult(UNAVAILABLE, ico, detail=response) for ico in icos}
        if response.status_code != 200:
            return {ico: _failed(ico, response) for ico in icos}
        try:
            subjects = search_subjects(response.json())
        except ValueError:
            subjects = None
        if subjects is None:
            detail = "200 response is not a list of subjects (EkonomickeSubjektySeznam)"
            return {ico: LookupResult(UNAVAILABLE, ico, detail=detail, http_status=200) for ico in icos}
        results = {}
        for ico in icos:
            raw = subjects.get(ico)
            if raw is not None:
                results[ico] = LookupResult(FOUND, ico, record=map_subject(raw), raw=raw, http_status=200)
            else:
                results[ico] = LookupResult(NOT_FOUND, ico, http_status=200,
                                            detail="not returned by ARES's search (vyhledat)")
        return results

    def _request(self, endpoint: str, method: str, path: str, **kwargs: Any) -> requests.Response | str:
        """One throttled, observed request (urllib3 retries inside it): the response, or what
        went wrong as text."""
        if self._throttle is not None:
            self._throttle()
        started = time.monotonic()
        try:
            response = self.session.request(method, f"{self.base_url}/{path}",
                                            headers={"Accept": "application/json"},
                                            timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:  # timeouts, refused connections, exhausted retries
            self._observed(endpoint, _outcome_of(exc), started)
            return f"{type(exc).__name__}: {exc}"
        self._observed(endpoint, str(response.status_code), started)
        return response

    def _observed(self, endpoint: str, outcome: str, started: float) -> None:
        if self._observe is None:
            return
        try:
            self._observe(endpoint, outcome, time.monotonic() - started)
        except Exception:  # metrics must never cost a lookup
            log.warning("observe(%s, %s) failed", endpoint, outcome, exc_info=True)
