"""A circuit breaker in front of ARES: after a few calls in a row that ARES did not
answer (timeouts, refused connections, 5xx), stop calling for a while. The lookups wait
in the database meanwhile; after the pause one call probes, and its success closes the
breaker (the dispatcher then sends the whole backlog at the throttle's rate).

One per process: each replica finds out for itself, with a few calls at most.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"


class CircuitBreaker:
    def __init__(self, failures: int = 3, cooldown: float = 15.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str], None] | None = None):
        if failures < 1 or cooldown <= 0:
            raise ValueError("failures must be >= 1 and cooldown > 0")
        self.failures, self.cooldown = failures, cooldown
        self._clock, self._on_change = clock, on_change
        self._lock = threading.Lock()
        self._failed = 0
        self._opened_at: float | None = None
        self._probe_at: float | None = None  # a probe that never reported expires

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if self._clock() - self._opened_at >= self.cooldown:
            return HALF_OPEN
        return OPEN

    def allow(self) -> bool:
        """May a call go out now? Half open lets one probe through at a time."""
        with self._lock:
            state = self.state
            if state == CLOSED:
                return True
            now = self._clock()
            if state == HALF_OPEN and (self._probe_at is None
                                       or now - self._probe_at >= self.cooldown):
                self._probe_at = now
                return True
            return False

    def succeeded(self) -> bool:
        """ARES answered; returns True when this closed an open breaker."""
        with self._lock:
            reopened = self._opened_at is not None
            self._failed, self._opened_at, self._probe_at = 0, None, None
        if reopened:
            self._changed(CLOSED)
        return reopened

    def failed(self) -> None:
        with self._lock:
            self._failed += 1
            was_open = self._opened_at is not None
            opens = was_open or self._failed >= self.failures
            if opens:  # a failed probe starts another pause
                self._opened_at, self._probe_at = self._clock(), None
        if opens:
            self._changed(OPEN)

    def _changed(self, state: str) -> None:
        if self._on_change is not None:
            self._on_change(state)
