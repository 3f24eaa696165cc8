"""The dispatcher: sends what the lookup queue owes to ARES, up to 100 IČOs a call.

It batches what is waiting and never waits to fill a batch: a single new client's lookup
goes out at the next tick (ARES_DISPATCH_SECONDS). Answers from the cache need no call.
The throttle (shared by the replicas) paces the calls, the circuit breaker stops them
while ARES is down; the lookups wait in the database meanwhile, and go out in full
batches when it is back.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

from crm_common.errors import OutcomeUnknown, ServiceUnavailable
from crm_common.events import utcnow

from . import lookups, metrics, schedule
from .client import UNAVAILABLE, is_valid_ico, normalize_ico
from .handlers import tell_breaker
from .lookups import Answer, Settings
from .queue import BATCH_LIMIT, LookupQueue

log = logging.getLogger(__name__)
UNRECORDED_KEPT = 20  # batches; older ones wait for their lease to run out


@dataclass
class Dispatcher:
    """One per process; `run` gets the worker's unit-of-work factory."""
    ares: object  # AresClient
    breaker: object  # CircuitBreaker
    settings: Settings
    _gauges_at: float = 0.0
    _schedule_at: float = 0.0
    # answers fetched whose recording failed (the database went away after the call): kept
    # to record at the next tick, instead of leaving their rows leased for minutes and
    # asking ARES again; recording is by claim, so a second try writes nothing twice
    _unrecorded: list = field(default_factory=list)

    def run(self, uow_factory, budget_seconds: float = 20.0) -> int:
        """Dispatch batches until nothing is due (or the budget is spent: the timer then
        comes back at once); returns how many lookups were answered or retried."""
        ends, total = time.monotonic() + budget_seconds, 0
        total += self._record_again(uow_factory)
        self._maintain(uow_factory)
        while time.monotonic() < ends:
            done = self.once(uow_factory)
            if not done:
                break
            total += done
        return total

    def once(self, uow_factory) -> int:
        now = utcnow()
        with uow_factory() as uow:
            queue = LookupQueue(uow.session)
            icos = queue.due_icos(now, BATCH_LIMIT)
            if not icos:
                return 0
            cached = lookups.cached_answers(uow.session, icos, now)
            for ico in queue.bypassing(icos):
                cached.pop(ico, None)
            to_fetch = [ico for ico in icos if ico not in cached]
            if to_fetch and not self.breaker.allow():
                to_fetch = []  # ARES is down: only what the cache can answer
            taking = to_fetch + list(cached)
            if not taking:
                return 0
            claimed = queue.claim(taking, now, self.settings.lease)
            uow.commit()
        if not claimed:
            return 0  # another replica was quicker
        mine = {p.ico for p in claimed}  # another replica may have claimed some IČOs
        answers = {ico: a for ico, a in cached.items() if ico in mine}
        answers.update(self._fetch(uow_factory, [ico for ico in to_fetch if ico in mine]))
        self._record(uow_factory, answers, claimed)
        return len(claimed)

    def _record(self, uow_factory, answers, claimed, until: float | None = None) -> None:
        try:
            with uow_factory() as uow:
                lookups.record(uow, self.settings, answers, claimed)
                uow.commit()
        except (ServiceUnavailable, OutcomeUnknown):
            # the database went away after the call: the lease would hold the rows for
            # minutes, so try again at the next tick while the lease lasts (a bug is not
            # kept: it would fail every tick; its rows wait for their lease to run out)
            until = until or time.monotonic() + self.settings.lease.total_seconds()
            self._unrecorded = (self._unrecorded + [(answers, claimed, until)])[-UNRECORDED_KEPT:]
            raise

    def _record_again(self, uow_factory) -> int:
        done, now = 0, time.monotonic()
        kept, self._unrecorded = self._unrecorded, []
        for number, (answers, claimed, until) in enumerate(kept):
            if now >= until:
                continue  # its lease ran out: the rows are anyone's again
            try:
                self._record(uow_factory, answers, claimed, until)
            except (ServiceUnavailable, OutcomeUnknown):
                self._unrecorded += kept[number + 1:]  # still away: all wait
                raise
            done += len(claimed)
        return done

    def _fetch(self, uow_factory, icos: list[str]) -> dict[str, Answer]:
        if not icos:
            return {}
        try:
            results, failed = self._ask(icos), False
        except Exception:  # a bug must not strand the claimed lookups: retry them later
            log.exception("ARES lookup of %d IČO failed", len(icos))
            results, failed = {}, True
        fetched_at = utcnow()
        answers = {}
        for ico in icos:
            result = results.get(normalize_ico(ico))
            answers[ico] = Answer(replace(result, ico=ico) if result else
                                  lookups.unavailable(ico, "no answer"), fetched_at)
        if not any(is_valid_ico(ico) for ico in icos):
            return answers  # nothing was sent: no news of ARES
        tell_breaker(uow_factory, self.breaker, answered=not failed and not any(
            r.status == UNAVAILABLE for r in results.values()))
        return answers

    def _ask(self, icos: list[str]) -> dict:
        results = self.ares.lookup_many(icos)
        if len(icos) > 1 and any(r.http_status == 400 for r in results.values()):
            # a refused search says nothing of each IČO: ask for them one by one
            results = {normalize_ico(ico): self.ares.lookup(ico) for ico in icos}
        return results

    def _maintain(self, uow_factory) -> None:
        """Now and then: queue the scheduled refreshes that came due, update the gauges."""
        clock = time.monotonic()
        if clock >= self._schedule_at:
            self._schedule_at = clock + 60
            with uow_factory() as uow:
                queued = schedule.queue_due(uow.session, utcnow(),
                                            self.settings.refresh_period)
                uow.commit()
            if queued:
                log.info("scheduled refresh: %d clients queued", queued)
        if clock >= self._gauges_at:
            self._gauges_at = clock + 5
            with uow_factory() as uow:
                metrics.QUEUE_DEPTH.set(LookupQueue(uow.session).depth())
            metrics.tick(self.breaker.state)
