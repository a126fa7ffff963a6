"""Sync histories: the server's ordered log per realm (this module), and a
client's cursors plus not-yet-acknowledged local changesets
(:mod:`studio.sync.client_history`).

Server side (:class:`ServerHistory`). The server is the serialization point:
server versions 1, 2, 3, ... each hold one integrated changeset with its
origin. An upload from client C based on server version S is transformed
against the changesets after S that came from other clients and appended.

The subtle part is C's *own* changesets integrated after S (C uploaded them
before it had downloaded past S). The foreign changesets after S were
transformed on the server with those own changesets already in place, while
C's new changeset was made with them in place too but with none of the foreign
ones. So the walk over the history after S moves each foreign changeset "past"
C's own changesets (exactly what C did locally when it downloaded them) before
transforming the upload against them. That needs C's own changesets as C had
them at S: the copies C resent in the same upload (a client resends every
unacknowledged changeset after a reconnect or after it rebased them), or the
originals stored at integration time when they were based on S themselves.

Client side (:class:`ClientHistory`). Keeps every local changeset until the
server acknowledges it, always rebased onto the last integrated server
version: a downloaded changeset is transformed against the pending ones (the
mirror image of the server's transformation) and the pending ones are rewritten
to come after it.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from studio.primitives.instructions import AddClass, AddProperty, Changeset, Instruction
from studio.sync.changeset import canonical_encoding
from studio.sync.errors import (
    ChangesetError,
    HistoryCompactedError,
    MergeError,
)
from studio.sync.merge import ConcurrentChangesets, TouchIndex
from studio.sync.slots import CHANGESET_SLOTS, slot_setters
from studio.sync.squash import DEFAULT_SNAPSHOT_INSTRUCTIONS, squash

# Protocol error codes used below (see studio.sync.protocol.messages.ErrorCode).
BAD_SERVER_VERSION = 209
BAD_CLIENT_VERSION = 210
BAD_ORIGIN_FILE_IDENT = 217

SNAPSHOT_ORIGIN = 0
"""The origin of the snapshot's changesets: no client (idents start at 1), so
they are foreign to every client and never meet one of the same order key."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One server version."""

    server_version: int
    origin_file_ident: int
    client_version: int
    timestamp_ms: int
    changeset: Changeset
    """As integrated: transformed to apply on top of ``server_version - 1``."""
    integrated_at_ms: int = 0


_ENTRY: Final = slot_setters(
    HistoryEntry,
    (
        "server_version",
        "origin_file_ident",
        "client_version",
        "timestamp_ms",
        "changeset",
        "integrated_at_ms",
    ),
)


class RemoteChangeset(NamedTuple):
    """A changeset as downloaded by one particular client.

    ``last_integrated_client_version``: the receiving client's own changesets
    up to this client version were integrated on the server before this one,
    so the client must drop them from its pending list before transforming
    this changeset against the rest.

    (A named tuple, not a frozen dataclass: the server makes one per
    changeset per receiving client, and a tuple is built several times
    faster.)
    """

    server_version: int
    last_integrated_client_version: int
    changeset: Changeset


@dataclass(frozen=True, slots=True)
class DownloadBatch:
    """What to send a client: after integrating ``changesets`` the client is
    at ``server_version``, and the server has integrated its changesets up to
    ``upload_ack`` (all at or before ``server_version``)."""

    changesets: tuple[RemoteChangeset, ...]
    server_version: int
    upload_ack: int


@dataclass(frozen=True, slots=True)
class IntegrationResult:
    """The outcome of :meth:`ServerHistory.integrate`."""

    entries: tuple[HistoryEntry, ...]
    """The new server versions (empty when everything was a re-upload)."""
    skipped: int
    """Changesets of the upload that were already integrated (idempotent resend)."""
    last_client_version: int
    """The client's changesets up to this client version are now integrated."""


@dataclass(frozen=True, slots=True)
class Compaction:
    """A squash of the history up to ``base_version`` (see
    :func:`plan_compaction`), to store and then apply."""

    base_version: int
    """The new floor: the snapshot stands for server versions 1..base_version."""
    previous_base: int
    snapshot: tuple[HistoryEntry, ...]
    """Numbered ``base_version - len(snapshot) + 1 .. base_version``."""
    client_floors: dict[int, int]
    """Per client file ident, its last client version at or before the floor."""
    versions_before: int
    """Changesets the history held up to ``base_version`` before (snapshot included)."""

    @property
    def versions_after(self) -> int:
        return len(self.snapshot)


