"""The login throttle on its own (no server, the clock passed in)."""

from __future__ import annotations

import pytest

from studio.server.login_throttle import LoginThrottle


def test_failures_beyond_the_free_ones_double_the_wait() -> None:
    throttle = LoginThrottle(free_failures=3, first_delay=1.0, max_delay=8.0)
    now = 100.0
    for _ in range(3):
        assert throttle.retry_after("ann", "1.2.3.4", now) == 0
        throttle.failed("ann", "1.2.3.4", now)
    assert throttle.retry_after("ann", "1.2.3.4", now) == 1.0
    assert throttle.retry_after("ann", "1.2.3.4", now + 0.4) == pytest.approx(0.6)
    waits = []
    for _ in range(5):
        now += 100
        throttle.failed("ann", "1.2.3.4", now)
        waits.append(throttle.retry_after("ann", "1.2.3.4", now))
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0]  # capped at max_delay


def test_names_and_addresses_are_counted_apart() -> None:
    throttle = LoginThrottle(free_failures=2)
    for n in range(2):
        throttle.failed("ann", f"10.0.0.{n}", 0.0)  # one name from many addresses
    assert throttle.retry_after("ann", "10.0.0.99", 0.0) > 0
    assert throttle.retry_after("bob", "10.0.0.0", 0.0) == 0
    for name in ("x", "y"):
        throttle.failed(name, "9.9.9.9", 0.0)  # many names from one address
    assert throttle.retry_after("z", "9.9.9.9", 0.0) > 0
    assert throttle.retry_after("z", "8.8.8.8", 0.0) == 0


def test_success_clears_and_time_forgets() -> None:
    throttle = LoginThrottle(free_failures=1, forget_after=60.0)
    throttle.failed("ann", "a", 0.0)
    assert throttle.retry_after("ann", "a", 0.0) > 0
    throttle.succeeded("ann", "a")
    assert throttle.retry_after("ann", "a", 0.0) == 0
    throttle.failed("ann", "a", 0.0)
    assert throttle.retry_after("ann", "a", 59.0) == 0  # 1 s wait long over
    assert throttle.retry_after("ann", "a", 60.0) == 0
    throttle.failed("ann", "a", 61.0)  # forgotten: the count starts again
    assert throttle.retry_after("ann", "a", 61.0) == 1.0


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_tracked=100)
    for n in range(1000):
        throttle.failed(f"user{n}", f"addr{n}", 0.0)
    assert len(throttle._failures) == 100
