"""Lists, sets and dictionaries: from a collection's root ref to raw values.

A list or set is one B+tree per object whose leaves are arrays of the element
type (sets are kept sorted). A dictionary is, in file formats 23 and 24, a pair
``[keys B+tree, values B+tree]`` with every value a Mixed; formats 21 and 22
kept each dictionary as a small cluster tree whose objects are the entries:
column 0 the key, column 1 the (Mixed) value, keyed by a hash of the key.

Values come back raw: links as object keys or :class:`LinkRef`, nested
collections as :class:`CollectionRef`; the object layer resolves them.
"""

from __future__ import annotations

from typing import Any

from studio.realmfile.leaves import int_leaf, string_leaf
from studio.realmfile.mixed import T_INT, LeafDecoder, mixed_leaf
from studio.realmfile.node import RealmBuffer
from studio.realmfile.trees import ClusterTree, bptree_leaves

# Formats up to 22 store a dictionary as a cluster tree; 23 and later as [keys, values].
LAST_CLUSTER_DICTIONARY_FORMAT = 22


def bptree_values(buf: RealmBuffer, ref: int, decode: LeafDecoder, what: str) -> list[Any]:
    """All elements of the B+tree rooted at ``ref`` (0 = empty)."""
    if not ref:
        return []
    leaves, total = bptree_leaves(buf, ref, what)
    out: list[Any] = []
    for leaf in leaves:
        out.extend(decode(buf, leaf))
    if total is not None and total != len(out):
        raise buf.corrupt(f"{what}: the B+tree claims {total} elements but holds {len(out)}", ref)
    return out


def _key_decoder(key_type: int) -> LeafDecoder:
    if key_type == T_INT:
        return int_leaf
    return lambda buf, ref: string_leaf(buf, ref)


def dictionary_items(
    buf: RealmBuffer, ref: int, format_version: int, key_type: int, what: str
) -> list[tuple[Any, Any]]:
    """The (key, raw Mixed value) pairs of the dictionary rooted at ``ref``."""
    if not ref:
        return []
    decode_key = _key_decoder(key_type)
    if format_version <= LAST_CLUSTER_DICTIONARY_FORMAT:
        tree = ClusterTree(buf, ref, what)
        items: list[tuple[Any, Any]] = []
        for leaf in tree.leaves():
            keys = decode_key(buf, tree.column_ref(leaf, 0, f"{what} keys"))
            values = mixed_leaf(buf, tree.column_ref(leaf, 1, f"{what} values"), f"{what} values")
            if len(keys) != leaf.count or len(values) != leaf.count:
                raise buf.corrupt(
                    f"{what}: a dictionary cluster has mismatched keys and values", leaf.ref
                )
            items.extend(zip(keys, values, strict=True))
        return items
    hdr = buf.header(ref, what)
    if not hdr.has_refs or hdr.size < 2:
        raise buf.corrupt(f"{what} at offset {ref} is not a [keys, values] pair", ref)
    keys_ref = buf.child_ref(hdr, 0, f"{what} keys")
    values_ref = buf.child_ref(hdr, 1, f"{what} values")
    keys = bptree_values(buf, keys_ref, decode_key, f"{what} keys")
    values = bptree_values(buf, values_ref, mixed_leaf, f"{what} values")
    if len(keys) != len(values):
        raise buf.corrupt(f"{what}: {len(keys)} keys but {len(values)} values", ref)
    return list(zip(keys, values, strict=True))
