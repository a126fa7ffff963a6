"""The App's connection task ends when it is cancelled, even when something
below it swallows the cancellation (a library, Python 3.11's ``wait_for``
race): otherwise ``asyncio.run(main())`` waits for it forever."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from studio.sync.client import SyncConfig
from studio.sync.client.connection import AppConnection
from studio.sync.client.servers import ServerList


def test_connection_task_ends_when_a_cancellation_is_swallowed_below(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[int] = []

    async def swallowing_connect(self: AppConnection, url: str) -> None:
        attempts.append(1)
        with contextlib.suppress(asyncio.CancelledError):  # what the loop must survive
            await asyncio.sleep(10)

    monkeypatch.setattr(AppConnection, "_connect_and_serve", swallowing_connect)
    monkeypatch.setattr(AppConnection, "_active", lambda self: [object()])

    async def main() -> None:
        # Long backoff: before the fix the task sat in it, then tried again.
        config = SyncConfig(reconnect_initial=20, reconnect_max=30, watch_files=False)
        conn = AppConnection(ServerList("http://127.0.0.1:9"), config)
        task = asyncio.get_running_loop().create_task(conn._run())
        await asyncio.sleep(0.05)
        assert attempts == [1]
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        assert task in done, "the connection task did not end"
        assert task.cancelled()
        assert attempts == [1]

    asyncio.run(main())


def test_backoff_wait_ends_at_once_when_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refused(self: AppConnection, url: str) -> None:
        return  # as when the server is gone: back off and try again

    monkeypatch.setattr(AppConnection, "_connect_and_serve", refused)
    monkeypatch.setattr(AppConnection, "_active", lambda self: [object()])

    async def main() -> None:
        config = SyncConfig(reconnect_initial=20, reconnect_max=30, watch_files=False)
        conn = AppConnection(ServerList("http://127.0.0.1:9"), config)
        task = asyncio.get_running_loop().create_task(conn._run())
        await asyncio.sleep(0.05)  # now in the backoff wait
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2)
        assert task in done and task.cancelled()

    asyncio.run(main())