@dataclass(slots=True)
class _ClientRecord:
    versions: list[int] = field(default_factory=list)  # server versions of own changesets
    client_versions: list[int] = field(default_factory=list)
    progress: int = 0  # the last server version the client said it has integrated
    floor_client_version: int = 0  # last client version at or before the compacted base


def _same_changes(a: Changeset, b: Changeset) -> bool:
    """Exact comparison (``==`` is fooled by NaN and by ``1 == True``)."""
    if len(a.instructions) != len(b.instructions):
        return False
    a = dataclasses.replace(a, last_integrated_server_version=0)
    b = dataclasses.replace(b, last_integrated_server_version=0)
    return canonical_encoding(a) == canonical_encoding(b)


class ServerHistory:
    """The in-memory server history of one realm (the reference implementation
    of the storage interface the object server persists in SQLite)."""

    def __init__(self) -> None:
        self._entries: list[HistoryEntry] = []
        self._base = 0  # entries[k] is server version _base + 1 + k
        # What stands for versions 1.._base after a compaction: the state at
        # _base as plain changesets, numbered up to _base (see compact()).
        self._snapshot: list[HistoryEntry] = []
        self._clients: dict[int, _ClientRecord] = {}
        self._next_ident = 1
        # Uploaded (untransformed) changesets, needed while their client may
        # still upload on a base before them; see record_progress().
        self._originals: dict[int, Changeset] = {}
        self._classes: dict[str, AddClass] = {}
        self._properties: dict[tuple[str, str], AddProperty] = {}
        # What the latest versions touched: most uploads interact with none
        # of the changesets after their base and need no transformation.
        self._touches = TouchIndex(first_version=1)

    # ------------------------------------------------------------------ queries

    @property
    def latest_version(self) -> int:
        return self._base + len(self._entries)

    @property
    def base_version(self) -> int:
        """The floor: versions up to here were compacted into the snapshot.
        Uploads and downloads must be based on this version or later, except
        a new client's (at version 0), which bootstraps from the snapshot."""
        return self._base

    @property
    def snapshot_start(self) -> int:
        """The snapshot holds the versions after this one up to the floor."""
        return self._base - len(self._snapshot)

    def snapshot(self) -> Sequence[HistoryEntry]:
        """The compacted state as changesets (empty before any compaction)."""
        return tuple(self._snapshot)

    def serves_from(self, ident: int, version: int, snapshot_of: int | None = None) -> bool:
        """Whether a client at ``version`` can download and upload here.

        Below the floor only a client that has nothing of the compacted
        history is served: one at version 0 (it bootstraps from the
        snapshot), or one part-way through the snapshot of this very
        compaction (``snapshot_of`` is the floor its session started the
        snapshot on), and only if none of its own changesets were compacted
        (its local state would hold them twice). Any other client behind the
        floor must reset its local copy.
        """
        if version >= self._base:
            return True
        if version != 0 and not (snapshot_of == self._base and version >= self.snapshot_start):
            return False
        record = self._clients.get(ident)
        return record is None or record.floor_client_version == 0

    def allocate_file_ident(self) -> int:
        """A new client file identity (one per client copy of the realm)."""
        ident = self._next_ident
        self._next_ident += 1
        self._clients[ident] = _ClientRecord()
        return ident

    def add_file_ident(self, ident: int) -> None:
        """Know client file ``ident``, handed out by somebody else (another
        server process sharing the realm's storage); the idents this history
        allocates itself come after it."""
        if ident not in self._clients:
            self._clients[ident] = _ClientRecord()
        self._next_ident = max(self._next_ident, ident + 1)

    def knows_file_ident(self, ident: int) -> bool:
        return ident in self._clients

    def client_idents(self) -> list[int]:
        """Every client file ident handed out."""
        return list(self._clients)

    def last_client_version(self, ident: int) -> int:
        """The client's changesets up to this client version are integrated."""
        record = self._clients.get(ident)
        if record is None:
            return 0
        return record.client_versions[-1] if record.client_versions else record.floor_client_version

    def client_version_at(self, ident: int, server_version: int) -> int:
        """The last client version of ``ident`` integrated at or before
        ``server_version`` (what a download up to there acknowledges)."""
        record = self._clients.get(ident)
        if record is None:
            return 0
        pos = bisect.bisect_right(record.versions, server_version)
        return record.client_versions[pos - 1] if pos else record.floor_client_version

    def entries(self) -> Sequence[HistoryEntry]:
        return tuple(self._entries)

    def entry(self, server_version: int) -> HistoryEntry:
        """The entry of ``server_version`` (a snapshot changeset at or below the floor)."""
        if server_version <= self._base:
            start = self.snapshot_start
            if server_version <= start:
                raise IndexError(f"server version {server_version} was compacted away")
            return self._snapshot[server_version - start - 1]
        return self._entries[server_version - self._base - 1]

    def _after(self, version: int) -> Iterable[HistoryEntry]:
        """The entries after ``version`` (snapshot changesets first when it is below the floor)."""
        if version >= self._base:
            return self._entries[version - self._base :]
        skip = max(0, version - self.snapshot_start)
        return itertools.chain(self._snapshot[skip:], self._entries)

    def changesets_since(
        self, version: int, exclude_origin: int | None = None
    ) -> list[HistoryEntry]:
        """The entries after ``version``, without those from ``exclude_origin``."""
        self._check_base(version)
        return [e for e in self._after(version) if e.origin_file_ident != exclude_origin]

    def download(
        self,
        ident: int,
        since_version: int,
        max_changesets: int | None = None,
        until_version: int | None = None,
        snapshot_of: int | None = None,
    ) -> DownloadBatch:
        """What client ``ident`` at ``since_version`` must download, at most
        ``max_changesets`` changesets of it (the rest in later batches), and
        nothing after ``until_version`` (e.g. what is not stored yet).
        Below the floor see :meth:`serves_from` (``snapshot_of``)."""
        self._check_base(since_version, ident, snapshot_of)
        if since_version > self.latest_version:
            raise ChangesetError(
                f"server version {since_version} does not exist yet "
                f"(the latest is {self.latest_version})",
                code=BAD_SERVER_VERSION,
            )
        last_cv = self.client_version_at(ident, since_version)
        out: list[RemoteChangeset] = []
        # Below the snapshot nothing is left: versions 1..snapshot_start are empty now.
        version = since_version
        if since_version < self._base:
            version = max(since_version, self.snapshot_start)
        stop = None if until_version is None else max(0, until_version - self._base)
        # One per changeset per receiving client: built without the named
        # tuple's Python-level __new__ (twice as fast).
        new, remote = tuple.__new__, RemoteChangeset
        if since_version >= self._base:
            after: Iterable[HistoryEntry] = self._entries[since_version - self._base : stop]
        else:
            after = itertools.chain(
                self._snapshot[max(0, since_version - self.snapshot_start) :],
                self._entries[:stop],
            )
        for entry in after:
            if entry.origin_file_ident == ident:
                last_cv = entry.client_version
            else:
                if max_changesets is not None and len(out) >= max_changesets:
                    break
                out.append(new(remote, (entry.server_version, last_cv, entry.changeset)))
            version = entry.server_version
        return DownloadBatch(tuple(out), version, last_cv)

    def _check_base(
        self, version: int, ident: int | None = None, snapshot_of: int | None = None
    ) -> None:
        if version < self._base and (
            ident is None or not self.serves_from(ident, version, snapshot_of)
        ):
            raise HistoryCompactedError(
                f"the history up to server version {self._base} was compacted; "
                f"a client at version {version} must reset its local realm"
            )

    # ------------------------------------------------------------------ integration

    def integrate(
        self,
        ident: int,
        changesets: Sequence[Changeset],
        *,
        now_ms: int = 0,
        snapshot_of: int | None = None,
    ) -> IntegrationResult:
        """Integrate an upload of client ``ident``; all-or-nothing.

        Every changeset must come from ``ident``, client versions must
        increase, and all must be based on the same server version S (the
        client's download progress). Changesets already integrated are skipped
        (a resend after a reconnect). Raises :class:`ChangesetError` for an
        upload that does not fit the history, :class:`MergeError` for schema
        changes that disagree with the realm's schema, and
        :class:`HistoryCompactedError` for one based below the floor (see
        :meth:`serves_from` for ``snapshot_of``).
        """
        record = self._clients.get(ident)
        if record is None:
            raise ChangesetError(f"unknown client file ident {ident}", code=BAD_ORIGIN_FILE_IDENT)
        last = self.last_client_version(ident)
        if not changesets:
            return IntegrationResult((), 0, last)
        base = self._check_upload(ident, changesets, snapshot_of)
        resent = {c.client_version: c for c in changesets if c.client_version <= last}
        new = [c for c in changesets if c.client_version > last]
        if not new:
            # All integrated before: a resend after a lost acknowledgement,
            # recognised by client version alone, whatever base it comes on
            # (its client may have rebased it on newer downloads since). Not
            # walked: a long resend comes split into many uploads, and walking
            # the history after the base for each would cost quadratic time.
            # A later upload with new changesets on this base carries these
            # copies again (ServerConnection adds them) and is verified then.
            return IntegrationResult((), len(resent), last)
        foreign: ConcurrentChangesets | None = None
        if (
            resent
            or base < self._base  # on the snapshot: the touch index knows the old entries
            or (record.versions and record.versions[-1] > base)
            or not self._touches.covers(base)
            or self._touches.interacts_after(base, (c.instructions for c in new))
        ):
            # Resent copies are walked too: it verifies them and keeps them as
            # originals on the new base, which later uploads on that base need.
            foreign = self._foreign_since(ident, base, resent)
        # Else no own changeset after the base and nothing after it interacts
        # with the upload: every transformation would leave it as it is.

        classes, properties = dict(self._classes), dict(self._properties)
        entries: list[HistoryEntry] = []
        version = self.latest_version
        # Built without the frozen dataclasses' __init__ (twice as fast; see
        # studio.sync.slots): one of each per integrated changeset.
        new_object = object.__new__
        set_origin, set_client_version, set_base, set_timestamp, set_instructions = CHANGESET_SLOTS
        set_version, set_entry_origin, set_entry_cv, set_entry_ts, set_changeset, set_at = _ENTRY
        for changeset in new:
            transformed = changeset if foreign is None else foreign.transform(changeset)
            _check_schema(transformed.instructions, classes, properties)
            based = new_object(Changeset)  # on the version before it
            set_origin(based, transformed.origin_file_ident)
            set_client_version(based, transformed.client_version)
            set_base(based, version)
            set_timestamp(based, transformed.timestamp_ms)
            set_instructions(based, transformed.instructions)
            version += 1
            entry = new_object(HistoryEntry)
            set_version(entry, version)
            set_entry_origin(entry, ident)
            set_entry_cv(entry, changeset.client_version)
            set_entry_ts(entry, changeset.timestamp_ms)
            set_changeset(entry, based)
            set_at(entry, now_ms)
            entries.append(entry)
        # Commit: nothing above changed self, so a failure leaves no trace.
        self._classes, self._properties = classes, properties
        for changeset, entry in zip(new, entries, strict=True):
            self._entries.append(entry)
            self._touches.add(entry.server_version, entry.changeset.instructions)
            self._originals[entry.server_version] = changeset
            record.versions.append(entry.server_version)
            record.client_versions.append(entry.client_version)
        record.progress = max(record.progress, base)
        return IntegrationResult(tuple(entries), len(resent), new[-1].client_version)

    def _check_upload(
        self, ident: int, changesets: Sequence[Changeset], snapshot_of: int | None
    ) -> int:
        base = changesets[0].last_integrated_server_version
        previous = -1
        for c in changesets:
            if c.origin_file_ident != ident:
                raise ChangesetError(
                    f"changeset {c.client_version} has origin {c.origin_file_ident}, "
                    f"but the uploading client is {ident}",
                    code=BAD_ORIGIN_FILE_IDENT,
                )
            if c.client_version <= previous:
                raise ChangesetError(
                    f"client versions must increase within an upload "
                    f"({c.client_version} after {previous})",
                    code=BAD_CLIENT_VERSION,
                )
            previous = c.client_version
            if c.last_integrated_server_version != base:
                raise ChangesetError(
                    "all changesets of an upload must be based on the same server version "
                    f"({c.last_integrated_server_version} != {base})",
                    code=BAD_SERVER_VERSION,
                )
        if base > self.latest_version:
            raise ChangesetError(
                f"upload based on server version {base}, but the latest is {self.latest_version}",
                code=BAD_SERVER_VERSION,
            )
        self._check_base(base, ident, snapshot_of)
        return base

    def _foreign_since(
        self, ident: int, base: int, resent: dict[int, Changeset]
    ) -> ConcurrentChangesets:
        """The other clients' changesets after ``base``, rewritten to apply
        after all of ``ident``'s own changesets after ``base`` (see the module
        docstring): what the upload must be transformed against."""
        foreign = ConcurrentChangesets()
        for entry in self._after(base):
            if entry.origin_file_ident != ident:
                foreign.append(entry.changeset)
                continue
            own = resent.get(entry.client_version)
            if own is None:
                own = self._originals.get(entry.server_version)
                if own is None or own.last_integrated_server_version != base:
                    raise ChangesetError(
                        f"upload based on server version {base}, but your changeset "
                        f"{entry.client_version} (server version {entry.server_version}) "
                        "was uploaded on another base: resend it in the same upload",
                        code=BAD_SERVER_VERSION,
                    )
                # Move the foreign changesets past our own one.
                foreign.transform(own)
                continue
            # A copy from the client: what it becomes must be what was
            # integrated, or it is not the same change.
            moved = foreign.transform(own)
            if not _same_changes(moved, entry.changeset):
                raise ChangesetError(
                    f"resent changeset {entry.client_version} differs from the one "
                    f"integrated as server version {entry.server_version}",
                    code=BAD_CLIENT_VERSION,
                )
            if entry.server_version in self._originals:
                # The verified copy is the same change on a newer base: keep it,
                # so the client can pipeline further uploads on that base.
                self._originals[entry.server_version] = own
        return foreign

    # ------------------------------------------------------------------ housekeeping

    def record_progress(self, ident: int, server_version: int) -> None:
        """Client ``ident`` has integrated everything up to ``server_version``
        (told by bind cursors and upload progress). It will never upload on an
        older base again, so originals of its changesets up to there are dropped."""
        record = self._clients.get(ident)
        if record is None or server_version <= record.progress:
            return
        record.progress = min(server_version, self.latest_version)
        stop = bisect.bisect_right(record.versions, record.progress)
        for version in record.versions[:stop]:
            self._originals.pop(version, None)

    def client_progress(self, ident: int) -> int:
        record = self._clients.get(ident)
        return record.progress if record else 0

    def compact_before(self, version: int, *, now_ms: int = 0) -> Compaction | None:
        """Compact the versions older than ``version`` (see :meth:`compact`)."""
        return self.compact(version - 1, now_ms=now_ms)

    def compact(
        self,
        version: int,
        *,
        now_ms: int = 0,
        max_instructions: int = DEFAULT_SNAPSHOT_INSTRUCTIONS,
    ) -> Compaction | None:
        """Squash the versions up to ``version`` into a snapshot, in one go
        (:meth:`compaction_source`, :func:`plan_compaction`,
        :meth:`apply_compaction`; the server runs the middle step on a worker
        thread and stores the result in between). None: nothing to compact.

        Afterwards a client behind the floor that has any of the compacted
        history gets :class:`HistoryCompactedError` (protocol error
        ``client_file_expired``: it must reset its copy from the server's
        state), and a new client bootstraps from the snapshot. Pick
        ``version`` at or below the lowest :meth:`client_progress` of the
        clients you want to keep syncing.
        """
        source = self.compaction_source(version)
        if source is None:
            return None
        compaction = plan_compaction(source, now_ms=now_ms, max_instructions=max_instructions)
        self.apply_compaction(compaction)
        return compaction

    def compaction_source(self, version: int) -> CompactionSource | None:
        """What a compaction up to ``version`` (at most the latest) squashes,
        copied so that :func:`plan_compaction` can run while more is
        integrated. None when ``version`` is not past the floor."""
        version = min(version, self.latest_version)
        if version <= self._base:
            return None
        compacted = self._entries[: version - self._base]
        floors = {
            ident: self.client_version_at(ident, version)
            for ident, record in self._clients.items()
            if record.floor_client_version or (record.versions and record.versions[0] <= version)
        }
        return CompactionSource(
            version,
            self._base,
            tuple(e.changeset for e in itertools.chain(self._snapshot, compacted)),
            floors,
        )

    def apply_compaction(self, compaction: Compaction) -> None:
        """Replace the versions up to ``compaction.base_version`` by its snapshot.

        The compaction must have been planned on this history at its current
        floor (versions after the planned ones may have been integrated since;
        they stay as they are)."""
        if compaction.previous_base != self._base:
            raise HistoryCompactedError(
                f"the compaction was planned on floor {compaction.previous_base}, "
                f"but the history is at floor {self._base} now"
            )
        new_base = compaction.base_version
        if new_base > self.latest_version:
            raise ChangesetError(
                f"cannot compact up to server version {new_base}: "
                f"the latest is {self.latest_version}"
            )
        drop = new_base - self._base
        for dropped in self._entries[:drop]:
            self._originals.pop(dropped.server_version, None)
        del self._entries[:drop]
        self._snapshot = list(compaction.snapshot)
        self._base = new_base
        self._set_floors(compaction.client_floors)

    def restore_compaction(
        self, base_version: int, snapshot: Sequence[HistoryEntry], client_floors: dict[int, int]
    ) -> None:
        """Start a history loaded from storage at the floor ``base_version``
        with its stored snapshot (before the entries after the floor are
        integrated again)."""
        if self._entries or self._base:
            raise ChangesetError("a compaction can only be restored into an empty history")
        if snapshot and snapshot[-1].server_version != base_version:
            raise ChangesetError(
                f"the snapshot ends at server version {snapshot[-1].server_version}, "
                f"not at the floor {base_version}"
            )
        self._snapshot = list(snapshot)
        self._base = base_version
        self._touches = TouchIndex(first_version=base_version + 1)
        for entry in snapshot:
            _check_schema(entry.changeset.instructions, self._classes, self._properties)
        for ident in client_floors:
            while ident >= self._next_ident:
                self.allocate_file_ident()
        self._set_floors(client_floors)

    def _set_floors(self, floors: dict[int, int]) -> None:
        base = self._base
        for ident, record in self._clients.items():
            stop = bisect.bisect_right(record.versions, base)
            if stop:
                del record.versions[:stop]
                del record.client_versions[:stop]
            record.floor_client_version = max(record.floor_client_version, floors.get(ident, 0))


