"""A fake ARES: a real HTTP server answering from recorded ARES responses.

Used by tests and `make run` (ARES_BASE_URL) so nothing hits the ministry's server, which may
block clients that send many or invalid queries. Only the endpoints the client uses are served.

With `synthesize=True` (CLI `--synthesize`) every IČO with a valid check digit that has no
recording is found: the company of recording 04 under that IČO, its DIČ and a name made from
it. Load and fault tests use it to make a real (fake) lookup for each of thousands of clients.

Faults and counters, in process or over HTTP (outside the ARES base path, so never mistaken
for ARES; these requests are neither counted nor logged in `requests`):

    set_mode(mode, status=None, latency=None, seconds=None)   POST /__control
        {"mode": "ok"|"error"|"hang"|"refuse"|"latency", "status": 503, "latency": 0.5,
         "for": 10}  -> the state; GET /__control shows it. After "for" seconds: "ok" again.
        "refuse" closes the listening socket (connections refused), so over HTTP it needs "for".
    stats()                                                   GET /__stats
        {"requests": {"GET /ekonomicke-subjekty/{ico}": n, ...}, "icos": n, "total": n}
    reset_stats()                                             POST /__stats/reset
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

from crm_common.fake_http import HANG_SECONDS, FakeHttpServer
from crm_common.ico import is_valid as valid_ico

BASE_PATH = "/ekonomicke-subjekty-v-be/rest"
RECORDINGS_DIR = Path(__file__).resolve().parent / "recordings"
ENV_VAR = "FAKE_ARES_RECORDINGS"
MODES = ("ok", "error", "hang", "refuse", "latency")
LEGACY_MODES = {"error500": ("error", 500)}  # the names the first tests used
CONTROL_PATH, STATS_PATH, STATS_RESET_PATH = "/__control", "/__stats", "/__stats/reset"

_ICO_RE = re.compile(r"^\d{8}$")
_NAME_ICO_RE = re.compile(r"_(\d{8})(?!\d)")
TEMPLATE_ICO = "25063677"  # recording 04, a company paying VAT: the model of synthesized subjects


def _dump(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


class _Recordings:
    """Recorded bodies indexed by IČO. Subject bodies are served byte for byte as recorded."""

    def __init__(self, dirs: Iterable[Path]):
        self.subjects: dict[str, bytes] = {}  # ico -> EkonomickySubjekt body
        self.vr: dict[str, bytes] = {}  # ico -> public-register (VR) body
        self.errors: dict[str, bytes] = {}  # "06".."09" -> error body (built-in recordings)
        self.not_found: set[str] = set()  # IČOs recorded as 404 (never synthesized)
        for directory in dirs:
            for path in sorted(Path(directory).glob("*.json")):
                self._add(path)

    def _add(self, path: Path) -> None:
        data = path.read_bytes()
        try:
            body = json.loads(data)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        prefix = path.name[:2]
        if prefix in ("06", "07", "08", "09") and "kod" in body:
            self.errors.setdefault(prefix, data)
            match = _NAME_ICO_RE.search(path.name)
            if prefix == "06" and match:
                self.not_found.add(match.group(1))
        if isinstance(body.get("zaznamy"), list) and isinstance(body.get("icoId"), str):
            self.vr[body["icoId"]] = data
        elif isinstance(body.get("ico"), str):
            # Index by the body's own IČO and by an "_<ico>" in the file name.
            self.subjects[body["ico"]] = data
            match = _NAME_ICO_RE.search(path.name)
            if match:
                self.subjects.setdefault(match.group(1), data)

    def error(self, key: str, fallback: dict) -> bytes:
        return self.errors.get(key) or _dump(fallback)

    def synthesized(self, ico: str) -> bytes:
        """The template company under `ico`: only what identifies it is changed."""
        body = json.loads(self.subjects[TEMPLATE_ICO])
        body.update(ico=ico, icoId=ico, dic=f"CZ{ico}", obchodniJmeno=f"Syntetická {ico} s.r.o.")
        return _dump(body)


def _recording_dirs(recordings_dir: str | Path | None, extra_dirs: Iterable) -> list[Path]:
    dirs = [Path(recordings_dir) if recordings_dir else RECORDINGS_DIR]
    dirs += [Path(d) for d in extra_dirs]
    dirs += [Path(d) for d in os.environ.get(ENV_VAR, "").split(os.pathsep) if d]
    return dirs


def _number(value, name: str, minimum: float) -> float:
    # an hour at most: a fault is for a test, and Event.wait cannot wait forever anyway
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not minimum <= value <= 3600:
        raise ValueError(f"{name} must be a number of seconds, {minimum}..3600")
    return float(value)


def _fault(mode, status, latency, seconds) -> tuple[dict, float | None]:
    """The validated fault state and its duration (ValueError says what is wrong)."""
    if not isinstance(mode, str):
        raise ValueError(f"mode must be one of {MODES}")
    mode, status = LEGACY_MODES.get(mode, (mode, status))
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if mode == "error":
        status = 500 if status is None else status
        if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
            raise ValueError("status must be an HTTP status 500..599")
    fault = {"mode": mode, "status": status if mode == "error" else None,
             "latency": _number(latency, "latency", 0) if mode == "latency" else None}
    return fault, None if seconds is None else _number(seconds, "for", 0.001)


def _endpoint(method: str, route: str) -> str:
    """The stats label of an ARES request: its path with the IČO as {ico}."""
    parts = route[len(BASE_PATH) + 1:].split("/") if route.startswith(BASE_PATH + "/") else []
    if parts == ["ekonomicke-subjekty", "vyhledat"]:
        return f"{method} /ekonomicke-subjekty/vyhledat"
    if len(parts) == 2 and parts[0] in ("ekonomicke-subjekty", "ekonomicke-subjekty-vr"):
        return f"{method} /{parts[0]}/{{ico}}"
    return f"{method} (other)"  # bounded: a scan of random paths adds no keys


def _icos_asked(endpoint: str, body: bytes) -> int:
    if endpoint.endswith("{ico}"):
        return 1
    if endpoint == "POST /ekonomicke-subjekty/vyhledat":
        try:
            icos = json.loads(body or b"null").get("ico")
        except (ValueError, AttributeError):
            return 0
        return len(icos) if isinstance(icos, list) else 0
    return 0


class FakeAres(FakeHttpServer):
    CONTENT_TYPE = "application/json; charset=utf-8"
    NAME = "fake-ares"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, recordings_dir=None, extra_dirs=(),
                 synthesize: bool = False):
        super().__init__(host, port)
        self.recordings = _Recordings(_recording_dirs(recordings_dir, extra_dirs))
        self.synthesize = synthesize
        if synthesize and TEMPLATE_ICO not in self.recordings.subjects:
            raise ValueError(f"synthesize needs the recording of {TEMPLATE_ICO} as its template")
        self._lock = threading.Lock()  # the state and the counters
        self._mode_lock = threading.RLock()  # one mode change (and listener change) at a time
        self._fault = {"mode": "ok", "status": None, "latency": None}
        self._until: float | None = None  # time.monotonic() when a timed fault ends
        self._generation = 0  # a timer only ends the fault it was started for
        self._timer: threading.Timer | None = None
        self._counts: Counter = Counter()
        self._icos = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{BASE_PATH}"

    @property
    def mode(self) -> str:
        return self._fault["mode"]

    # -- faults ----------------------------------------------------------------------------------

    def set_mode(self, mode: str, status: int | None = None, latency: float | None = None,
                 seconds: float | None = None) -> dict:
        """Answer from now on in `mode` (for `seconds`, then "ok" again); returns the state.

        error: every answer is `status` (a 5xx, default 500) with ARES's OBECNA_CHYBA body;
        hang: no answer until the mode changes or the fake stops; latency: every answer
        `latency` seconds late; refuse: the listening socket is closed."""
        fault, seconds = _fault(mode, status, latency, seconds)
        with self._mode_lock:
            with self._lock:
                self._fault = fault
                self._generation += 1
                if self._timer is not None:
                    self._timer.cancel()
                self._until, self._timer = None, None
                if seconds is not None:
                    self._until = time.monotonic() + seconds
                    self._timer = threading.Timer(seconds, self._fault_over, (self._generation,))
                    self._timer.daemon = True
                    self._timer.start()
            if fault["mode"] == "refuse":
                self.refuse_connections()
            else:
                self.accept_connections()
        return self.control_state()

    def _fault_over(self, generation: int) -> None:
        with self._mode_lock:
            if generation == self._generation:  # else the mode was changed since: that rules
                self.set_mode("ok")

    def control_state(self) -> dict:
        with self._lock:
            left = None if self._until is None else max(0.0, round(self._until - time.monotonic(), 3))
            return dict(self._fault, **{"for": left})

    def stop(self) -> None:
        with self._lock:
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
        super().stop()

    # -- stats -----------------------------------------------------------------------------------

    def stats(self) -> dict:
        with self._lock:
            return {"requests": dict(self._counts), "icos": self._icos,
                    "total": sum(self._counts.values())}

    def reset_stats(self) -> dict:
        with self._lock:
            self._counts.clear()
            self._icos = 0
        return self.stats()

    def _count(self, method: str, route: str, body: bytes) -> None:
        endpoint = _endpoint(method, route)
        icos = _icos_asked(endpoint, body)
        with self._lock:
            self._counts[endpoint] += 1
            self._icos += icos

    # -- routing ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        """Answer one request; None means drop the connection (server stopping while hanging)."""
        route = path.split("?", 1)[0]
        if route in (CONTROL_PATH, STATS_PATH, STATS_RESET_PATH):
            return self._control(method, route, body)
        self.requests.append(path)
        self._count(method, route, body)
        fault = self.control_state()
        if fault["mode"] == "hang" and self._hang():
            return None
        if fault["mode"] == "latency" and self._stopping.wait(fault["latency"]):
            return None
        if fault["mode"] == "error":
            return fault["status"], self.recordings.error("08", {"kod": "OBECNA_CHYBA"})
        return self._answer(method, route, body)

    def _hang(self) -> bool:
        """Hold the answer back while hanging: True when the fake stops (drop the answer)."""
        deadline = time.monotonic() + HANG_SECONDS
        while self.mode == "hang" and time.monotonic() < deadline:
            if self._stopping.wait(0.05):
                return True
        return False

    def _control(self, method: str, route: str, body: bytes) -> tuple[int, bytes]:
        if method == "GET" and route == CONTROL_PATH:
            return 200, _dump(self.control_state())
        if method == "GET" and route == STATS_PATH:
            return 200, _dump(self.stats())
        if method == "POST" and route == STATS_RESET_PATH:
            return 200, _dump(self.reset_stats())
        if method != "POST" or route != CONTROL_PATH:
            return 405, _dump({"error": f"{method} {route} is not supported"})
        try:
            order = json.loads(body or b"null")
            if not isinstance(order, dict) or set(order) - {"mode", "status", "latency", "for"}:
                raise ValueError('send {"mode", "status", "latency", "for"}')
            if order.get("mode") == "refuse" and order.get("for") is None:
                raise ValueError('"refuse" needs "for": the control API is unreachable meanwhile')
            state = self.set_mode(order.get("mode"), order.get("status"), order.get("latency"),
                                  order.get("for"))
        except ValueError as exc:
            return 400, _dump({"error": str(exc)})
        return 200, _dump(state)

    def _answer(self, method: str, route: str, body: bytes) -> tuple[int, bytes]:
        rec = self.recordings
        not_found = rec.error("06", {"kod": "NENALEZENO", "subKod": "VYSTUP_SUBJEKT_NENALEZEN"})
        if not route.startswith(BASE_PATH + "/"):
            return 404, not_found
        parts = route[len(BASE_PATH) + 1:].split("/")
        bad_ico = 400, rec.error("07", {"kod": "CHYBA_VSTUPU", "subKod": "VSTUP_NEVALIDNI_FORMAT_ICO"})

        if method == "POST" and parts == ["ekonomicke-subjekty", "vyhledat"]:
            return self._search(body, bad_ico)
        if method == "GET" and len(parts) == 2 and parts[0] in ("ekonomicke-subjekty", "ekonomicke-subjekty-vr"):
            ico = parts[1]
            if not _ICO_RE.match(ico):
                return bad_ico
            if parts[0] == "ekonomicke-subjekty-vr":
                return (200, rec.vr[ico]) if ico in rec.vr else (404, rec.error("09", {"kod": "NENALEZENO"}))
            subject = self._subject(ico)
            return (200, subject) if subject is not None else (404, not_found)
        return 404, not_found

    def _subject(self, ico: str) -> bytes | None:
        if ico in self.recordings.subjects:
            return self.recordings.subjects[ico]
        if self.synthesize and valid_ico(ico) and ico not in self.recordings.not_found:
            return self.recordings.synthesized(ico)
        return None

    def _search(self, body: bytes, bad_ico: tuple[int, bytes]) -> tuple[int, bytes]:
        # ARES answers a body it cannot parse with 500 OBECNA_CHYBA (recording 08).
        try:
            query = json.loads(body or b"null")
        except ValueError:
            query = None
        icos = query.get("ico", []) if isinstance(query, dict) else None
        if not isinstance(icos, list):
            return 500, self.recordings.error("08", {"kod": "OBECNA_CHYBA"})
        if not all(isinstance(i, str) and _ICO_RE.match(i) for i in icos):
            return bad_ico
        start, count = query.get("start", 0), query.get("pocet", 100)
        if not isinstance(start, int) or not isinstance(count, int):
            return bad_ico
        subjects = (self._subject(i) for i in dict.fromkeys(icos))
        found = [json.loads(s) for s in subjects if s is not None]
        return 200, _dump({"pocetCelkem": len(found), "ekonomickeSubjekty": found[start:start + count]})
