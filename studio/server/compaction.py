"""History compaction on the server: when, how far, and without stopping sync.

How far (:func:`compaction_target`): up to the lowest progress of the clients
that hold it back, and never past what is stored (``durable_version``) nor
past what the realm's state file has applied (its state is read off the
stored history after its cursor, which must not land inside a snapshot). A
client holds compaction back unless ``--history-retention`` is set and it
was not heard of within it: its progress (what it last said it integrated)
lacks a version integrated longer ago than the retention, and it is not bound
now. Such a client gets ``client_file_expired`` when it returns and resets.

How (:meth:`Compactor.compact`), per realm, one compaction at a time:

1. on the event loop, the compacted entries are copied
   (ServerHistory.compaction_source, references only);
2. on a worker thread, they are squashed into the snapshot
   (studio.sync.history.plan_compaction, pure);
3. on a worker thread, the storage replaces the stored history up to the
   floor by the snapshot in one transaction (RealmStorage.compact);
4. on the loop, the in-memory history does the same (apply_compaction).

Uploads go on being integrated and stored during 2 and 3: they only append
versions after the floor, which nothing here touches, and the in-memory
history keeps serving every client from the uncompacted entries until 4.
A failure in 2 or 3 changes nothing anywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from studio.server.logs import log
from studio.sync.history import Compaction, CompactionSource, ServerHistory, plan_compaction

if TYPE_CHECKING:
    from studio.server.context import ServerContext
    from studio.server.realms import LoadedRealm


@dataclass(frozen=True, slots=True)
class CompactionResult:
    """What ``POST /admin/realms/{realm}/compact`` answers and the
    ``realm_compacted`` admin event carries."""

    realm: str
    compacted: bool
    """False: nothing could be compacted (see ``reason``)."""
    base_version: int
    """The floor after it: versions up to here are the snapshot."""
    versions_before: int
    """Stored history rows before (a snapshot's changesets count one each)."""
    versions_after: int
    bytes_before: int
    """Changeset bytes of the stored history before."""
    bytes_after: int
    seconds: float
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def compaction_target(
    history: ServerHistory,
    *,
    stored: int,
    state: int,
    bound: Iterable[int],
    retention_ms: int | None,
    now_ms: int,
) -> int:
    """The highest version a compaction may squash now (see the module docstring).

    ``stored``: the history is stored up to here; ``state``: the state file
    has applied it up to here; ``bound``: the client file idents with a
    session bound now."""
    bound_now = set(bound)
    cutoff = None if retention_ms is None else now_ms - retention_ms
    target = min(stored, state, history.latest_version)
    for ident in history.client_idents():
        progress = history.client_progress(ident)
        if progress >= target:
            continue
        if cutoff is not None and ident not in bound_now:
            if progress < history.base_version:
                continue  # expired already
            if history.entry(progress + 1).integrated_at_ms < cutoff:
                continue  # silent for longer than the retention
        target = progress
    return target


class Compactor:
    """Runs compactions for a server (``ctx.compactor``)."""

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._locks: dict[str, asyncio.Lock] = {}

    async def compact(self, path: str, *, min_versions: int = 1) -> CompactionResult:
        """Compact the realm at ``path`` (registered) as far as it may go now,
        if at least ``min_versions`` versions can go. Raises
        ``studio.sync.errors.CompactionError`` when its history does not
        squash and StorageError when storing fails (nothing changed then)."""
        # One lock per realm ever compacted (kept: a few bytes each).
        async with self._locks.setdefault(path, asyncio.Lock()):
            ctx = self._ctx
            realm = await ctx.hub.acquire(path)
            try:
                return await self._compact(realm, min_versions)
            finally:
                ctx.hub.release(realm)

    async def _compact(self, realm: LoadedRealm, min_versions: int) -> CompactionResult:
        ctx = self._ctx
        started = time.perf_counter()
        history = realm.history
        stats = await ctx.run(realm.store.stats)
        retention = ctx.config.history_retention
        target = compaction_target(
            history,
            stored=realm.durable_version,
            state=stats.state_version,
            bound=self._bound_idents(realm),
            retention_ms=None if retention is None else int(retention * 1000),
            now_ms=int(time.time() * 1000),
        )
        if target - history.base_version < max(1, min_versions):
            # The figures are for the admin who asked (a background round
            # skips the scan of the stored history).
            versions, size = (
                await ctx.run(realm.store.history_size) if min_versions <= 1 else (0, 0)
            )
            return CompactionResult(
                realm.path,
                False,
                history.base_version,
                versions,
                versions,
                size,
                size,
                round(time.perf_counter() - started, 3),
                _why_not(history, target, stats.state_version, realm.durable_version),
            )
        realm.current_schema()  # caught up before the entries it scans go
        source = history.compaction_source(target)
        assert source is not None
        compaction = await ctx.run(_plan, source)
        figures = await ctx.run(realm.store.compact, compaction)
        if history.base_version == compaction.previous_base:
            history.apply_compaction(compaction)
            realm.encoded.forget_through(compaction.base_version)
        # Sessions behind the new floor (not bootstrapping from it) end with
        # client_file_expired on their next download: now.
        for conn, session in realm.bound():
            conn.push_downloads(session)
        result = CompactionResult(
            realm.path,
            True,
            compaction.base_version,
            figures.versions_before,
            figures.versions_after,
            figures.bytes_before,
            figures.bytes_after,
            round(time.perf_counter() - started, 3),
        )
        log(20, "realm_compacted", **result.as_json())
        ctx.bus.publish("realm_compacted", **result.as_json())
        return result

    @staticmethod
    def _bound_idents(realm: LoadedRealm) -> list[int]:
        idents = []
        for conn, session in realm.bound():
            bound = conn.sessions.get(session)
            if bound is not None:
                idents.append(bound.client_file_ident)
        return idents

    async def run_periodically(self) -> None:
        """Compact the loaded realms every ``--compaction-interval`` (a task
        of the server; failures are logged and the next round tries again)."""
        ctx = self._ctx
        interval = ctx.config.compaction_interval
        if interval <= 0:
            return
        least = ctx.config.compaction_min_versions
        while True:
            await asyncio.sleep(interval)
            for realm in ctx.hub.loaded():
                try:
                    await self.compact(realm.path, min_versions=least)
                except Exception as exc:  # keep the task alive; the next round retries
                    error = f"{type(exc).__name__}: {exc}"
                    log(40, "compaction_failed", realm=realm.path, error=error)


def _plan(source: CompactionSource) -> Compaction:
    return plan_compaction(source, now_ms=int(time.time() * 1000))


def _why_not(history: ServerHistory, target: int, state: int, stored: int) -> str:
    if history.latest_version == 0:
        return "its history is empty"
    if history.latest_version == history.base_version:
        return "nothing after the last compaction"
    if target >= min(state, stored) and state < history.latest_version:
        return f"the realm's state has applied the history up to version {state} only"
    return (
        f"clients still need the history after version {target} "
        "(see --history-retention); fewer versions than asked for could go"
    )
