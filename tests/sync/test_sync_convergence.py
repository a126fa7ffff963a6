"""Convergence: whatever the interleaving, every replica ends equal to the server.

Two levels:
* histories only: 2-3 clients make random concurrent changesets on a shared
  base; the server integrates the uploads in a random order, clients download
  at random moments;
* the whole protocol: the same through ClientConnection/ServerConnection with
  bytes delivered in random order and connections dropped at random.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import model
from sync_gen import Generator, base_state
from sync_net import Network

from studio.primitives.instructions import Changeset
from studio.sync.client_history import ClientHistory
from studio.sync.history import ServerHistory

# STUDIO_FUZZ_EXAMPLES sets how many random scenarios each property test tries (CI: 200).
FUZZ_EXAMPLES = int(os.environ.get("STUDIO_FUZZ_EXAMPLES", "200"))

SLOW = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Replica:
    def __init__(self, server: ServerHistory, rnd: random.Random) -> None:
        self.history = ClientHistory(server.allocate_file_ident())
        self.state = model.State()
        self.gen = Generator(rnd)

    def download(self, server: ServerHistory) -> None:
        batch = server.download(
            self.history.client_file_ident, self.history.last_integrated_server_version
        )
        for changeset in self.history.integrate_download(
            batch.changesets, batch.server_version, batch.upload_ack
        ):
            model.apply(self.state, changeset)


def run_histories(rnd: random.Random, clients: int, rounds: int) -> None:
    server = ServerHistory()
    server_state = model.State()
    seeder = server.allocate_file_ident()
    _, instructions = base_state(rnd)
    for entry in server.integrate(
        seeder, [Changeset(seeder, 1, 0, 0, tuple(instructions))]
    ).entries:
        model.apply(server_state, entry.changeset)
    replicas = [Replica(server, rnd) for _ in range(clients)]
    for replica in replicas:
        replica.download(server)
    clock = 1_000

    def integrate(replica: Replica) -> None:
        if replica.history.pending:
            result = server.integrate(replica.history.client_file_ident, replica.history.pending)
            for entry in result.entries:
                model.apply(server_state, entry.changeset)

    for _ in range(rounds):
        for replica in replicas:
            for _ in range(rnd.randint(0, 2)):
                # Client clocks are not in sync: timestamps jump around.
                clock += rnd.randint(-20, 20)
                changes = replica.gen.instructions(replica.state, rnd.randint(1, 4))
                replica.history.commit(changes, max(clock, 0))
        order = list(replicas)
        rnd.shuffle(order)
        for replica in order:
            if rnd.random() < 0.7:
                integrate(replica)
        for replica in replicas:
            if rnd.random() < 0.5:
                replica.download(server)
    for replica in replicas:
        integrate(replica)
    for replica in replicas:
        replica.download(server)

    expected = model.canonical(server_state)
    replay = model.State()
    for entry in server.entries():
        model.apply(replay, entry.changeset)
    assert model.canonical(replay) == expected
    for n, replica in enumerate(replicas):
        assert not replica.history.pending
        assert model.canonical(replica.state) == expected, (
            f"replica {n}: {model.to_plain(replica.state)}\nserver: {model.to_plain(server_state)}"
        )


@SLOW
@given(st.integers(0, 2**32 - 1), st.integers(2, 5), st.integers(1, 5))
def test_concurrent_changesets_converge_for_any_server_order(
    seed: int, clients: int, rounds: int
) -> None:
    # A failure names its seed: run_histories(random.Random(seed), clients, rounds) replays it.
    run_histories(random.Random(seed), clients, rounds)


def run_protocol(rnd: random.Random, clients: int, steps: int) -> None:
    names = [chr(ord("a") + n) for n in range(clients)]
    net = Network(names)
    _, instructions = base_state(rnd)
    net.connect("a")
    net.commit("a", instructions)
    net.sync_all()
    gens = {name: Generator(rnd) for name in names}
    for _ in range(steps):
        name = rnd.choice(names)
        peer = net.peers[name]
        roll = rnd.random()
        if roll < 0.3:
            net.commit(name, gens[name].instructions(peer.state.copy(), rnd.randint(1, 3)))
        elif roll < 0.55 and peer.up:
            net.deliver_up(name)
        elif roll < 0.8 and peer.down:
            net.deliver_down(name)
        elif roll < 0.88:
            net.drop(name)  # frames in flight are lost
        elif not peer.connected:
            net.connect(name)
    net.sync_all()
    net.assert_converged()
    assert not [e for e in net.server_events if type(e).__name__ == "SessionError"]


@SLOW
@given(st.integers(0, 2**32 - 1), st.integers(2, 5), st.integers(10, 120))
def test_protocol_with_random_delivery_and_disconnects_converges(
    seed: int, clients: int, steps: int
) -> None:
    # A failure names its seed: run_protocol(random.Random(seed), clients, steps) replays it.
    run_protocol(random.Random(seed), clients, steps)


@pytest.mark.slow
@pytest.mark.parametrize("block", range(4))
def test_seed_sweep(block: int) -> None:
    """A fixed sweep on top of hypothesis' search (what found the pipelining bug)."""
    for seed in range(block * 50, block * 50 + 50):
        run_histories(random.Random(seed), 3, 4)
        run_protocol(random.Random(seed), 3, 100)
