"""Group commit, and the barrier that keeps unstored data off the wire.

Uploads are integrated into a realm's in-memory :class:`ServerHistory` at
once (the merge needs the latest state), but nothing that depends on them may
reach any client before they are on disk: not the uploader's
acknowledgement, not another client's download of them, not an ``ident``
handed out. So:

* every change to be stored bumps a sequence number (:meth:`Committer.note`);
* every batch of outgoing frames is tagged with the sequence number current
  when it was produced, and a connection's sender waits until
  :attr:`Committer.durable` reaches that tag (:meth:`Committer.wait`);
* one commit task stores everything pending, all realms at once, then moves
  ``durable`` forward. Uploads that arrive while a commit runs go into the
  next one, so the number of fsyncs per second stays bounded however many
  clients upload (group commit).

Tagging frames with the global sequence number is conservative (a frame may
wait for another realm's commit) but simple and always safe.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from studio.server.logs import log
from studio.server.metrics import Summary
from studio.server.storage.base import RealmWrite

if TYPE_CHECKING:
    from studio.server.realms import LoadedRealm

Append = Callable[["LoadedRealm", RealmWrite], Awaitable[None]]
FailureHandler = Callable[["LoadedRealm", BaseException], None]


class Committer:
    def __init__(self, append: Append, on_failure: FailureHandler, timing: Summary) -> None:
        self.seq = 0
        """Sequence number of the latest in-memory change."""
        self.durable = 0
        """Every change up to this sequence number is stored."""
        self._append = append
        self._on_failure = on_failure
        self._timing = timing
        self._dirty: dict[str, LoadedRealm] = {}
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()
        self._task: asyncio.Task[None] | None = None

    def note(self, realm: LoadedRealm) -> int:
        """``realm`` has something new to store; returns its sequence number."""
        self.seq += 1
        self._dirty[realm.path] = realm
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="commit")
        return self.seq

    def is_durable(self, seq: int) -> bool:
        return seq <= self.durable

    async def wait(self, seq: int) -> None:
        if seq <= self.durable:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (seq, next(self._counter), future))
        await future

    async def drain(self) -> None:
        """Wait until everything noted so far is stored (for shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while self._dirty:
            target = self.seq
            dirty, self._dirty = self._dirty, {}
            writes = [(realm, realm.take_write()) for realm in dirty.values()]
            started = time.perf_counter()
            results = await asyncio.gather(
                *(self._append(realm, write) for realm, write in writes), return_exceptions=True
            )
            self._timing.observe(time.perf_counter() - started)
            for (realm, write), result in zip(writes, results, strict=True):
                if isinstance(result, BaseException):
                    log(
                        40,
                        "commit_failed",
                        realm=realm.path,
                        error=str(result),
                        changesets=len(write.entries),
                    )
                    # Before ``durable`` moves: the frames that depend on this
                    # write must be discarded, not sent.
                    self._on_failure(realm, result)
            self.durable = target
            while self._waiters and self._waiters[0][0] <= self.durable:
                _, _, future = heapq.heappop(self._waiters)
                if not future.done():
                    future.set_result(None)
