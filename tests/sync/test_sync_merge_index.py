"""The indexed merge driver gives exactly what the plain grid gives.

``studio.sync.merge`` transforms changesets through an index of the buckets
(object properties, objects, schema items) they touch and skips the pairs
that cannot interact; ``oracles.merge_reference`` is the straightforward
driver it replaced. Both run on random valid changesets from ``sync_gen``
(links, erases, lists, embedded objects, schema), with conflicting schema
definitions and order-key ties mixed in, and must agree exactly: the same
instructions (type-strict, NaN-safe) and the same errors.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from oracles import merge_reference
from oracles.model import State
from sync_gen import CLASS, Generator, base_state
from sync_strategies import changeset_key, instruction_key

from studio.primitives.instructions import (
    OBJECT_INSTRUCTIONS,
    AddProperty,
    Changeset,
    CreateObject,
    EraseObject,
    Instruction,
    Link,
    ListInsert,
)
from studio.primitives.objectid import ObjectId
from studio.sync import client_history as client_history_module
from studio.sync import history as history_module
from studio.sync import merge
from studio.sync.client_history import ClientHistory
from studio.sync.errors import MergeError
from studio.sync.history import RemoteChangeset, ServerHistory
from studio.sync.merge import TouchIndex
from studio.sync.merge import index as merge_index


def key(result: Any) -> Any:
    """An exact, comparable form of a transformation result."""
    if isinstance(result, Changeset):
        return changeset_key(result)
    if isinstance(result, tuple | list):
        return tuple(key(x) for x in result)
    return instruction_key(result)


def outcome(run: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "ok", key(run(*args))
    except MergeError as exc:
        return "error", str(exc)


def agree(name: str, *args: Any) -> None:
    """``merge.<name>`` and ``merge_reference.<name>`` agree on ``args``."""
    indexed = outcome(getattr(merge, name), *args)
    assert indexed == outcome(getattr(merge_reference, name), *args)


def sequence(
    rnd: random.Random, state: State, origin: int, count: int, clock: list[int]
) -> list[Changeset]:
    """``count`` changesets one client makes in a row from ``state``."""
    gen = Generator(rnd)
    state = state.copy()
    out = []
    for version in range(1, count + 1):
        instructions: list[Instruction] = gen.instructions(state, rnd.randint(0, 7))
        if rnd.random() < 0.03:
            # A schema change the other side made differently.
            instructions.insert(
                rnd.randint(0, len(instructions)), AddProperty(CLASS, "n", f"t{origin}")
            )
        out.append(Changeset(origin, version, 0, rnd.choice(clock), tuple(instructions)))
    return out


# sync_gen's objects are Item 1, 2 and 3; every other scenario names them by
# keys of the other types (the index keys objects by exact value).
OTHER_KEYS: dict[Any, Any] = {
    1: ObjectId("6001c033600510df3bbfd864"),
    2: "2",
    3: uuid.UUID(int=3),
}


def other_keys(changeset: Changeset) -> Changeset:
    out = []
    for ins in changeset.instructions:
        if type(ins) in OBJECT_INSTRUCTIONS:
            fields: dict[str, Any] = {"primary_key": OTHER_KEYS[ins.primary_key]}  # type: ignore[union-attr]
            value = getattr(ins, "value", None)
            if isinstance(value, Link):
                fields["value"] = Link(value.class_name, OTHER_KEYS[value.primary_key])
            ins = dataclasses.replace(ins, **fields)
        out.append(ins)
    return dataclasses.replace(changeset, instructions=tuple(out))


def scenario(seed: int) -> tuple[list[Changeset], list[Changeset]]:
    ours, theirs = int_key_scenario(seed)
    if seed % 2:
        return [other_keys(c) for c in ours], [other_keys(c) for c in theirs]
    return ours, theirs


def int_key_scenario(seed: int) -> tuple[list[Changeset], list[Changeset]]:
    rnd = random.Random(seed)
    state, _ = base_state(rnd)
    # Few distinct timestamps: both conflict orders, and now and then a tie
    # (same timestamp and origin), which transform() refuses.
    clock = list(range(1, 4 + seed % 20))
    ours = sequence(rnd, state, 1, rnd.randint(1, 6), clock)
    theirs: list[Changeset] = []
    for origin in range(2, 2 + rnd.randint(1, 3)):
        theirs += sequence(rnd, state, origin, rnd.randint(0, 5), clock)
    if rnd.random() < 0.03 and theirs:
        n = rnd.randrange(len(theirs))
        theirs[n] = Changeset(1, 99, 0, ours[-1].timestamp_ms, theirs[n].instructions)
    return ours, theirs


@pytest.mark.parametrize("block", range(4))
def test_indexed_merge_matches_the_plain_grid(block: int) -> None:
    for seed in range(block * 250, block * 250 + 250):
        ours, theirs = scenario(seed)
        agree("rebase", ours, theirs)
        agree("transform_against", ours[0], theirs)
        for other in theirs[:3]:
            agree("transform", ours[0], other)
            for first_wins in (True, False):
                agree(
                    "transform_instructions", ours[0].instructions, other.instructions, first_wins
                )


def cs(origin: int, timestamp: int, *instructions: Instruction) -> Changeset:
    return Changeset(origin, 1, 0, timestamp, instructions)


def test_an_erase_meets_what_touches_the_list_entries_it_gained() -> None:
    # Ours erases Item 2; theirs first links to it from Item 1's list (so ours
    # gains an explicit ListErase there), then inserts into that list without
    # touching Item 2: the second changeset must meet the gained erase.
    refs = ("refs",)
    for early, late in ((1, 2), (2, 1)):
        ours = cs(1, early, EraseObject(CLASS, 2))
        theirs = [
            cs(2, late, ListInsert(CLASS, 1, refs, 0, Link(CLASS, 2))),
            cs(2, late + 5, ListInsert(CLASS, 1, refs, 0, Link(CLASS, 3))),
        ]
        agree("transform_against", ours, theirs)
        agree("rebase", [ours], theirs)
        # The mirror image: the erase in the sequence gains the entry, which a
        # later changeset of ours on that list must meet.
        agree("rebase", theirs, [ours])


def test_schema_mismatches_are_reported_in_our_order() -> None:
    ours = cs(
        1,
        1,
        AddProperty(CLASS, "b", "int"),
        AddProperty(CLASS, "a", "int"),
        CreateObject(CLASS, 1),
        CreateObject(CLASS, 2),
    )
    theirs = cs(2, 2, AddProperty(CLASS, "a", "string"), AddProperty(CLASS, "b", "string"))
    agree("transform", ours, theirs)
    agree("transform", theirs, ours)
    with pytest.raises(MergeError, match=r"Item\.b"):
        merge.transform(ours, theirs)


def test_unchanged_changesets_keep_their_identity() -> None:
    for seed in range(200):
        ours, theirs = scenario(seed)
        try:
            ours2, theirs2 = merge.rebase(ours, theirs)
            ref_ours, ref_theirs = merge_reference.rebase(ours, theirs)
        except MergeError:
            continue
        pairs = zip([*ours2, *theirs2], [*ref_ours, *ref_theirs], [*ours, *theirs], strict=True)
        for new, ref, old in pairs:
            assert (new is old) == (ref is old)


class ReferenceSequence:
    """``ConcurrentChangesets`` done with the plain grid."""

    def __init__(self, changesets: Sequence[Changeset] = ()) -> None:
        self.items = list(changesets)

    def append(self, changeset: Changeset) -> None:
        self.items.append(changeset)

    def transform(self, changeset: Changeset) -> Changeset:
        changeset, self.items = merge_reference.transform_against(changeset, self.items)
        return changeset

    def discard_through(self, client_version: int) -> None:
        self.items = [c for c in self.items if c.client_version > client_version]

    def changesets(self) -> list[Changeset]:
        return list(self.items)


@pytest.mark.parametrize("seed", range(6))
def test_concurrent_changesets_follow_the_plain_grid(seed: int) -> None:
    """Appends, transforms and discards interleaved, as the histories use them."""
    rnd = random.Random(seed)
    state, _ = base_state(rnd)
    clock = list(range(1, 30))
    pool = [c for origin in range(2, 6) for c in sequence(rnd, state, origin, 8, clock)]
    rnd.shuffle(pool)
    indexed, reference = merge.ConcurrentChangesets(), ReferenceSequence()
    ours = sequence(rnd, state, 1, 30, clock)
    for changeset in pool + ours:
        roll = rnd.random()
        if changeset.origin_file_ident != 1 and roll < 0.5:
            indexed.append(changeset)
            reference.append(changeset)
        elif roll < 0.9:
            result = outcome(indexed.transform, changeset)
            assert result == outcome(reference.transform, changeset)
            if result[0] == "error":
                # After an error a ConcurrentChangesets is in no defined state.
                indexed = merge.ConcurrentChangesets(reference.changesets())
        else:
            version = rnd.randint(0, 8)
            indexed.discard_through(version)
            reference.discard_through(version)
        assert key(indexed.changesets()) == key(reference.changesets())
        assert len(indexed) == len(reference.changesets())


def run_histories(seed: int) -> tuple[Any, ...]:
    """A random run of a server and three clients; everything they produced."""
    rnd = random.Random(seed)
    server = ServerHistory()
    seeder = server.allocate_file_ident()
    base, instructions = base_state(rnd)
    server.integrate(seeder, [Changeset(seeder, 1, 0, 0, tuple(instructions))])
    clients = []
    for _ in range(3):
        client = ClientHistory(server.allocate_file_ident())
        clients.append((client, Generator(rnd), base.copy()))
    downloads = []
    clock = 1_000
    for _ in range(6):
        for client, gen, state in clients:
            for _ in range(rnd.randint(0, 3)):
                clock += rnd.randint(-20, 20)
                client.commit(gen.instructions(state, rnd.randint(1, 5)), max(clock, 0))
        for client, _, _ in rnd.sample(clients, len(clients)):
            if client.pending and rnd.random() < 0.7:
                server.integrate(client.client_file_ident, client.pending)
        for client, _, _ in clients:
            if rnd.random() < 0.5:
                since = client.last_integrated_server_version
                batch = server.download(client.client_file_ident, since)
                changesets: tuple[RemoteChangeset, ...] = batch.changesets
                downloads.append(
                    client.integrate_download(changesets, batch.server_version, batch.upload_ack)
                )
    return (
        key([e.changeset for e in server.entries()]),
        key([c for batch in downloads for c in batch]),
        key([c for client, _, _ in clients for c in client.pending]),
    )


@pytest.mark.parametrize("seed", range(8))
def test_histories_integrate_as_with_the_plain_grid(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexed = run_histories(seed)
    monkeypatch.setattr(history_module, "ConcurrentChangesets", ReferenceSequence)
    monkeypatch.setattr(client_history_module, "ConcurrentChangesets", ReferenceSequence)
    assert run_histories(seed) == indexed


@pytest.mark.parametrize("seed", range(40))
def test_reused_indexes_give_the_same_results(seed: int) -> None:
    """A changeset's index is cached by its instructions: the same changesets
    transformed again and again, as row and as sequence member, in sequences
    rewritten in between, give what a cold cache and the plain grid give."""
    ours, theirs = scenario(seed)
    runs = []
    for cold in (True, False, False):
        if cold:
            merge_index._INDEX_CACHE.clear()
        sequence = merge.ConcurrentChangesets(theirs)
        rows = [outcome(sequence.transform, c) for c in ours]
        # The rewritten sequence and the original one again, both ways round.
        rewritten = sequence.changesets() if all(r[0] == "ok" for r in rows) else theirs
        runs.append(
            (
                rows,
                key(sequence.changesets()) if all(r[0] == "ok" for r in rows) else None,
                outcome(merge.rebase, theirs, ours),
                outcome(merge.rebase, ours, rewritten),
            )
        )
        agree("rebase", ours, theirs)
        agree("rebase", theirs, ours)
        agree("rebase", ours, rewritten)
    assert runs[0] == runs[1] == runs[2]


def test_the_index_cache_is_bounded() -> None:
    merge_index._INDEX_CACHE.clear()
    for n in range(merge_index._INDEX_CACHE_SIZE + 10):
        row = Changeset(1, n + 1, 0, 1, (CreateObject(CLASS, n),))
        merge.transform_against(row, [Changeset(2, 1, 0, 2, (CreateObject(CLASS, n),))])
    assert len(merge_index._INDEX_CACHE) <= merge_index._INDEX_CACHE_SIZE


@pytest.mark.parametrize("generation", [1, 3, 4096])
@pytest.mark.parametrize("seed", range(10))
def test_uploads_that_interact_with_nothing_skip_the_transformation(
    seed: int, generation: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server history's fast path (TouchIndex: nothing after the base
    touches what the upload touches, so it goes in as it came) gives exactly
    what transforming against everything after the base gives; with tiny
    generations the index often cannot answer and the full path runs."""
    monkeypatch.setattr(
        history_module, "TouchIndex", functools.partial(TouchIndex, generation=generation)
    )
    walks: list[int] = []
    full_walk = ServerHistory._foreign_since

    def counted(self: ServerHistory, *args: Any) -> Any:
        walks.append(1)
        return full_walk(self, *args)

    monkeypatch.setattr(ServerHistory, "_foreign_since", counted)
    calls: list[int] = []
    real_integrate = ServerHistory.integrate

    def integrate(self: ServerHistory, ident: int, changesets: Any, **kwargs: Any) -> Any:
        # Counted when the upload has new changesets: a pure resend is
        # recognised by client version alone and never walked.
        if changesets and changesets[-1].client_version > self.last_client_version(ident):
            calls.append(1)
        return real_integrate(self, ident, changesets, **kwargs)

    monkeypatch.setattr(ServerHistory, "integrate", integrate)
    fast = run_histories(seed)
    fast_walks, fast_calls = len(walks), len(calls)
    monkeypatch.setattr(TouchIndex, "covers", lambda self, base: False)
    walks.clear()
    calls.clear()
    assert run_histories(seed) == fast
    assert len(walks) == len(calls) == fast_calls  # without the index: always the full walk
    if generation == 4096:
        assert fast_walks < fast_calls  # the fast path was taken


