"""Client-side rate limit for ARES.

ARES has no 429 and no rate-limit headers; the ministry may simply block clients sending more
than 500 queries per minute. So we throttle ourselves with a token bucket, well below that
(300/min by default): `SharedThrottle` keeps it in the database, one budget for every
replica; `Throttle` is the same bucket in one process's memory.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from crm_common.uow import dialect_insert

from .orm import throttle_buckets as buckets

log = logging.getLogger(__name__)


def take_token(tokens: float, elapsed: float, rate: float, burst: int) -> tuple[float, float]:
    """The bucket refilled by `elapsed` seconds at `rate` tokens a second (at most `burst`)
    and one token taken: (the balance, the seconds to wait for the token). An empty
    bucket lends the token (the balance goes negative), so callers queue up fairly."""
    balance = min(float(burst), tokens + elapsed * rate) - 1
    return balance, (-balance / rate if balance < 0 else 0.0)


def _rate(rate_per_minute: float, burst: int) -> float:
    if rate_per_minute <= 0 or burst < 1:
        raise ValueError("rate_per_minute must be > 0 and burst >= 1")
    return rate_per_minute / 60.0  # tokens per second


class Throttle:
    def __init__(
        self,
        rate_per_minute: float = 300,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate = _rate(rate_per_minute, burst)
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
            self._tokens, wait = take_token(self._tokens, now - self._last, self.rate,
                                            self.burst)
            self._last = now
        if wait > 0:
            self._sleep(wait)
        return wait

    __call__ = acquire


class SharedThrottle:
    """The same token bucket, kept in the service's database so that every replica draws
    from one budget (ARES_RATE_PER_MINUTE is the limit of the whole deployment).

    One row, read FOR UPDATE, refilled by the time passed and taken from, in a transaction
    of its own: replicas queue on the row lock. Wall-clock time, since the replicas do not
    share a monotonic clock. A lock in the process keeps its own workers in line too (the
    row lock does that on PostgreSQL, SQLite has only one process).
    """

    def __init__(self, engine, rate_per_minute: float = 300, burst: int = 10,
                 name: str = "ares", clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate, self.burst = _rate(rate_per_minute, burst), burst
        # an engine, or a function giving it (the service's, made after this)
        self._engine = engine if callable(engine) else (lambda: engine)
        self.name = name
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def acquire(self) -> float:
        try:
            wait = self._take()
        except SQLAlchemyError as exc:  # the database is unwell: pace by the rate alone
            log.warning("shared ARES throttle unavailable (%s); waiting one interval",
                        type(exc).__name__)
            wait = 1 / self.rate
        if wait > 0:
            self._sleep(wait)
        return wait

    def _take(self) -> float:
        bucket = select(buckets).where(buckets.c.name == self.name).with_for_update()
        with self._lock, self._engine().begin() as connection:
            now = self._clock()
            row = connection.execute(bucket).first()
            if row is None:  # the first call of all: a full bucket
                connection.execute(dialect_insert(connection, buckets).on_conflict_do_nothing(),
                                   {"name": self.name, "tokens": float(self.burst),
                                    "stamp": now})
                row = connection.execute(bucket).first()
            tokens, wait = take_token(row.tokens, max(now - row.stamp, 0.0), self.rate,
                                      self.burst)
            connection.execute(update(buckets).where(buckets.c.name == self.name)
                               .values(tokens=tokens, stamp=max(now, row.stamp)))
        return wait

    __call__ = acquire
