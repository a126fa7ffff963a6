"""An in-memory network: one server history, several clients, bytes pumped by hand.

Each :class:`Peer` is a client device with its own replica (a
:class:`~oracles.model.State`) and :class:`ClientHistory`; while connected
it has a :class:`ClientConnection` and the server a :class:`ServerConnection`
for it, with frames in flight in both directions. Tests decide which frame
arrives when, drop connections with frames in flight, and so on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from oracles import model
from oracles.model import State

from studio.primitives.instructions import Changeset, Instruction
from studio.sync.client_history import ClientHistory
from studio.sync.history import ServerHistory
from studio.sync.protocol import (
    BindRequested,
    ChangesetsIntegrated,
    ClientConnection,
    ClientEvent,
    RemoteChanges,
    ServerConnection,
    ServerEvent,
)

PATH = "/shared/test"


@dataclass
class Peer:
    name: str
    history: ClientHistory = field(default_factory=ClientHistory)
    state: State = field(default_factory=State)
    conn: ClientConnection | None = None
    server_conn: ServerConnection | None = None
    up: list[bytes] = field(default_factory=list)
    down: list[bytes] = field(default_factory=list)
    events: list[ClientEvent] = field(default_factory=list)
    session: int = 1
    applied: int = 0  # remote changesets applied, for tests that count

    @property
    def connected(self) -> bool:
        return self.conn is not None


class Network:
    def __init__(self, names: Iterable[str] = ("a", "b")) -> None:
        self.history = ServerHistory()
        self.server_state = State()
        self.server_events: list[ServerEvent] = []
        self.peers = {name: Peer(name) for name in names}
        self.now = 1_000

    # ------------------------------------------------------------------ topology

    def connect(self, name: str) -> Peer:
        peer = self.peers[name]
        assert peer.conn is None
        peer.conn = ClientConnection()
        peer.server_conn = ServerConnection()
        peer.up.clear()
        peer.down.clear()
        peer.conn.bind(peer.session, PATH, "token", peer.history)
        self._collect(peer)
        return peer

    def drop(self, name: str) -> None:
        """The connection breaks: every frame in flight is lost."""
        peer = self.peers[name]
        if peer.conn is not None:
            peer.conn.connection_lost()
        peer.conn = peer.server_conn = None
        peer.up.clear()
        peer.down.clear()

    # ------------------------------------------------------------------ local writes

    def commit(self, name: str, instructions: Iterable[Instruction]) -> Changeset:
        """A local write transaction on ``name``'s replica (online or offline)."""
        peer = self.peers[name]
        instructions = list(instructions)
        model.apply(peer.state, instructions)
        self.now += 1
        changeset = Changeset(
            peer.history.client_file_ident,
            peer.history.latest_client_version + 1,
            0,
            self.now,
            tuple(instructions),
        )
        if peer.conn is not None:
            queued = peer.conn.commit(peer.session, changeset)
            self._collect(peer)
            return queued
        return peer.history.add_local(changeset)

    # ------------------------------------------------------------------ delivery

    def deliver_up(self, name: str) -> list[ServerEvent]:
        """Deliver the oldest client->server frame of ``name``."""
        peer = self.peers[name]
        assert peer.server_conn is not None
        frame = peer.up.pop(0)
        self.now += 1
        events = peer.server_conn.receive_message(frame, now_ms=self.now)
        self.server_events.extend(events)
        for event in events:
            if isinstance(event, BindRequested):
                peer.server_conn.accept_bind(event.session, self.history)
            elif isinstance(event, ChangesetsIntegrated):
                for entry in event.entries:
                    model.apply(self.server_state, entry.changeset)
                # What the object server does: tell the other connections.
                for other in self.peers.values():
                    if other is not peer and other.server_conn is not None:
                        other.server_conn.send_downloads()
                        self._collect(other)
        self._collect(peer)
        return events

    def deliver_down(self, name: str) -> list[ClientEvent]:
        """Deliver the oldest server->client frame of ``name``."""
        peer = self.peers[name]
        assert peer.conn is not None
        frame = peer.down.pop(0)
        events = peer.conn.receive_message(frame, now_ms=self.now)
        peer.events.extend(events)
        for event in events:
            if isinstance(event, RemoteChanges):
                for changeset in event.changesets:
                    model.apply(peer.state, changeset)
                    peer.applied += 1
        self._collect(peer)
        return events

    def settle(self) -> None:
        """Deliver everything in flight, in both directions, until quiet."""
        busy = True
        while busy:
            busy = False
            for name, peer in self.peers.items():
                while peer.up:
                    self.deliver_up(name)
                    busy = True
                while peer.down:
                    self.deliver_down(name)
                    busy = True

    def sync_all(self) -> None:
        """Connect everyone who is offline and settle."""
        for name, peer in self.peers.items():
            if not peer.connected:
                self.reconnect(name)
        self.settle()

    def reconnect(self, name: str) -> Peer:
        self.drop(name)
        return self.connect(name)

    # ------------------------------------------------------------------ checks

    def replay(self) -> State:
        state = State()
        for entry in (*self.history.snapshot(), *self.history.entries()):
            model.apply(state, entry.changeset)
        return state

    def assert_converged(self) -> None:
        expected = model.canonical(self.server_state)
        assert model.canonical(self.replay()) == expected, "history replay != server state"
        for name, peer in self.peers.items():
            assert not peer.history.pending, f"{name} still has unacknowledged changesets"
            got = model.canonical(peer.state)
            if got != expected:
                raise AssertionError(
                    f"replica {name} diverged:\n  {model.to_plain(peer.state)}\n"
                    f"server:\n  {model.to_plain(self.server_state)}"
                )

    def _collect(self, peer: Peer) -> None:
        if peer.conn is not None:
            peer.up.extend(peer.conn.frames_to_send())
        if peer.server_conn is not None:
            peer.down.extend(peer.server_conn.frames_to_send())
