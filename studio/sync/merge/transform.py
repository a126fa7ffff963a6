"""Operational transformation of concurrent changesets (pure functions).

Two changesets ``A`` and ``B`` are *concurrent* when each was made without
seeing the other, i.e. both apply to the same state ``S``.
``transform(A, B) -> (A', B')`` rewrites them so that

    apply(apply(S, A), B')  ==  apply(apply(S, B), A')

for every state ``S`` where both apply (the "TP1" property; together with the
server being the single point that orders changesets, it is all a star-shaped
sync topology needs). The rules follow Realm Sync's (see ``docs/sync.md``);
conflicts are decided by :func:`order_key`, ``(timestamp_ms,
origin_file_ident)``: the changeset with the larger key is "later" and wins
last-writer-wins conflicts.

Instructions on different objects only interfere through links (a link
written to an object the other side erases), so the transformation groups
both instruction lists by object (schema instructions by class or property),
joins the groups a link ties to an erase, and runs the classic pairwise grid
only inside each group (within an object, per property unless it is erased).
Each changeset is indexed once by the objects it touches (see
:mod:`studio.sync.merge.index`), so a pair costs what the two share, and
:class:`ConcurrentChangesets` (what ``transform_against``, ``rebase`` and the
histories use) lets a changeset meet only the changesets of a sequence it can
interact with.
``tests/oracles/merge_reference.py`` keeps the plain driver as the tests' oracle.

:mod:`studio.sync.merge` is the public face of this module. The pair rules
for two instructions live in :mod:`studio.sync.merge.rules`, the
per-changeset object index in :mod:`studio.sync.merge.index`, and the
transformation of two indexed changesets in :mod:`studio.sync.merge.driver`.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Hashable, Iterable, Sequence

from studio.primitives.instructions import Changeset, Instruction
from studio.sync.errors import MergeError
from studio.sync.merge.driver import transform_keyed
from studio.sync.merge.index import Keyed, cached_index


def order_key(changeset: Changeset) -> tuple[int, int]:
    """Conflict order: the changeset with the larger key is the later one."""
    return (changeset.timestamp_ms, changeset.origin_file_ident)


# --------------------------------------------------------------------------- sequences


def transform_instructions(
    ours: Sequence[Instruction], theirs: Sequence[Instruction], ours_first: bool
) -> tuple[list[Instruction], list[Instruction]]:
    """The instruction-level transformation behind :func:`transform`.

    ``ours_first`` says whether ``ours`` is the earlier side. Returns
    ``(ours', theirs')``: ours' applies after theirs, theirs' after ours.
    """
    if not ours or not theirs:
        return list(ours), list(theirs)
    a, b = Keyed(ours, None), Keyed(theirs, None)
    transform_keyed(a, b, ours_first)
    return list(a.current()), list(b.current())


def _same_order_key(changeset: Changeset) -> MergeError:
    return MergeError(
        f"cannot order two concurrent changesets with the same timestamp "
        f"({changeset.timestamp_ms}) and origin ({changeset.origin_file_ident})"
    )


def transform(ours: Changeset, theirs: Changeset) -> tuple[Changeset, Changeset]:
    """Transform two concurrent changesets: returns ``(ours', theirs')`` where
    ``ours'`` applies after ``theirs`` and ``theirs'`` after ``ours``, and both
    orders give the same state. Raises :class:`MergeError` for schema changes
    that disagree."""
    our_key, their_key = order_key(ours), order_key(theirs)
    if our_key == their_key:
        raise _same_order_key(ours)
    if not ours.instructions or not theirs.instructions:
        return ours, theirs
    a, b = Keyed(ours.instructions, ours), Keyed(theirs.instructions, theirs)
    transform_keyed(a, b, our_key < their_key)
    return a.result(), b.result()


class ConcurrentChangesets:
    """A sequence of changesets (each applying after the ones before it) that
    other changesets, concurrent to all of it, are transformed against one by
    one: what the server's history and a client's pending list are.

    Each changeset is indexed once by the objects it touches, so transforming
    a changeset against the sequence only visits the changesets it can
    interact with, and the sequence stays indexed as it is rewritten.
    ``transform_against(c, others)`` is ``ConcurrentChangesets(others)``
    then :meth:`transform`; :func:`rebase` is one :meth:`transform` per
    changeset. After an error (:class:`MergeError`) the sequence is in no
    defined state.
    """

    __slots__ = ("_erasers", "_items", "_links", "_objects", "_order", "_unindexed")

    def __init__(self, changesets: Iterable[Changeset] = ()) -> None:
        # A changeset as appended until it is first transformed (most never
        # are), then its Keyed; None once discarded.
        self._items: list[Keyed | Changeset | None] = []
        # Appended but not indexed yet (indexing waits for a transform).
        self._unindexed: list[Changeset] = list(changesets)
        # Indexes (ascending) of the changesets with instructions on an object
        # or schema item, erasing an object, writing links to an object. They
        # may name changesets whose instructions there were dropped since:
        # that only costs a look.
        self._objects: dict[Hashable, list[int]] = {}
        self._erasers: dict[Hashable, list[int]] = {}
        self._links: dict[Hashable, list[int]] = {}
        # order key -> indexes (two changesets of one origin never meet, but a
        # broken client could send them, and transform() refuses the pair).
        self._order: dict[Hashable, list[int]] = {}

    def __len__(self) -> int:
        return sum(1 for item in self._items if item is not None) + len(self._unindexed)

    def append(self, changeset: Changeset) -> None:
        """Add a changeset at the end (it applies after the others)."""
        self._unindexed.append(changeset)

    def _index_appended(self) -> None:
        objects, erasers, links, order = self._objects, self._erasers, self._links, self._order
        items = self._items
        for changeset in self._unindexed:
            n = len(items)
            items.append(changeset)
            _, item_objects, item_erased, item_writers, _ = cached_index(changeset.instructions)
            for obj in item_objects:
                indexes = objects.get(obj)
                if indexes is None:
                    objects[obj] = [n]
                else:
                    indexes.append(n)
            for obj in item_erased:
                erasers.setdefault(obj, []).append(n)
            for target in item_writers:
                links.setdefault(target, []).append(n)
            order.setdefault((changeset.timestamp_ms, changeset.origin_file_ident), []).append(n)
        self._unindexed = []

    def discard_through(self, client_version: int) -> None:
        """Forget the changesets with a client version up to ``client_version``
        (a client's own changesets the server has integrated)."""
        items = self._items
        for n, item in enumerate(items):
            if item is not None:
                changeset = item if type(item) is Changeset else item.changeset  # type: ignore[union-attr]
                assert changeset is not None
                if changeset.client_version <= client_version:
                    items[n] = None
        self._unindexed = [c for c in self._unindexed if c.client_version > client_version]

    def changesets(self) -> list[Changeset]:
        """The sequence as it is now (rewritten to apply after every changeset
        transformed against it so far)."""
        return [
            item if type(item) is Changeset else item.result()  # type: ignore[union-attr]
            for item in self._items
            if item is not None
        ] + self._unindexed

    def transform(self, changeset: Changeset) -> Changeset:
        """Transform ``changeset`` (concurrent to the whole sequence) against
        it: returns ``changeset'``, which applies after the sequence, and
        rewrites the sequence to apply after ``changeset``. Raises
        :class:`MergeError` where :func:`transform` would."""
        if self._unindexed:
            self._index_appended()
        items = self._items
        if not items:
            return changeset
        key = (changeset.timestamp_ms, changeset.origin_file_ident)
        tie: int | None = None
        for n in self._order.get(key, ()):
            if items[n] is not None:
                tie = n
                break
        stop = len(items) if tie is None else tie
        # The changesets we can interact with: those on the same objects (or
        # schema items), those erasing what we link to, those linking to what
        # we erase.
        instructions = changeset.instructions
        if type(instructions) is tuple:
            _, row_objects, row_erased, row_writers, _ = cached_index(instructions)
            row = None
        else:  # not hashable by identity for the cache
            row = Keyed(instructions, changeset)
            row_objects, row_erased, row_writers = row.objects, row.erased, row.writers
        seen: set[int] = set()
        objects, erasers, links = self._objects, self._erasers, self._links
        for obj in row_objects:
            found = objects.get(obj)
            if found is not None:
                seen.update(found)
        if erasers:
            for target in row_writers:
                found = erasers.get(target)
                if found is not None:
                    seen.update(found)
        for obj in row_erased:
            found = links.get(obj)
            if found is not None:
                seen.update(found)
        if not seen:
            if tie is not None:
                raise _same_order_key(changeset)
            return changeset
        if row is None:
            row = Keyed(instructions, changeset)
        queue = sorted([n for n in seen if n < stop and items[n] is not None])
        # Ascending order; a heap only once the row gains buckets (rare).
        heap = False
        at = 0
        while True:
            if heap:
                if not queue:
                    break
                n = heapq.heappop(queue)
            else:
                if at == len(queue):
                    break
                n = queue[at]
                at += 1
            other = items[n]
            if type(other) is not Keyed:
                assert isinstance(other, Changeset)
                other = items[n] = Keyed(other.instructions, other)
            assert other.key is not None
            transform_keyed(row, other, key < other.key)
            if other.new_keys:
                for obj in other.new_keys:
                    _insert(objects.setdefault(obj, []), n)
                other.new_keys.clear()
            if row.new_keys:
                if not heap:
                    queue = queue[at:]
                    heap = True
                for obj in row.new_keys:
                    for m in objects.get(obj, ()):
                        if n < m < stop and m not in seen and items[m] is not None:
                            seen.add(m)
                            heapq.heappush(queue, m)
                row.new_keys.clear()
        if tie is not None:
            raise _same_order_key(changeset)
        return row.result()


def _insert(indexes: list[int], n: int) -> None:
    """Add ``n`` to an ascending list unless it is there."""
    i = bisect.bisect_left(indexes, n)
    if i == len(indexes) or indexes[i] != n:
        indexes.insert(i, n)


def transform_against(
    changeset: Changeset, others: Sequence[Changeset]
) -> tuple[Changeset, list[Changeset]]:
    """Transform ``changeset`` against a *sequence* of changesets concurrent to it
    (``others[k]`` applies after ``others[:k]``).

    Returns ``(changeset', others')``: ``changeset'`` applies after all of
    ``others``; ``others'`` is the sequence rewritten to apply after ``changeset``.
    (To transform several changesets against one sequence, keep a
    :class:`ConcurrentChangesets`: it indexes the sequence once.)
    """
    sequence = ConcurrentChangesets(others)
    return sequence.transform(changeset), sequence.changesets()


def rebase(
    ours: Sequence[Changeset], theirs: Sequence[Changeset]
) -> tuple[list[Changeset], list[Changeset]]:
    """Transform two concurrent sequences against each other (the full grid):
    ``ours'`` applies after ``theirs`` and ``theirs'`` after ``ours``."""
    sequence = ConcurrentChangesets(theirs)
    out = [sequence.transform(changeset) for changeset in ours]
    return out, sequence.changesets()
