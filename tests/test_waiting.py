"""wait_event: a cancellation that arrives as the event is set still cancels."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from studio.primitives.waiting import wait_event


async def loop_until_cancelled(wait: Callable[[asyncio.Event], Awaitable[object]],
                               event: asyncio.Event, rounds: list[int]) -> None:
    while True:  # as the adapter's capture loop and the dequeuer do
        await wait(event)
        event.clear()
        rounds.append(1)


async def cancel_as_the_event_is_set(wait: Callable[[asyncio.Event], Awaitable[object]]) -> bool:
    """True if the waiting loop stopped on the cancellation."""
    event = asyncio.Event()
    rounds: list[int] = []
    task = asyncio.create_task(loop_until_cancelled(wait, event, rounds))
    await asyncio.sleep(0)  # the task is waiting now
    for _ in range(3):
        await asyncio.sleep(0)
    event.set()  # the inner wait completes ...
    await asyncio.sleep(0)
    task.cancel()  # ... and the cancellation arrives in the same step
    done, _ = await asyncio.wait({task}, timeout=1.0)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
        return False
    return task.cancelled()


def test_a_cancellation_as_the_event_is_set_stops_the_waiting_loop() -> None:
    assert asyncio.run(cancel_as_the_event_is_set(lambda e: wait_event(e, 10)))


def test_wait_event_says_whether_the_event_was_set() -> None:
    async def main() -> tuple[bool, bool]:
        event = asyncio.Event()
        timed_out = await wait_event(event, 0.01)
        asyncio.get_running_loop().call_later(0.01, event.set)
        return timed_out, await wait_event(event, 10)

    assert asyncio.run(main()) == (False, True)


@pytest.mark.parametrize("timeout", [0.0, 0.001])
def test_a_zero_or_tiny_timeout_returns(timeout: float) -> None:
    assert asyncio.run(wait_event(asyncio.Event(), timeout)) is False
