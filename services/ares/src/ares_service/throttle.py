"""Client-side rate limit for ARES.

ARES has no 429 and no rate-limit headers; the ministry may simply block clients sending more
than 500 queries per minute. So we throttle ourselves with a token bucket, well below that
(300/min by default; with several replicas, divide the budget between them).
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class Throttle:
    def __init__(
        self,
        rate_per_minute: float = 300,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be > 0 and burst >= 1")
        self.rate = rate_per_minute / 60.0  # tokens per second
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; returns the seconds waited (0.0 if none).

        A caller that finds the bucket empty reserves its token (the balance goes negative) and
        sleeps outside the lock, so concurrent callers queue up fairly instead of racing.
        """
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    __call__ = acquire
