"""The fault suite's harness: a stream of client creations through the gateway, an
independent subscriber, a fault in the middle, and the count at the end.

A scenario (`run_scenario`) creates `FAULT_CLIENTS` clients, each with a unique valid IČO that
the fake ARES "finds", injects its fault once a quarter of them are accepted, clears it after
`hold` seconds and then waits until every accepted client has settled. It then counts per
client: `client.created` events at the subscriber, "Client created" and final ARES entries in
the timeline, ARES outcome events, and clients with the same IČO. Exactly one each, or the
scenario failed; `Outcome.verify()` records the numbers and raises with every failed check.
"""
from __future__ import annotations

import fcntl
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import requests

from crm_common.stack import repo_root
from fault_stream import AUTH, HTTP_TIMEOUT, NOTHING_DONE, OUTCOME_UNKNOWN, Creation, Stream
from fault_subscriber import Subscriber

CLIENTS = int(os.environ.get("FAULT_CLIENTS", "120"))
RATE = float(os.environ.get("FAULT_RATE", "40"))  # creations started per second, at most
# bounds, so a scenario that does not recover fails in minutes instead of hanging
READY_TIMEOUT = 60.0  # the system must be ready before a scenario starts
# clear -> the stream is done (plus the time its pace needs), then -> everything settled
RECOVER_BUDGET = float(os.environ.get("FAULT_RECOVER_BUDGET", "60"))
SETTLE_TIMEOUT = float(os.environ.get("FAULT_SETTLE_TIMEOUT", str(60 + CLIENTS / 10)))
RESULTS = repo_root() / "var" / "fault" / "results.json"

CREATED = "Client created"
ARES_FINAL = ("Data loaded from ARES", "IČO not found in ARES")
ARES_RETRYING = "ARES unavailable, will retry"

# every scenario of a session gets its own IČO range: 9 <scenario 00-99> <index 0000-9999>
_scenario_numbers = iter(range(100))
SESSION_OUTCOMES: list["Outcome"] = []  # rendered into the report at the end of the session
PENDING: list["Outcome"] = []  # every outcome made, so one a test did not verify is recorded


# -- settling and counting -------------------------------------------------------------------

@dataclass
class Tally:
    """What one accepted client ended up with."""
    created_entries: int = 0
    final_entries: int = 0
    retry_entries: int = 0
    created_events: int = 0
    ares_events: int = 0
    same_ico: int = 0

    @property
    def settled(self) -> bool:
        return self.created_entries >= 1 and self.final_entries >= 1 and \
            self.created_events >= 1 and self.ares_events >= 1


