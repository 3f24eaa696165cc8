"""A fake ČNB: a real HTTP server answering `denni_kurz.txt?date=DD.MM.YYYY` from recorded
files, for tests and local runs (CNB_RATES_URL), so nothing asks the bank, which limits
clients that ask too much.

Recordings are `YYYY-MM-DD.txt` files (services/deals/tests/data/cnb); like the ČNB, a day
is answered with the newest file on or before it. `set_mode` makes it fail: 500, hang, or
answer garbage (a maintenance page) or a file cut off mid-line.

    python -m deals_service.fake_cnb --port 8098 [--recordings DIR]
"""
from __future__ import annotations

import argparse
import threading
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from crm_common.fake_http import FakeHttpServer

PATH = ("/cs/financni-trhy/devizovy-trh/kurzy-devizoveho-trhu/kurzy-devizoveho-trhu/"
        "denni_kurz.txt")
RECORDINGS_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "cnb"
MODES = ("ok", "error500", "hang", "garbage", "truncated")
MAINTENANCE_PAGE = "<!DOCTYPE html><html><body><h1>Probíhá údržba</h1></body></html>\n"


class FakeCnb(FakeHttpServer):
    CONTENT_TYPE = "text/plain;charset=UTF-8"
    NAME = "fake-cnb"

    def __init__(self, recordings_dir: str | Path = RECORDINGS_DIR, host: str = "127.0.0.1",
                 port: int = 0):
        super().__init__(host, port)
        self.files = {date.fromisoformat(path.stem): path.read_bytes()
                      for path in Path(recordings_dir).glob("*.txt")}
        if not self.files:
            raise ValueError(f"no recorded YYYY-MM-DD.txt files in {recordings_dir}")
        self._mode, self._mode_left = "ok", None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{PATH}"

    def set_mode(self, mode: str, times: int | None = None) -> None:
        """Answer the next `times` requests (all, when None) in `mode`, then "ok" again."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        with self._lock:
            self._mode, self._mode_left = mode, times

    def _next_mode(self) -> str:
        with self._lock:
            mode = self._mode
            if self._mode_left is not None:
                self._mode_left -= 1
                if self._mode_left <= 0:
                    self._mode, self._mode_left = "ok", None
            return mode

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        """Answer one GET; None drops the connection (stopping while hanging)."""
        self.requests.append(path)
        mode = self._next_mode()
        if mode == "hang" and self.hang():
            return None
        if mode == "error500":
            return 500, b"Internal Server Error\n"
        if mode == "garbage":
            return 200, MAINTENANCE_PAGE.encode()
        url = urlsplit(path)
        if url.path != PATH:
            return 404, b"Not Found\n"
        try:
            asked = datetime.strptime(parse_qs(url.query)["date"][0], "%d.%m.%Y").date()
        except (KeyError, ValueError):
            asked = date.today()  # no (usable) date: the current rates, like the ČNB
        recorded = [day for day in self.files if day <= asked]
        if not recorded:
            return 404, b"Not Found\n"
        body = self.files[max(recorded)]
        if mode == "truncated":
            body = body[:body.rindex(b"|")]  # a download cut off in its last line
        return 200, body


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deals_service.fake_cnb",
                                     description="Fake ČNB daily exchange rates")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8098)
    parser.add_argument("--recordings", default=RECORDINGS_DIR, metavar="DIR",
                        help="directory of recorded YYYY-MM-DD.txt files")
    args = parser.parse_args(argv)
    fake = FakeCnb(args.recordings, args.host, args.port)
    fake.bind()
    print(fake.url, flush=True)  # after binding, so port 0 prints the real port
    fake.serve_forever()


if __name__ == "__main__":
    main()
