"""Waiting for an asyncio event with a timeout, without losing a cancellation.

``asyncio.wait_for(event.wait(), timeout)`` in Python 3.11 returns normally
when the event is set at the moment the waiting task is cancelled: the
cancellation is swallowed, and a loop that waits this way never stops (the
PostgreSQL adapter's capture loop hung a shutdown so, found by its
benchmark). ``asyncio.timeout`` lets an outside cancellation through.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds have passed; True if it was set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
