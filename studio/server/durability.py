"""Group commit, and the barrier that keeps unstored data off the wire.

Uploads are integrated into a realm's in-memory :class:`ServerHistory` at
once (the merge needs the latest state), but nothing that depends on them may
reach any client before they are on disk: not the uploader's
acknowledgement, not another client's download of them, not an ``ident``
handed out. So:

* every change to be stored bumps a sequence number (:meth:`Committer.note`),
  and what the realm collected is handed to the commit thread right away;
* every batch of outgoing frames is tagged with the sequence number current
  when it was produced, and a connection's sender waits until
  :attr:`Committer.durable` reaches that tag (:meth:`Committer.wait`);
* one commit thread stores everything handed over, all realms, one
  transaction per realm, then reports the highest sequence number it stored
  to the event loop. What is handed over while a commit runs goes into the
  next one, so the number of fsyncs per second stays bounded however many
  clients upload (group commit).

The commit thread never waits for the event loop: when a commit ends, the
next starts at once with whatever arrived meanwhile. (With the commits on a
thread pool and awaited by the loop, every commit also waited for the loop to
get round to it, and under load that wait, not the disk, set the pace.)

Tagging frames with the global sequence number is conservative (a frame may
wait for another realm's commit) but simple and always safe.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from studio.server.logs import log
from studio.server.metrics import Summary
from studio.server.storage.base import RealmWrite
from studio.sync import timeline

if TYPE_CHECKING:
    from studio.server.realms import LoadedRealm

Store = Callable[["LoadedRealm", RealmWrite], None]
"""Stores one realm's write durably (blocking; called on the commit thread)."""
FailureHandler = Callable[["LoadedRealm", BaseException], None]
StoredHandler = Callable[["LoadedRealm", bool], None]
"""Called on the loop when more of a realm's history is stored; the flag
says that nothing else is being committed (no other report can follow in the
same loop iteration)."""

DurableCallback = Callable[[], None]
"""Called on the loop once the sequence number it waits for is stored."""

_Handed = tuple[int, "LoadedRealm", RealmWrite]
_Failure = tuple["LoadedRealm", BaseException, int]
_Stored = tuple["LoadedRealm", int]


class Committer:
    def __init__(
        self,
        store: Store,
        on_failure: FailureHandler,
        timing: Summary,
        on_stored: StoredHandler | None = None,
    ) -> None:
        self.seq = 0
        """Sequence number of the latest in-memory change."""
        self.durable = 0
        """Every change up to this sequence number is stored."""
        self._store = store
        self._on_failure = on_failure
        self._on_stored = on_stored
        self._timing = timing
        self._waiters: list[tuple[int, int, DurableCallback]] = []
        self._counter = itertools.count()
        self._queue: queue.SimpleQueue[_Handed | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Realms whose write failed (kept alive so that their ids stay theirs).
        self._failed: dict[int, LoadedRealm] = {}

    def note(self, realm: LoadedRealm) -> int:
        """``realm`` has something new to store; returns its sequence number."""
        self.seq += 1
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._work, name="studio-commit", daemon=True)
            self._thread.start()
        realm.unstored_seq = self.seq
        self._queue.put((self.seq, realm, realm.take_write()))
        return self.seq

    def is_durable(self, seq: int) -> bool:
        return seq <= self.durable

    @property
    def idle(self) -> bool:
        """Everything noted is stored: nothing is being committed, so the
        next change noted is committed alone, at once."""
        return self.durable == self.seq

    def call_when_durable(self, seq: int, callback: DurableCallback) -> None:
        """Call ``callback`` (on the loop, synchronously, in the same step
        that makes ``seq`` durable) once everything up to ``seq`` is stored;
        at once if it is. A connection writes its waiting frames from there,
        without a task wake-up between the commit's report and the socket."""
        if seq <= self.durable:
            callback()
            return
        heapq.heappush(self._waiters, (seq, next(self._counter), callback))

    async def wait(self, seq: int) -> None:
        if seq <= self.durable:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        heapq.heappush(self._waiters, (seq, next(self._counter), wake))
        await future

    async def drain(self) -> None:
        """Wait until everything noted so far is stored (for shutdown)."""
        await self.wait(self.seq)

    def close(self) -> None:
        """Stop the commit thread once it has stored everything handed over."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    # ------------------------------------------------------------------ commit thread

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            handed = [first]
            stop = False
            while True:  # everything handed over meanwhile joins this commit
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                handed.append(item)
            timeline.mark("server.commit_start")
            started = time.perf_counter()
            stored, failures = self._commit(handed)
            elapsed = time.perf_counter() - started
            timeline.mark("server.fsynced")
            self._report(handed[-1][0], stored, failures, elapsed)
            if stop:
                return

    def _commit(self, handed: list[_Handed]) -> tuple[list[_Stored], list[_Failure]]:
        """Store what was handed over; returns the realms stored (each with
        the last server version now stored, 0 if none) and the failures."""
        # One write per loaded realm (by identity: a realm reloaded after a
        # failure is another object, with its own history).
        writes: dict[int, tuple[LoadedRealm, RealmWrite]] = {}
        for _, realm, write in handed:
            pending = writes.get(id(realm))
            if pending is None:
                writes[id(realm)] = (realm, write)
            else:
                _merge_into(pending[1], write)
        stored: list[_Stored] = []
        failures: list[_Failure] = []
        for key, (realm, write) in writes.items():
            if key in self._failed:
                # After a failed write nothing more of that realm is stored:
                # it would follow a gap. Its sessions were ended on the loop.
                continue
            if write:
                try:
                    self._store(realm, write)
                except BaseException as exc:  # reported on the loop; the thread goes on
                    self._failed[key] = realm
                    failures.append((realm, exc, len(write.entries)))
                    continue
            stored.append((realm, write.entries[-1].entry.server_version if write.entries else 0))
        return stored, failures

    def _report(
        self,
        target: int,
        realms: list[_Stored],
        failures: list[_Failure],
        elapsed: float,
    ) -> None:
        loop = self._loop
        assert loop is not None
        try:
            loop.call_soon_threadsafe(self._stored, target, realms, failures, elapsed)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    # ------------------------------------------------------------------ on the loop

    def _stored(
        self,
        target: int,
        realms: list[_Stored],
        failures: list[_Failure],
        elapsed: float,
    ) -> None:
        timeline.mark("server.stored_on_loop")
        self._timing.observe(elapsed)
        settled = target == self.seq
        for realm, version in realms:
            realm.stored_seq = max(realm.stored_seq, target)
            if version > realm.durable_version:
                realm.durable_version = version
                if self._on_stored is not None:
                    self._on_stored(realm, settled)
        for realm, exc, changesets in failures:
            log(40, "commit_failed", realm=realm.path, error=str(exc), changesets=changesets)
            # Before ``durable`` moves: the frames that depend on this write
            # must be discarded, not sent.
            self._on_failure(realm, exc)
        self.durable = max(self.durable, target)
        while self._waiters and self._waiters[0][0] <= self.durable:
            _, _, callback = heapq.heappop(self._waiters)
            try:
                callback()
            except Exception as exc:  # one connection's failure is not everyone's
                log(40, "durable_callback_failed", error=f"{type(exc).__name__}: {exc}")


def _merge_into(write: RealmWrite, later: RealmWrite) -> None:
    write.entries.extend(later.entries)
    write.new_idents.extend(later.new_idents)
    for ident, progress in later.progress.items():
        write.progress[ident] = max(progress, write.progress.get(ident, 0))
