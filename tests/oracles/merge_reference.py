"""The straightforward merge driver, kept as the oracle of the indexed one.

:mod:`studio.sync.merge` transforms changesets through an index of the
objects each one touches and skips the pairs that cannot interact. This
module is the plain version it replaced: every call buckets both instruction
lists from scratch and ``transform_against`` visits every changeset of the
sequence. Both use the same rules (``studio.sync.merge.rules.transform_pair`` and friends),
and the tests check that they give identical results, errors included, on
random changesets. Nothing else should import this module: it is quadratic in
the number of changesets where the indexed driver is not.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from studio.primitives.instructions import Changeset, Instruction
from studio.sync.errors import MergeError
from studio.sync.merge import order_key
from studio.sync.merge.rules import (
    bucket_of,
    link_groups,
    transform_merged_group,
    transform_pair,
    with_instructions,
)


def transform_instructions(
    ours: Sequence[Instruction], theirs: Sequence[Instruction], ours_first: bool
) -> tuple[list[Instruction], list[Instruction]]:
    """Reference version of :func:`studio.sync.merge.transform_instructions`."""
    if not ours or not theirs:
        return list(ours), list(theirs)
    our_keys = [bucket_of(i) for i in ours]
    their_keys = [bucket_of(i) for i in theirs]
    merged = link_groups(ours, theirs, our_keys, their_keys)
    their_groups: dict[Hashable, list[int]] = {}
    for n, key in enumerate(their_keys):
        their_groups.setdefault(merged.get(key, key), []).append(n)
    our_groups: dict[Hashable, list[int]] = {}
    for n, key in enumerate(our_keys):
        group = merged.get(key, key)
        if group in their_groups:
            our_groups.setdefault(group, []).append(n)
    if not our_groups:
        return list(ours), list(theirs)
    out_ours: list[list[Instruction]] = [[i] for i in ours]
    out_theirs: list[list[Instruction]] = [[i] for i in theirs]
    roots = set(merged.values())
    for group, our_indexes in our_groups.items():
        their_indexes = their_groups[group]
        if group in roots:
            transform_merged_group(
                ours, theirs, our_keys, their_keys, our_indexes, their_indexes,
                ours_first, out_ours, out_theirs,
            )  # fmt: skip
            continue
        column: list[Instruction | None] = [theirs[j] for j in their_indexes]
        for n in our_indexes:
            current: Instruction | None = ours[n]
            for k, theirs_k in enumerate(column):
                if theirs_k is None:
                    continue
                current, column[k] = transform_pair(current, theirs_k, ours_first)
                if current is None:
                    break
            out_ours[n] = [] if current is None else [current]
        for k, j in enumerate(their_indexes):
            item = column[k]
            out_theirs[j] = [] if item is None else [item]
    return (
        [i for items in out_ours for i in items],
        [i for items in out_theirs for i in items],
    )


def transform(ours: Changeset, theirs: Changeset) -> tuple[Changeset, Changeset]:
    """Reference version of :func:`studio.sync.merge.transform`."""
    our_key, their_key = order_key(ours), order_key(theirs)
    if our_key == their_key:
        raise MergeError(
            f"cannot order two concurrent changesets with the same timestamp "
            f"({ours.timestamp_ms}) and origin ({ours.origin_file_ident})"
        )
    a, b = transform_instructions(ours.instructions, theirs.instructions, our_key < their_key)
    return with_instructions(ours, a), with_instructions(theirs, b)


def transform_against(
    changeset: Changeset, others: Sequence[Changeset]
) -> tuple[Changeset, list[Changeset]]:
    """Reference version of :func:`studio.sync.merge.transform_against`."""
    out = []
    for other in others:
        changeset, other = transform(changeset, other)
        out.append(other)
    return changeset, out


def rebase(
    ours: Sequence[Changeset], theirs: Sequence[Changeset]
) -> tuple[list[Changeset], list[Changeset]]:
    """Reference version of :func:`studio.sync.merge.rebase`."""
    rest = list(theirs)
    out = []
    for changeset in ours:
        changeset, rest = transform_against(changeset, rest)
        out.append(changeset)
    return out, rest