class Counter:
    def __init__(self, base_url: str, subscriber: Subscriber):
        self.base_url = base_url
        self.subscriber = subscriber
        self.http = requests.Session()
        self.http.headers.update(AUTH)
        self.http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=8))

    def tally(self, creation: Creation) -> Tally:
        response = self.http.get(f"{self.base_url}/api/v1/clients/{creation.client_id}/timeline",
                                 params={"limit": 100}, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        titles = [e["title"] for e in response.json()["items"]]
        return Tally(created_entries=titles.count(CREATED),
                     final_entries=sum(titles.count(t) for t in ARES_FINAL),
                     retry_entries=titles.count(ARES_RETRYING),
                     created_events=len(self.subscriber.events("client.created",
                                                               creation.client_id)),
                     ares_events=len(self.subscriber.ares_outcomes(creation.ico)))

    def same_ico(self, creation: Creation) -> int:
        response = self.http.get(f"{self.base_url}/api/v1/clients",
                                 params={"ico": creation.ico}, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return len(response.json()["items"])

    def settle(self, creations: list[Creation], timeout: float) -> tuple[dict, float | None]:
        """Poll until every creation has settled (or `timeout`); then, after a grace period
        for late duplicates, one final count of all. Returns the tallies and when (monotonic)
        everything had settled, or None."""
        pending = list(creations)
        settled_at = None
        deadline = time.monotonic() + timeout
        with ThreadPoolExecutor(8) as pool:
            while pending and time.monotonic() < deadline:
                tallies = list(pool.map(self._safe_tally, pending))
                pending = [c for c, t in zip(pending, tallies) if not (t and t.settled)]
                if pending:
                    time.sleep(0.5)
            if not pending:
                settled_at = time.monotonic()
            time.sleep(2.0)  # a duplicate would typically arrive within this
            tallies = dict(zip((c.index for c in creations),
                               pool.map(self._safe_tally, creations)))
            for creation, count in zip(creations, pool.map(self._safe_same_ico, creations)):
                if tallies.get(creation.index) is not None:
                    tallies[creation.index].same_ico = count
        return tallies, settled_at

    def _safe_tally(self, creation: Creation) -> Tally | None:
        return _tried(lambda: self.tally(creation), None)

    def _safe_same_ico(self, creation: Creation) -> int:
        return _tried(lambda: self.same_ico(creation), -1)


def _tried(call, default, attempts: int = 3):
    """`call()`, tried again after a hiccup (a count must not report a client lost because
    one GET failed); `default` when it keeps failing."""
    for attempt in range(attempts):
        try:
            return call()
        except (requests.RequestException, KeyError, ValueError):
            if attempt < attempts - 1:
                time.sleep(0.5)
    return default


# -- a scenario ------------------------------------------------------------------------------

@dataclass
class Fault:
    """`inject` once a quarter of the stream is accepted, `hold` seconds, then `clear`."""
    inject: Callable[[], None]
    clear: Callable[[], None]
    hold: float = 3.0  # seconds from the fault being in effect to clearing it
    lasts: float | None = None  # expected seconds from inject to cleared; default hold + 2

    def pace(self, count: int) -> float:
        """Creations per second so that about half of the stream meets the fault (a quarter
        is accepted before it, the last quarter after it)."""
        return min(RATE, count / (2 * (self.lasts or self.hold + 2)))


@dataclass
class Timeline:
    """When (time.monotonic()) the fault was injected, in effect, being cleared, cleared."""
    injected: float | None = None
    active: float | None = None
    clearing: float | None = None
    cleared: float | None = None


@dataclass
class Outcome:
    scenario: str
    description: str
    setup: str  # broker, database, replicas
    numbers: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    logs: str = ""
    recorded: bool = False

    def check(self, condition: bool, failure: str) -> bool:
        if not condition:
            self.failures.append(failure)
        return condition

    def record(self) -> None:
        if self.recorded:
            return
        self.recorded = True
        SESSION_OUTCOMES.append(self)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        # xdist's workers record at the same time: one at a time, and a reader never sees a
        # file half written
        with open(RESULTS.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                results = json.loads(RESULTS.read_text())
            except (OSError, ValueError):
                results = []
            results.append(self.as_dict())
            partial = RESULTS.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(results, indent=1, ensure_ascii=False))
            os.replace(partial, RESULTS)

    def as_dict(self) -> dict:
        return {"scenario": self.scenario, "description": self.description,
                "setup": self.setup, "passed": not self.failures, "failures": self.failures,
                "notes": self.notes, "clients": CLIENTS, "at": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **self.numbers}

    def verify(self) -> None:
        self.record()
        if self.failures:
            raise AssertionError(f"{self.scenario}: " + "; ".join(self.failures) +
                                 (f" (logs: {self.logs})" if self.logs else ""))


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def run_scenario(system, scenario: str, description: str, fault: Fault | None,
                 count: int = CLIENTS, during: Callable[[], None] | None = None,
                 settle_timeout: float = SETTLE_TIMEOUT) -> Outcome:
    """Stream `count` creations through `system` (fault_system.System) with `fault` in the
    middle; return the counted Outcome (not yet verified, so a test can add checks)."""
    outcome = Outcome(scenario, description, system.setup, logs=str(system.stack.logs))
    PENDING.append(outcome)
    crashes_before = len(system.crashes)
    try:
        system.wait_ready(READY_TIMEOUT)
    except AssertionError as exc:
        outcome.failures.append(f"not started: {exc}")
        raise
    subscriber = Subscriber(system.amqp_uri, scenario).start()
    stream = Stream(system.stack.url, scenario, next(_scenario_numbers), count,
                    rate=fault.pace(count) if fault else RATE).start()
    times = Timeline()
    try:
        stream.wait_accepted(max(1, count // 4))
        if fault:
            times.injected = time.monotonic()
            fault.inject()
            times.active = time.monotonic()  # e.g. rabbitmqctl takes a second
            if during:
                during()
            time.sleep(max(0.0, fault.hold - (time.monotonic() - times.active)))
            times.clearing = time.monotonic()
            fault.clear()
        times.cleared = time.monotonic()
        if not stream.join(RECOVER_BUDGET + count / stream.rate):
            stream.stop()  # what is still retrying counts as never accepted
        counter = Counter(system.stack.url, subscriber)
        tallies, settled_at = counter.settle(stream.accepted, settle_timeout)
    except Exception as exc:
        outcome.failures.append(f"the scenario broke off: {exc!r}"[:500])
        raise
    finally:
        stream.stop()
        subscriber.close()
    _count(outcome, stream, subscriber, tallies, times, settled_at)
    crashes = system.crashes[crashes_before:]
    outcome.numbers["crashes"] = crashes
    outcome.check(not crashes, "processes exited on their own and were restarted by the "
                               "supervisor: " + ", ".join(crashes))
    return outcome


def _count(outcome: Outcome, stream: Stream, subscriber: Subscriber, tallies: dict,
           times: Timeline, settled_at: float | None) -> None:
    accepted = stream.accepted
    attempts = stream.attempts
    tally = [tallies.get(c.index) or Tally() for c in accepted]
    lost_created_event = sum(1 for t in tally if t.created_events == 0)
    lost_created_entry = sum(1 for t in tally if t.created_entries == 0)
    lost_final_entry = sum(1 for t in tally if t.final_entries == 0)
    lost_ares_event = sum(1 for t in tally if t.ares_events == 0)
    lost = sum(1 for t in tally if not t.settled)
    doubled = {
        "client.created events": sum(1 for t in tally if t.created_events > 1),
        "'Client created' entries": sum(1 for t in tally if t.created_entries > 1),
        "final ARES entries": sum(1 for t in tally if t.final_entries > 1),
        "'ARES unavailable' entries (one outage)": sum(1 for t in tally if t.retry_entries > 1),
        # per IČO: a second client with the IČO (counted below) legitimately adds one
        "ARES outcome event per client with its IČO": sum(
            1 for t in tally if t.ares_events > max(1, t.same_ico)),
        "clients with one IČO": sum(1 for t in tally if t.same_ico > 1),
    }
    lies = sum(1 for c, t in zip(accepted, tally) if c.declared_not_done and t.same_ico > 1)
    duplicated = sum(1 for t in tally if t.created_events > 1 or t.created_entries > 1 or
                     t.final_entries > 1 or t.ares_events > max(1, t.same_ico) or
                     t.same_ico > 1)
    subjects = {c.client_id for c in accepted}
    statuses: dict[str, int] = {}
    for attempt in attempts:
        statuses[str(attempt.status)] = statuses.get(str(attempt.status), 0) + 1
    # the requests that met the fault: in flight at some time between injecting and clearing
    in_fault = [a for a in attempts if times.injected is not None and
                a.started <= times.cleared and a.ended >= times.injected]
    fault_statuses: dict[str, int] = {}
    for attempt in in_fault:
        name = f"{attempt.status} {attempt.problem or ''}".strip()
        fault_statuses[name] = fault_statuses.get(name, 0) + 1
    improper = {}  # a fault must show as 503 "nothing was done" or 504 "outcome unknown"
    for attempt in attempts:
        if attempt.status == 201 or (attempt.status, attempt.problem) in (
                (503, NOTHING_DONE), (504, OUTCOME_UNKNOWN)):
            continue
        name = f"{attempt.status} {attempt.problem or ''}".strip()
        improper[name] = improper.get(name, 0) + 1
    latencies = sorted(a.latency for a in in_fault)
    # in flight while it was fully in effect (not while e.g. rabbitmqctl was still starting)
    in_effect = sorted(a.latency for a in attempts if times.active is not None and
                       a.started <= times.clearing and a.ended >= times.active)
    slowest = [f"{a.started - times.injected:+.2f}s took {a.latency:.2f}s: {a.status} "
               f"{a.problem or ''}".strip()
               for a in sorted(in_fault, key=lambda a: -a.latency)[:3]]
    recovered = [a.ended for a in attempts if a.status == 201 and times.injected is not None
                 and a.ended >= times.cleared and a.started >= times.injected]
    gave_up = [c for c in stream.creations if not c.client_id]
    zero = times.injected if times.injected is not None else stream.started
    odd = [(c, t) for c, t in zip(accepted, tally) if not t.settled or t.same_ico > 1 or
           t.created_events > 1 or t.created_entries > 1 or t.final_entries > 1 or
           t.ares_events > max(1, t.same_ico)]
    examples = [{"ico": c.ico, "client_id": c.client_id, "tally": vars(t), "attempts": [
        f"{a.started - zero:+.2f}s {a.status} {a.problem or ''} key {a.key[:8]}".strip()
        for a in c.attempts]} for c, t in odd[:3]]

    outcome.numbers.update({
        "sent": len(stream.creations), "requests": len(attempts), "accepted": len(accepted),
        "received": len(accepted) - lost_created_event, "lost": lost,
        "duplicated": duplicated, "redelivered": subscriber.redelivered("client.created",
                                                                          subjects),
        "untruthful_503": lies, "statuses": statuses,
        "ares_unavailable_clients": sum(1 for t in tally if t.retry_entries),
        "fault_seconds": _seconds(times.cleared - times.injected) if times.injected else None,
        "recover_seconds": _seconds(min(recovered) - times.cleared) if recovered else None,
        "settle_seconds": _seconds(settled_at - times.cleared) if settled_at else None,
        "rate": _seconds(stream.rate),
        "fault_requests": len(in_fault), "fault_statuses": fault_statuses,
        "examples": examples,  # of clients that failed a check, times from the fault
        "fault_p50_seconds": _seconds(_quantile(latencies, 0.5)),
        "fault_p95_seconds": _seconds(_quantile(latencies, 0.95)),
        "fault_max_seconds": _seconds(latencies[-1]) if latencies else None,
        "in_effect_requests": len(in_effect),
        "in_effect_p95_seconds": _seconds(_quantile(in_effect, 0.95)),
        "slowest_in_fault": slowest,
        "stream_seconds": _seconds(stream.finished - stream.started),
        "subscriber_reconnects": subscriber.reconnects,
        "subscriber_undecodable": subscriber.undecodable,  # e.g. the poison messages
        "broker_version": subscriber.server_version,
    })
    outcome.check(not gave_up, f"{len(gave_up)} of {len(stream.creations)} creations got no "
                               f"201 within {RECOVER_BUDGET:g} s after the fault was cleared "
                               f"(e.g. {gave_up[0].error if gave_up else ''})")
    outcome.check(lost_created_event == 0, f"{lost_created_event} accepted clients have no "
                                           f"client.created at the subscriber")
    outcome.check(lost_created_entry == 0, f"{lost_created_entry} have no 'Client created' "
                                           f"timeline entry")
    outcome.check(lost_final_entry == 0, f"{lost_final_entry} have no final ARES entry "
                                         f"({' / '.join(ARES_FINAL)})")
    outcome.check(lost_ares_event == 0, f"{lost_ares_event} have no ARES outcome event")
    for what, number in doubled.items():
        outcome.check(number == 0, f"{number} clients have more than one {what}")
    outcome.check(not improper, "answers that are neither 201 nor a 503 'nothing was done' "
                                "nor a 504 'outcome unknown' problem: " +
                  ", ".join(f"{n}× {k}" for k, v in improper.items() for n in [v]))
    outcome.check(lies == 0, f"{lies} answers of 503 'nothing was done' were untrue (the "
                             f"retry with a new key made a second client)")
    outcome.check(settled_at is not None, "not every client settled in time")
