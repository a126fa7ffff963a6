"""Notice commits by other processes and call ``realm.refresh()`` for them.

SQLite has no change callbacks across processes, so the watcher polls cheap file
facts (size and modification time of the file and its WAL) and refreshes only
when they moved. ``poll()`` is for any event loop (the Studio calls it from a Qt
timer); ``start()`` runs it as an asyncio task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.core.realm import Realm


class RealmWatcher:
    def __init__(self, realm: Realm, interval: float = 0.1) -> None:
        self._realm = realm
        self.interval = interval
        self._last = self._fingerprint()
        self._task: asyncio.Task[None] | None = None

    def _fingerprint(self) -> tuple[int, ...]:
        facts: list[int] = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(self._realm.path + suffix)
            except OSError:
                facts.extend((0, 0))
            else:
                facts.extend((st.st_size, st.st_mtime_ns))
        return tuple(facts)

    def poll(self) -> bool:
        """Refresh the realm if its file changed since the last poll; True if it did."""
        if self._realm.is_closed or self._realm.is_in_transaction:
            return False
        now = self._fingerprint()
        if now == self._last:
            return False
        self._last = now
        return self._realm.refresh()

    async def run(self) -> None:
        while not self._realm.is_closed:
            self.poll()
            await asyncio.sleep(self.interval)

    def start(self) -> asyncio.Task[None]:
        """Run in the current asyncio loop until :meth:`stop` or the realm closes."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())
        return self._task

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def watch(realm: Realm, interval: float = 0.1) -> RealmWatcher:
    """Start watching ``realm`` in the running asyncio loop; returns the watcher."""
    watcher = RealmWatcher(realm, interval)
    watcher.start()
    return watcher
