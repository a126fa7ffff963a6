"""The two tree shapes of a Realm file: the cluster tree that holds a table's
objects, and the B+tree that holds one list, set or dictionary.

Cluster tree. A leaf ("cluster") is ``[keys, column leaf 0, column leaf 1, ...]``
where ``keys`` is either a tagged count *n* (keys 0..n-1) or a ref to an array
of keys. An inner node is ``[key offsets or 0, depth (tagged), subtree size
(tagged), child refs...]``. Keys stored in a subtree are relative to the
subtree's offset. Without a key-offsets array (the "compact" form), child *i* of
a node of depth *d* starts at ``i << (d * shift)``, where ``shift`` is a
build-time constant of Realm Core: 8 in every released SDK, 2 in realm-core's
test builds (whose nodes hold at most 4 entries). The file does not record it,
so it is *detected*: a build whose nodes hold at most ``1 << shift`` entries
cannot have produced a node with more, and a tree with inner nodes has, by
construction, nodes filled near that limit.

B+tree. An inner node is ``[offsets ref or tagged elements-per-child, child
refs..., tagged total size]``; leaves are plain arrays of the element type.

Each node is visited at most once per walk (a repeat means a cycle in a damaged
file) and depth is bounded, so walks always terminate.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from studio.realmfile.node import MAX_LEAF_ELEMENTS, MAX_TREE_DEPTH, NodeHeader, RealmBuffer

SHIFT_RELEASE: Final = 8
SHIFT_TEST_BUILD: Final = 2


@dataclass(frozen=True, slots=True)
class ClusterLeaf:
    """One cluster: where it is, the key offset of its subtree, and its objects."""

    ref: int
    offset: int
    start: int  # table index of its first object
    count: int


@dataclass(slots=True)
class _PendingLeaf:
    ref: int
    count: int
    # Per ancestor: ("explicit", offset) or ("compact", child_index, depth).
    path: list[tuple[int, int, int]]


class ClusterTree:
    """Read access to one cluster tree (a table's objects, or a format 21-22 dictionary)."""

    def __init__(self, buf: RealmBuffer, root_ref: int, what: str) -> None:
        self.buf = buf
        self.root_ref = root_ref
        self.what = what
        self._leaves: list[ClusterLeaf] | None = None
        self._starts: list[int] = []
        self._offsets: list[int] = []
        self._keys: dict[int, Sequence[int]] = {}
        self.shift: int | None = None

    # -- sizes -------------------------------------------------------------------

    def _leaf_count(self, hdr: NodeHeader) -> int:
        buf = self.buf
        if hdr.size < 1:
            raise buf.corrupt(f"{self.what}: cluster at offset {hdr.ref} is empty", hdr.ref)
        first = buf.int_at(hdr, 0)
        count = first >> 1 if first & 1 else buf.header(first, f"{self.what} key array").size
        if not 0 <= count <= MAX_LEAF_ELEMENTS:
            raise buf.corrupt(
                f"{self.what}: cluster at offset {hdr.ref} claims {count} objects", hdr.ref
            )
        return count

    def size(self) -> int:
        """Number of objects, read from the root alone (no walk)."""
        if not self.root_ref:
            return 0
        hdr = self.buf.header(self.root_ref, f"{self.what} root")
        if hdr.is_inner:
            if hdr.size < 3:
                raise self.buf.corrupt(
                    f"{self.what}: inner node at offset {hdr.ref} is too short", hdr.ref
                )
            size = self.buf.tagged_at(hdr, 2, f"{self.what} subtree size")
            if size < 0:
                raise self.buf.corrupt(f"{self.what}: the tree claims {size} objects", hdr.ref)
            return size
        return self._leaf_count(hdr)

    # -- the walk ------------------------------------------------------------------

    def leaves(self) -> list[ClusterLeaf]:
        if self._leaves is None:
            self._leaves = self._walk()
            self._starts = [leaf.start for leaf in self._leaves]
            self._offsets = [leaf.offset for leaf in self._leaves]
        return self._leaves

    def _walk(self) -> list[ClusterLeaf]:
        if not self.root_ref:
            return []
        pending: list[_PendingLeaf] = []
        fanout = [0]
        inner_compact = [False]
        self._collect(self.root_ref, [], pending, set(), 0, fanout, inner_compact)
        if inner_compact[0]:
            self.shift = SHIFT_TEST_BUILD if fanout[0] <= (1 << SHIFT_TEST_BUILD) else SHIFT_RELEASE
        else:
            self.shift = SHIFT_RELEASE
        out: list[ClusterLeaf] = []
        start = 0
        for p in pending:
            offset = 0
            for kind, a, b in p.path:
                offset += a if kind == 0 else a << (b * self.shift)
            out.append(ClusterLeaf(p.ref, offset, start, p.count))
            start += p.count
        expected = self.size()
        if start != expected:
            raise self.buf.corrupt(
                f"{self.what}: the tree claims {expected} objects but its leaves hold {start}",
                self.root_ref,
            )
        return out

    def _collect(
        self,
        ref: int,
        path: list[tuple[int, int, int]],
        out: list[_PendingLeaf],
        seen: set[int],
        depth: int,
        fanout: list[int],
        compact: list[bool],
    ) -> None:
        buf = self.buf
        if ref in seen:
            raise buf.corrupt(
                f"{self.what}: the node at offset {ref} is reachable twice (a cycle)", ref
            )
        if depth > MAX_TREE_DEPTH:
            raise buf.corrupt(f"{self.what}: the tree is deeper than {MAX_TREE_DEPTH} levels", ref)
        seen.add(ref)
        hdr = buf.header(ref, f"{self.what} node")
        if not hdr.has_refs:
            raise buf.corrupt(f"{self.what}: node at offset {ref} is not a cluster", ref)
        if not hdr.is_inner:
            count = self._leaf_count(hdr)
            fanout[0] = max(fanout[0], count)
            out.append(_PendingLeaf(ref, count, path))
            return
        if hdr.size < 4:
            raise buf.corrupt(f"{self.what}: inner node at offset {ref} has no children", ref)
        values = buf.ints(hdr)
        node_depth = values[1] >> 1
        if not values[1] & 1 or not 1 <= node_depth <= MAX_TREE_DEPTH:
            raise buf.corrupt(f"{self.what}: inner node at offset {ref} has a bad depth", ref)
        children = values[3:]
        fanout[0] = max(fanout[0], len(children))
        offsets: list[int] | None = None
        if values[0]:
            offsets = buf.node_ints(values[0], f"{self.what} key offsets", unsigned=True)
            if len(offsets) < len(children):
                raise buf.corrupt(f"{self.what}: inner node at offset {ref} lacks key offsets", ref)
        else:
            compact[0] = True
        for i, child in enumerate(children):
            if child & 1 or child == 0:
                raise buf.corrupt(
                    f"{self.what}: child {i} of the node at offset {ref} is not a ref", ref
                )
            step = (0, offsets[i], 0) if offsets is not None else (1, i, node_depth)
            self._collect(child, [*path, step], out, seen, depth + 1, fanout, compact)

    # -- objects -------------------------------------------------------------------

    def keys(self, leaf: ClusterLeaf) -> Sequence[int]:
        """Absolute object keys of a cluster, in order: a ``range`` for a compact
        cluster (keys offset..offset+count-1), else a list."""
        cached = self._keys.get(leaf.ref)
        if cached is not None:
            return cached
        hdr = self.buf.header(leaf.ref, f"{self.what} cluster")
        first = self.buf.int_at(hdr, 0)
        keys: Sequence[int]
        if first & 1:
            keys = range(leaf.offset, leaf.offset + leaf.count)
        else:
            raw = self.buf.node_ints(first, f"{self.what} key array", unsigned=True)
            keys = [k + leaf.offset for k in raw]
        if len(self._keys) > 4096:
            self._keys.clear()
        self._keys[leaf.ref] = keys
        return keys

    def locate(self, index: int) -> tuple[ClusterLeaf, int]:
        leaves = self.leaves()
        i = bisect_right(self._starts, index) - 1
        leaf = leaves[i]
        return leaf, index - leaf.start

    def find(self, key: int) -> tuple[ClusterLeaf, int] | None:
        """The cluster and row of the object with ``key``, or None."""
        leaves = self.leaves()
        if not leaves:
            return None
        # Offsets grow along the leaves, so the leaf holding ``key`` is the last
        # one whose offset is <= key (explicit key arrays keep that order too).
        lo = bisect_right(self._offsets, key) - 1
        for leaf in leaves[max(lo, 0) : lo + 2]:
            keys = self.keys(leaf)
            if isinstance(keys, range):  # compact: no search needed
                if key in keys:
                    return leaf, key - keys.start
                continue
            j = bisect_right(keys, key) - 1
            if j >= 0 and keys[j] == key:
                return leaf, j
        return None

    def cluster_refs(self, leaf: ClusterLeaf) -> list[int]:
        """All elements of a cluster node: the keys, then one ref per column leaf
        (read with one unpack; each ref is checked when it is used)."""
        return self.buf.ints(self.buf.header(leaf.ref, f"{self.what} cluster"))

    def column_ref(
        self, leaf: ClusterLeaf, leaf_index: int, what: str, refs: list[int] | None = None
    ) -> int:
        """The ref of the column leaf ``leaf_index`` in a cluster (``refs``: the
        cluster's elements, when the caller has read them already)."""
        if refs is None:
            refs = self.cluster_refs(leaf)
        index = leaf_index + 1
        if index >= len(refs):
            raise self.buf.corrupt(
                f"{self.what}: cluster at offset {leaf.ref} has no leaf for {what}", leaf.ref
            )
        ref = refs[index]
        if not ref:
            raise self.buf.corrupt(
                f"{self.what}: cluster at offset {leaf.ref} lacks {what}", leaf.ref
            )
        if ref & 1:
            raise self.buf.corrupt(
                f"{what}: expected a ref in element {index} of the node at offset {leaf.ref}, "
                f"found the tagged number {ref >> 1}",
                leaf.ref,
            )
        self.buf.check_ref(ref, what)
        return ref


def bptree_leaves(buf: RealmBuffer, root_ref: int, what: str) -> tuple[list[int], int | None]:
    """The leaf refs of a B+tree, in order (the root itself when it is a leaf),
    and the element count the root claims (None when the root is a leaf); the
    caller checks it against what the leaves decode to."""
    out: list[int] = []
    total = _bptree_collect(buf, root_ref, what, out, set(), 0)
    return out, total


def _bptree_collect(
    buf: RealmBuffer, ref: int, what: str, out: list[int], seen: set[int], depth: int
) -> int | None:
    if ref in seen:
        raise buf.corrupt(f"{what}: the node at offset {ref} is reachable twice (a cycle)", ref)
    if depth > MAX_TREE_DEPTH:
        raise buf.corrupt(f"{what}: the B+tree is deeper than {MAX_TREE_DEPTH} levels", ref)
    seen.add(ref)
    hdr = buf.header(ref, what)
    if not hdr.is_inner:
        out.append(ref)
        return None
    if hdr.size < 3 or not hdr.has_refs:
        raise buf.corrupt(f"{what}: B+tree inner node at offset {ref} is malformed", ref)
    values = buf.ints(hdr)
    if not values[-1] & 1:
        raise buf.corrupt(f"{what}: B+tree inner node at offset {ref} lacks its size", ref)
    for i, child in enumerate(values[1:-1]):
        if child & 1 or child == 0:
            raise buf.corrupt(
                f"{what}: child {i} of the B+tree node at offset {ref} is not a ref", ref
            )
        _bptree_collect(buf, child, what, out, seen, depth + 1)
    return values[-1] >> 1
