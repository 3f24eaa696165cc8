"""Checks that are costly to repeat (the broker, every service's health) answered from a
short cache, with one check at a time: 40 concurrent probes cost one check, not 40."""
import threading
import time

from flask import current_app


class CachedCheck:
    def __init__(self, ttl: float, clock=time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._result = None
        self._checked_at: float | None = None

    def _fresh(self):
        if self._checked_at is not None and self._clock() - self._checked_at < self.ttl:
            return True, self._result
        return False, None

    def get(self, check):
        """`check()`'s result, at most `ttl` seconds old; callers arriving while a check
        runs wait for it and share its result."""
        fresh, result = self._fresh()
        if fresh:
            return result
        with self._lock:
            fresh, result = self._fresh()  # someone else checked while we waited
            if fresh:
                return result
            result = check()
            self._result, self._checked_at = result, self._clock()
            return result


def cached_check(name: str, ttl: float) -> CachedCheck:
    """The app's CachedCheck called `name` (one per app, so test apps do not share)."""
    checks = current_app.extensions.setdefault("crm_cached_checks", {})
    return checks.setdefault(name, CachedCheck(ttl))
