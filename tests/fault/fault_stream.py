"""The stream of client creations a fault scenario drives through the gateway, behaving
like a careful client of the API."""
from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests
from stdnum.cz.dic import calc_check_digit_legal

from crm_common.testing import TEST_ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}  # start_stack's bootstrap admin
OUTCOME_UNKNOWN = "urn:crm:problem:outcome-unknown"
NOTHING_DONE = "urn:crm:problem:service-unavailable"
HTTP_TIMEOUT = 20.0  # the gateway gives up on an RPC after 10 s
THREADS = int(os.environ.get("FAULT_THREADS", "4"))  # concurrent clients


def ico_for(scenario_number: int, index: int) -> str:
    base = f"9{scenario_number:02d}{index:04d}"
    return base + calc_check_digit_legal(base)


@dataclass
class Attempt:
    started: float  # time.monotonic()
    ended: float
    status: int | str  # HTTP status, or the name of the exception
    problem: str | None = None  # problem type of an error answer
    key: str = ""

    @property
    def latency(self) -> float:
        return self.ended - self.started


@dataclass
class Creation:
    index: int
    name: str
    ico: str
    attempts: list[Attempt] = field(default_factory=list)
    client_id: str | None = None
    declared_not_done: int = 0  # 503 "nothing was done" it took at its word (new key)
    error: str | None = None  # why the driver gave up


class Stream:
    """`count` creations from `threads` threads, paced at `rate` per second, each retried the
    way a careful client does: after an unknown outcome (504, a broken connection, a 5xx
    without "nothing was done") with the SAME Idempotency-Key, after a 503 "nothing was
    done" with a NEW one, unless that key had an unknown outcome before (the 503 is only about
    the retry; the first request may still be carried out). A gateway that says "nothing was
    done" when it was therefore shows up as two clients with one IČO."""

    def __init__(self, base_url: str, scenario: str, number: int, count: int, rate: float,
                 threads: int = THREADS):
        self.base_url = base_url
        self.creations = [Creation(i, f"fault {scenario} {i}", ico_for(number, i))
                          for i in range(count)]
        self.threads = threads
        self.rate = rate
        self._next = iter(self.creations)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self.accepted_count = 0
        self.started = 0.0
        self.finished = 0.0

    def start(self) -> "Stream":
        self.started = time.monotonic()
        self._workers = [threading.Thread(target=self._work, name=f"stream-{n}", daemon=True)
                         for n in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def wait_accepted(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.accepted_count < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.accepted_count} of {count} creations were "
                                     f"accepted in {timeout}s before the fault")
            time.sleep(0.05)

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        done = not any(w.is_alive() for w in self._workers)
        if done:
            self.finished = max(a.ended for a in self.attempts) if self.attempts else \
                time.monotonic()
        return done

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(HTTP_TIMEOUT + 5)
        if not self.finished:
            self.finished = time.monotonic()

    @property
    def attempts(self) -> list[Attempt]:
        return [a for c in self.creations for a in c.attempts]

    @property
    def accepted(self) -> list[Creation]:
        return [c for c in self.creations if c.client_id]

    def _work(self) -> None:
        http = requests.Session()
        http.headers.update(AUTH)
        while not self._stop.is_set():
            with self._lock:
                creation = next(self._next, None)
            if creation is None:
                return
            due = self.started + creation.index / self.rate
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            self._create(http, creation)

    def _create(self, http: requests.Session, creation: Creation) -> None:
        key = str(uuid.uuid4())
        unknown = False  # did a request with this key get an unknown outcome?
        backoff = 0.2
        while not self._stop.is_set():
            attempt = self._post(http, creation, key)
            creation.attempts.append(attempt)
            if attempt.status == 201:
                with self._lock:
                    self.accepted_count += 1
                return
            if isinstance(attempt.status, int) and 400 <= attempt.status < 500:
                creation.error = f"refused with {attempt.status}"  # a bug, not a fault
                return
            if attempt.status == 503 and attempt.problem == NOTHING_DONE:
                if not unknown:  # a new request; but after an unknown outcome a 503 says
                    creation.declared_not_done += 1  # only that this retry did nothing
                    key = str(uuid.uuid4())
            else:
                unknown = True
            creation.error = f"still no 201 (last: {attempt.status} {attempt.problem or ''})"
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 2.0)

    def _post(self, http: requests.Session, creation: Creation, key: str) -> Attempt:
        started = time.monotonic()
        try:
            response = http.post(f"{self.base_url}/api/v1/clients",
                                 json={"name": creation.name, "ico": creation.ico},
                                 headers={"Idempotency-Key": key}, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:  # the outcome is unknown: same key again
            return Attempt(started, time.monotonic(), type(exc).__name__, key=key)
        attempt = Attempt(started, time.monotonic(), response.status_code, key=key)
        if response.status_code == 201:
            creation.client_id = response.json()["id"]
        elif response.headers.get("Content-Type", "").startswith("application/problem+json"):
            attempt.problem = response.json().get("type")
        return attempt