@dataclass(frozen=True, slots=True)
class CompactionSource:
    """The input of :func:`plan_compaction` (see :meth:`ServerHistory.compaction_source`)."""

    base_version: int
    previous_base: int
    changesets: tuple[Changeset, ...]
    """The previous snapshot's and the compacted entries' changesets, in order."""
    client_floors: dict[int, int]


def plan_compaction(
    source: CompactionSource,
    *,
    now_ms: int = 0,
    max_instructions: int = DEFAULT_SNAPSHOT_INSTRUCTIONS,
) -> Compaction:
    """Squash ``source`` into a snapshot (pure: runs on any thread). Raises
    :class:`~studio.sync.errors.CompactionError` when the history does not
    apply (nothing is compacted then).

    The snapshot's changesets come from :data:`SNAPSHOT_ORIGIN`, stamped with
    the latest timestamp of what they replace: a new client's offline change
    made before that loses a last-writer-wins conflict with the compacted
    state, one made after wins (docs/sync.md). At most one per compacted
    version, so they fit under the floor."""
    base = source.base_version
    runs, timestamp = squash(source.changesets, max_instructions, max_changesets=base)
    # Never empty: the floor stays a stored version (storage reads the latest
    # version off the last row), even when everything was erased.
    runs = runs or [()]
    first = base - len(runs) + 1
    snapshot = tuple(
        HistoryEntry(
            version,
            SNAPSHOT_ORIGIN,
            version,
            timestamp,
            Changeset(SNAPSHOT_ORIGIN, version, version - 1, timestamp, run),
            now_ms,
        )
        for version, run in enumerate(runs, start=first)
    )
    return Compaction(
        base, source.previous_base, snapshot, dict(source.client_floors), len(source.changesets)
    )

def _check_schema(
    instructions: Iterable[Instruction],
    classes: dict[str, AddClass],
    properties: dict[tuple[str, str], AddProperty],
) -> None:
    """Schema instructions must agree with the schema so far (a concurrent
    disagreement is caught by the merge itself; this catches an upload that
    redefines a class or property integrated long ago)."""
    for ins in instructions:
        if isinstance(ins, AddClass):
            old = classes.setdefault(ins.class_name, ins)
            if old != ins:
                raise MergeError(
                    f"schema mismatch: class {ins.class_name!r} already exists as {old}, "
                    f"cannot add it as {ins}; synced schema changes must be additive"
                )
        elif isinstance(ins, AddProperty):
            key = (ins.class_name, ins.name)
            old_prop = properties.setdefault(key, ins)
            if old_prop != ins:
                raise MergeError(
                    f"schema mismatch: property {ins.class_name}.{ins.name} already exists "
                    f"as {old_prop}, cannot add it as {ins}; synced schema changes must be additive"
                )
