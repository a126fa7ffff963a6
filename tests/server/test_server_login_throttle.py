"""The login throttle on its own (no server; a fake clock)."""

from __future__ import annotations

import pytest

from studio.server.login_throttle import LoginThrottle


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_failures_beyond_the_free_ones_double_the_wait() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free_failures=3, first_delay=1.0, max_delay=8.0, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("ann", "1.2.3.4") == 0
        throttle.failed("ann", "1.2.3.4")
    assert throttle.retry_after("ann", "1.2.3.4") == 1.0
    clock.now += 0.4
    assert throttle.retry_after("ann", "1.2.3.4") == pytest.approx(0.6)
    waits = []
    for _ in range(5):
        clock.now += 100
        throttle.failed("ann", "1.2.3.4")
        waits.append(throttle.retry_after("ann", "1.2.3.4"))
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0]  # capped at max_delay


def test_the_owner_from_another_address_is_not_locked_out() -> None:
    """Failing admin's logins from one address does not lock admin out anywhere else."""
    throttle = LoginThrottle(free_failures=3, address_free_failures=100, clock=FakeClock())
    for _ in range(50):
        throttle.failed("admin", "6.6.6.6")
    assert throttle.retry_after("admin", "6.6.6.6") > 0
    assert throttle.retry_after("admin", "10.0.0.1") == 0
    # One name from many addresses is not slowed down per name at all.
    for n in range(50):
        throttle.failed("ann", f"10.1.0.{n}")
    assert throttle.retry_after("ann", "10.2.0.1") == 0


def test_one_address_cannot_try_many_names() -> None:
    throttle = LoginThrottle(free_failures=3, address_free_failures=5, clock=FakeClock())
    for n in range(5):
        throttle.failed(f"user{n}", "9.9.9.9")  # one failure per name: no pair is locked
    assert throttle.retry_after("someone-else", "9.9.9.9") == 1.0
    assert throttle.retry_after("someone-else", "8.8.8.8") == 0


def test_a_success_clears_only_its_own_name_and_address() -> None:
    throttle = LoginThrottle(free_failures=2, address_free_failures=4, clock=FakeClock())
    for name in ("ann", "ann", "bob", "bob"):
        throttle.failed(name, "1.1.1.1")
    assert throttle.retry_after("ann", "1.1.1.1") > 0
    throttle.succeeded("ann", "1.1.1.1")
    # Still the address-wide count: a valid account must not reset the limit
    # that protects the others.
    assert throttle.retry_after("bob", "1.1.1.1") > 0
    assert throttle.retry_after("carl", "1.1.1.1") > 0
    # The address count (4) outlives ann's success; ann's own count is gone.
    throttle.address_free_failures = 100
    assert throttle.retry_after("ann", "1.1.1.1") == 0
    assert throttle.retry_after("bob", "1.1.1.1") > 0


def test_time_forgets() -> None:
    clock = FakeClock(0.0)
    throttle = LoginThrottle(free_failures=1, forget_after=60.0, clock=clock)
    throttle.failed("ann", "a")
    assert throttle.retry_after("ann", "a") == 1.0
    clock.now = 59.0
    assert throttle.retry_after("ann", "a") == 0  # the 1 s wait is long over
    clock.now = 61.0
    throttle.failed("ann", "a")  # forgotten: the count starts again
    assert throttle.retry_after("ann", "a") == 1.0


def test_memory_is_bounded_and_the_oldest_go_first() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free_failures=1, max_tracked=100, clock=clock)
    throttle.failed("early", "e")
    for n in range(1000):
        clock.now += 0.001
        throttle.failed(f"user{n}", f"addr{n}")
    assert throttle.tracked == 100
    assert throttle.retry_after("early", "e") == 0  # evicted
    assert throttle.retry_after("user999", "addr999") > 0
