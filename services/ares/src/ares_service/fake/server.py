"""A fake ARES: a real HTTP server answering from recorded ARES responses.

Used by tests and `make run` (ARES_BASE_URL) so nothing hits the ministry's server, which may
block clients that send many or invalid queries. Only the endpoints the client uses are served.

With `synthesize=True` (CLI `--synthesize`) every IČO with a valid check digit that has no
recording is found: the company of recording 04 under that IČO, its DIČ and a name made from
it. Load and fault tests use it to make a real (fake) lookup for each of thousands of clients.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable

from crm_common.fake_http import FakeHttpServer
from crm_common.ico import is_valid as valid_ico

BASE_PATH = "/ekonomicke-subjekty-v-be/rest"
RECORDINGS_DIR = Path(__file__).resolve().parent / "recordings"
ENV_VAR = "FAKE_ARES_RECORDINGS"
MODES = ("ok", "error500", "hang")

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
        self.mode = "ok"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{BASE_PATH}"

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode

    # -- routing -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        """Answer one request; None means drop the connection (server stopping while hanging)."""
        self.requests.append(path)
        rec = self.recordings
        not_found = rec.error("06", {"kod": "NENALEZENO", "subKod": "VYSTUP_SUBJEKT_NENALEZEN"})
        if self.mode == "hang" and self.hang():
            return None
        if self.mode == "error500":
            return 500, rec.error("08", {"kod": "OBECNA_CHYBA"})

        route = path.split("?", 1)[0]
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
