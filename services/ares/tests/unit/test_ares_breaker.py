"""The circuit breaker with an injected clock."""
from ares_service.breaker import CircuitBreaker


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_opens_after_failures_in_a_row_then_probes_once_and_closes():
    clock, changes = Clock(), []
    breaker = CircuitBreaker(failures=3, cooldown=10, clock=clock, on_change=changes.append)
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # a success in between: the count starts again
    breaker.failed()
    breaker.failed()
    assert breaker.allow() and breaker.state == "closed"
    breaker.failed()
    assert breaker.state == "open" and not breaker.allow() and changes == ["open"]
    clock.now = 10
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    assert breaker.succeeded() is True and breaker.state == "closed"
    assert changes == ["open", "closed"] and breaker.succeeded() is False


def test_a_failed_probe_starts_another_pause_and_a_lost_probe_expires():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=5, clock=clock)
    breaker.failed()
    clock.now = 5
    assert breaker.allow()
    breaker.failed()
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 10
    assert breaker.allow()  # a probe that never reports ...
    clock.now = 15
    assert breaker.allow()  # ... does not keep the breaker half open forever
