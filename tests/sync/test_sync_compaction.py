"""History compaction (ServerHistory.compact, studio.sync.squash).

The property: random concurrent histories, run twice with the same random
choices, once as they are and once with the server compacting at random
points (never past a client's progress). Every client inside the window
merges exactly as without compaction (same server entries, same states); a
new client bootstraps from the snapshot to the server's state; a new client
with offline changes converges with everyone else.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracles import model
from sync_gen import Generator, base_state
from sync_net import Network, Peer
from test_sync_convergence import SLOW

from studio.primitives.instructions import (
    EMBEDDED,
    AddClass,
    AddInteger,
    AddProperty,
    Changeset,
    CreateObject,
    DictSet,
    EraseObject,
    Link,
    ListErase,
    ListInsert,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.sync.client_history import ClientHistory
from studio.sync.errors import CompactionError, HistoryCompactedError
from studio.sync.history import SNAPSHOT_ORIGIN, ServerHistory
from studio.sync.squash import SquashedState, squash


class Replica:
    def __init__(self, server: ServerHistory, rnd: random.Random) -> None:
        self.history = ClientHistory(server.allocate_file_ident())
        self.state = model.State()
        self.gen = Generator(rnd)

    def download(self, server: ServerHistory, max_changesets: int | None = None) -> None:
        batch = server.download(
            self.history.client_file_ident,
            self.history.last_integrated_server_version,
            max_changesets,
            snapshot_of=server.base_version,
        )
        for changeset in self.history.integrate_download(
            batch.changesets, batch.server_version, batch.upload_ack
        ):
            model.apply(self.state, changeset)

    def upload(self, server: ServerHistory) -> None:
        if self.history.pending:
            server.integrate(
                self.history.client_file_ident,
                self.history.pending,
                snapshot_of=server.base_version,
            )


def replay(server: ServerHistory) -> Any:
    state = model.State()
    for entry in (*server.snapshot(), *server.entries()):
        model.apply(state, entry.changeset)
    return model.canonical(state)


def run(seed: int, clients: int, rounds: int, compact_seed: int | None) -> dict[str, Any]:
    """One scenario; compaction decisions come from their own random stream,
    so both runs of a seed make the same changes in the same order."""
    rnd = random.Random(seed)
    compactor = None if compact_seed is None else random.Random(compact_seed)
    server = ServerHistory()
    seeder = server.allocate_file_ident()
    _, instructions = base_state(rnd)
    server.integrate(seeder, [Changeset(seeder, 1, 0, 0, tuple(instructions))])
    replicas = [Replica(server, rnd) for _ in range(clients)]
    for replica in replicas:
        replica.download(server)
    clock = 1_000
    compactions = 0
    for _ in range(rounds):
        for replica in replicas:
            for _ in range(rnd.randint(0, 2)):
                clock += rnd.randint(-20, 20)  # client clocks are not in sync
                changes = replica.gen.instructions(replica.state, rnd.randint(1, 4))
                replica.history.commit(changes, max(clock, 0))
        order = list(replicas)
        rnd.shuffle(order)
        for replica in order:
            if rnd.random() < 0.7:
                replica.upload(server)
        for replica in replicas:
            if rnd.random() < 0.5:
                replica.download(server)
        if compactor is not None and compactor.random() < 0.6:
            window = min(r.history.last_integrated_server_version for r in replicas)
            if window > server.base_version:
                server.compact(compactor.randint(server.base_version + 1, window))
                compactions += 1
    for replica in replicas:
        replica.upload(server)
    for replica in replicas:
        replica.download(server)
    states = [model.canonical(r.state) for r in replicas]
    expected = replay(server)
    assert all(state == expected for state in states)
    return {
        "states": states,
        "entries": [
            (e.server_version, e.origin_file_ident, e.client_version, e.changeset)
            for e in server.entries()
        ],
        "server": server,
        "expected": expected,
        "compactions": compactions,
        "rnd": rnd,
    }


@SLOW
@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 4),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
def test_compaction_changes_no_merge_and_new_clients_bootstrap_to_the_same_state(
    seed: int, clients: int, rounds: int, compact_seed: int
) -> None:
    plain = run(seed, clients, rounds, None)
    compacted = run(seed, clients, rounds, compact_seed)
    # The clients inside the window merged exactly as without compaction.
    assert compacted["states"] == plain["states"]
    server: ServerHistory = compacted["server"]
    kept = {e[0]: e for e in compacted["entries"]}
    assert kept == {e[0]: e for e in plain["entries"] if e[0] > server.base_version}
    # A new client bootstraps from the snapshot (in small batches) to the same state.
    newcomer = Replica(server, random.Random(seed))
    while newcomer.history.last_integrated_server_version < server.latest_version:
        newcomer.download(server, max_changesets=2)
    assert model.canonical(newcomer.state) == plain["expected"]


@SLOW
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_a_new_client_with_offline_changes_converges_after_compaction(
    seed: int, compact_seed: int
) -> None:
    result = run(seed, 3, 4, compact_seed)
    server: ServerHistory = result["server"]
    rnd: random.Random = result["rnd"]
    old = Replica(server, rnd)  # a client already inside the window
    old.download(server)
    newcomer = Replica(server, rnd)
    # Offline before its first sync: it makes the same objects (same primary
    # keys) from nothing, concurrent to the whole compacted history.
    newcomer.state, offline = base_state(rnd, steps=6)
    newcomer.history.commit(offline, 500)
    newcomer.upload(server)  # based on version 0: merged with the snapshot
    for replica in (newcomer, old):
        replica.download(server)
    assert model.canonical(newcomer.state) == replay(server)
    assert model.canonical(old.state) == replay(server)


def run_protocol_with_compaction(rnd: random.Random, steps: int) -> int:
    """The whole protocol (ServerConnection, ClientConnection, frames in
    random order, dropped connections) with the server compacting up to the
    clients' recorded progress now and then, and a client that joins late
    with offline changes. Returns how many compactions happened."""
    names = ["a", "b", "c", "late"]
    net = Network(names[:3])
    _, instructions = base_state(rnd)
    net.connect("a")
    net.commit("a", instructions)
    net.sync_all()
    net.peers["late"] = Peer("late")  # never synced: no ident yet
    _, offline = base_state(rnd, steps=4)
    net.commit("late", offline)  # made before it ever synced
    gens = {name: Generator(rnd) for name in names}
    compactions = 0
    for step in range(steps):
        name = rnd.choice(names[:3] if step < steps // 2 else names)
        peer = net.peers[name]
        roll = rnd.random()
        if roll < 0.3:
            net.commit(name, gens[name].instructions(peer.state.copy(), rnd.randint(1, 3)))
        elif roll < 0.55 and peer.up:
            net.deliver_up(name)
        elif roll < 0.8 and peer.down:
            net.deliver_down(name)
        elif roll < 0.86:
            net.drop(name)
        elif roll < 0.93:
            history = net.history
            idents = history.client_idents()
            floor = min((history.client_progress(i) for i in idents), default=0)
            if floor > history.base_version and history.compact(floor) is not None:
                compactions += 1
        elif not peer.connected:
            net.connect(name)
    net.sync_all()
    net.assert_converged()
    errors = [e for e in net.server_events if type(e).__name__ == "SessionError"]
    assert not errors, errors
    return compactions


@SLOW
@given(st.integers(0, 2**32 - 1), st.integers(20, 80))
def test_protocol_with_compaction_and_a_late_offline_client_converges(
    seed: int, steps: int
) -> None:
    # A failure names its seed: run_protocol_with_compaction(random.Random(seed), steps).
    run_protocol_with_compaction(random.Random(seed), steps)


# --------------------------------------------------------------------------- examples

C = "Item"
SCHEMA = (
    AddClass(C, "id", "int", False, False),
    AddProperty(C, "n", "int?"),
    AddProperty(C, "tags", "string[]"),
    AddProperty(C, "friend", "object", object_type=C),
)


def history_of(*rows: tuple[Any, ...]) -> ServerHistory:
    server = ServerHistory()
    ident = server.allocate_file_ident()
    for n, row in enumerate(rows, start=1):
        server.integrate(ident, [Changeset(ident, n, n - 1, 100 + n, tuple(row))])
    return server


def test_squash_drops_erased_objects_and_keeps_the_last_set() -> None:
    server = history_of(
        (*SCHEMA, CreateObject(C, 1), CreateObject(C, 2)),
        (SetValue(C, 1, ("n",), 1), SetValue(C, 2, ("friend",), Link(C, 1))),
        (SetValue(C, 1, ("n",), 2), AddInteger(C, 1, ("n",), 5)),
        (CreateObject(C, 3), SetValue(C, 3, ("n",), 9), ListInsert(C, 2, ("tags",), 0, "a")),
        (EraseObject(C, 3), ListInsert(C, 2, ("tags",), 1, "b"), ListErase(C, 2, ("tags",), 0)),
        (EraseObject(C, 1),),
    )
    compaction = server.compact(6)
    assert compaction is not None and compaction.versions_before == 6
    (only,) = server.snapshot()
    assert only.server_version == 6 and only.origin_file_ident == SNAPSHOT_ORIGIN
    assert only.timestamp_ms == 106
    # Object 3 (created and erased) and object 1 (erased) are gone, and with
    # it 2's link; the Sets of 1.n are not there at all.
    assert only.changeset.instructions == (
        *SCHEMA,
        CreateObject(C, 2),
        SetValue(C, 2, ("friend",), None),
        ListInsert(C, 2, ("tags",), 0, "b"),
    )


def test_snapshot_writes_embedded_objects_dictionaries_and_sets() -> None:
    rows = (
        CreateObject(C, 1),
        SetValue(C, 1, ("address",), EMBEDDED),
        SetValue(C, 1, ("address", "city"), "Oslo"),
        ListInsert(C, 1, ("parts",), 0, EMBEDDED),
        SetValue(C, 1, ("parts", 0, "w"), 3),
        DictSet(C, 1, ("meta",), "k", EMBEDDED),
        SetValue(C, 1, ("meta", "k", "v"), True),
        SetInsert(C, 1, ("labels",), "x"),
    )
    state = SquashedState().fold([Changeset(1, 1, 0, 5, rows)])
    assert tuple(state.instructions()) == rows
    # And the result builds the same state again.
    again = SquashedState().fold([Changeset(0, 1, 0, 5, tuple(state.instructions()))])
    assert tuple(again.instructions()) == rows


def test_snapshot_is_cut_into_changesets_that_fit_under_the_floor() -> None:
    changesets = [Changeset(1, n, n - 1, n, (CreateObject(C, n),)) for n in range(1, 11)]
    runs, latest = squash(changesets, max_instructions=3)
    assert [len(r) for r in runs] == [3, 3, 3, 1] and latest == 10
    runs, _ = squash(changesets, max_instructions=3, max_changesets=2)
    assert [len(r) for r in runs] == [5, 5]


def test_a_history_that_does_not_apply_is_not_compacted() -> None:
    server = history_of((CreateObject(C, 1),), (SetValue(C, 2, ("n",), 1),))
    with pytest.raises(CompactionError, match=r"Item\[2\] does not exist"):
        server.compact(2)
    assert server.base_version == 0 and len(server.entries()) == 2


def test_clients_behind_the_floor_must_reset_unless_new() -> None:
    server = history_of((CreateObject(C, 1),), (CreateObject(C, 2),), (CreateObject(C, 3),))
    writer = 1
    reader = server.allocate_file_ident()
    server.compact(2)
    # The writer's changesets 1 and 2 were compacted: at version 0 its copy
    # would hold them twice, and at 1 it has a state that no longer exists.
    for version in (0, 1):
        assert not server.serves_from(writer, version)
        with pytest.raises(HistoryCompactedError) as info:
            server.download(writer, version)
        assert info.value.code == 223
    assert server.serves_from(writer, 2)
    # A client with nothing compacted bootstraps from version 0; part-way
    # through the snapshot only the session that started it may go on.
    assert server.serves_from(reader, 0)
    assert not server.serves_from(reader, 1)
    batch = server.download(reader, 0)
    assert [r.server_version for r in batch.changesets] == [2, 3]
    with pytest.raises(HistoryCompactedError):
        server.integrate(reader, [Changeset(reader, 1, 1, 9, (CreateObject(C, 9),))])
    result = server.integrate(reader, [Changeset(reader, 1, 0, 9, (CreateObject(C, 9),))])
    assert [e.server_version for e in result.entries] == [4]


def test_restore_rebuilds_a_compacted_history() -> None:
    server = history_of((*SCHEMA, CreateObject(C, 1)), (SetValue(C, 1, ("n",), 4),))
    server.integrate(1, [Changeset(1, 3, 2, 200, (CreateObject(C, 2),))])
    compaction = server.compact(2)
    assert compaction is not None
    restored = ServerHistory()
    restored.allocate_file_ident()
    restored.restore_compaction(2, compaction.snapshot, compaction.client_floors)
    entry = server.entry(3)
    restored.integrate(1, [entry.changeset])
    assert restored.last_client_version(1) == 3
    assert restored.entry(2) == server.entry(2)
    assert replay(restored) == replay(server)
    # The schema came back with the snapshot: a redefinition is still refused.
    with pytest.raises(Exception, match="schema mismatch"):
        restored.integrate(1, [Changeset(1, 4, 3, 300, (AddProperty(C, "n", "string"),))])
