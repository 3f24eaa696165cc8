"""Token bucket with an injected clock: no real sleeping, no wall-clock assertions; and
the bucket shared by replicas through the database, whose limit is checked on real time
(what it promises is a rate)."""
import threading
import time

import pytest

from ares_service.throttle import Throttle


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []
        self._lock = threading.Lock()

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def make(rate=60, burst=3):
    clock = FakeClock()
    return Throttle(rate_per_minute=rate, burst=burst, clock=clock, sleep=clock.sleep), clock


def test_burst_passes_without_sleeping():
    throttle, clock = make(burst=3)
    assert [throttle.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert clock.sleeps == []


def test_waits_for_next_token_after_burst():
    throttle, clock = make(rate=60, burst=3)  # one token per second
    for _ in range(3):
        throttle.acquire()
    assert throttle.acquire() == pytest.approx(1.0)
    assert clock.sleeps == [pytest.approx(1.0)]


def test_steady_rate_matches_configuration():
    throttle, clock = make(rate=300, burst=10)  # 5 per second
    start = clock.now
    for _ in range(10 + 300):
        throttle.acquire()
    # After the burst, 300 more tokens take 60 s of (fake) time.
    assert clock.now - start == pytest.approx(60.0)


def test_tokens_refill_while_idle_up_to_burst():
    throttle, clock = make(rate=60, burst=3)
    for _ in range(3):
        throttle.acquire()
    clock.now += 100  # long idle: refills to burst, not to 100
    assert [throttle.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.acquire() == pytest.approx(1.0)


def test_concurrent_callers_each_reserve_their_own_slot():
    # The sleep does not advance the clock here, so every waiter's wait reflects its queue position.
    clock = FakeClock()
    waits = []
    throttle = Throttle(rate_per_minute=60, burst=1, clock=clock, sleep=waits.append)
    threads = [threading.Thread(target=throttle.acquire) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_callable_and_validation():
    throttle, clock = make(burst=1)
    throttle()
    throttle()
    assert clock.sleeps == [pytest.approx(1.0)]
    with pytest.raises(ValueError):
        Throttle(rate_per_minute=0)
    with pytest.raises(ValueError):
        Throttle(burst=0)


def test_two_replicas_share_one_budget(make_postgres_db):
    """Two processes' throttles on one database (two engines, two threads) together stay
    under the limit: 10 a second with a burst of 2."""
    import threading

    from ares_service.orm import metadata
    from ares_service.throttle import SharedThrottle
    from crm_common.db import make_engine

    url = make_postgres_db("throttle")
    engines = [make_engine(url) for _ in range(2)]
    metadata.create_all(engines[0])
    taken, lock = [], threading.Lock()

    def replica(engine):
        throttle = SharedThrottle(engine, rate_per_minute=600, burst=2)
        for _ in range(20):
            throttle.acquire()
            with lock:
                taken.append(time.time())

    threads = [threading.Thread(target=replica, args=(e,)) for e in engines]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 40
    assert time.time() - started >= (40 - 2) / 10 - 0.3
    taken.sort()
    for i, moment in enumerate(taken):  # no second holds more than rate + burst
        assert sum(1 for t in taken[i:] if t < moment + 1.0) <= 10 + 2