def test_the_touch_index_answers_for_recent_bases_only() -> None:
    index = TouchIndex(first_version=1, generation=2)
    a, b = CreateObject(CLASS, 1), CreateObject(CLASS, 2)
    link = ListInsert(CLASS, 3, ("links",), 0, Link(CLASS, 2))
    erase_b = EraseObject(CLASS, 2)
    for version, ins in enumerate([(a,), (b,), (a,), ()], start=1):
        index.add(version, ins)
    assert index.next_version == 5
    # Two generations of two versions: 1..2 and 3..4.
    assert index.covers(0) and index.covers(2) and index.covers(4) and not index.covers(5)
    assert index.interacts_after(2, [(a,)])  # version 3 touched a
    assert not index.interacts_after(3, [(a,)])
    assert not index.interacts_after(2, [(b,)])  # b was touched at 2, not after
    assert index.interacts_after(1, [(b,)])
    index.add(5, (erase_b,))
    assert index.interacts_after(4, [(link,)])  # we link to what they erased
    index.add(6, (link,))
    assert index.covers(2) and not index.covers(1)  # versions 1..2 are forgotten now
    assert index.interacts_after(5, [(erase_b,)])  # they linked to what we erase
    assert not index.interacts_after(6, [(erase_b,), (a,)])
    with pytest.raises(ValueError, match="out of order"):
        index.add(8, ())


@pytest.mark.parametrize("seed", range(30))
def test_interaction_keys_are_the_keys_of_the_full_index(seed: int) -> None:
    """The fast path's keys (computed without the index) are the index's."""
    rnd = random.Random(seed)
    state, _ = base_state(rnd)
    for changeset in sequence(rnd, state, 1, 10, [1]):
        instructions = changeset.instructions
        merge_index._INDEX_CACHE.clear()
        merge_index._KEYS_CACHE.clear()
        touched, erased, targets = (set(k) for k in merge.interaction_keys(instructions))
        _, objects, index_erased, writers, _ = merge_index.cached_index(instructions)
        assert touched == set(objects) and erased == index_erased and targets == set(writers)
        # Served from the full index once it exists: the same answer.
        assert tuple(set(k) for k in merge.interaction_keys(instructions)) == (
            touched,
            erased,
            targets,
        )
