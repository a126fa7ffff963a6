"""An in-memory object server that can crash: the sans-I/O protocol objects
with the object server's durability rules, pumped by hand or at random.

What it models of ``studio.server`` (without any I/O):

* an upload is integrated into the in-memory :class:`ServerHistory` at once,
  but it is stored only at the next :meth:`CrashNet.commit`;
* every frame the server produces waits until everything integrated before
  it was produced is stored (the commit barrier): an acknowledgement never
  leaves before the changeset it acknowledges is durable;
* :meth:`CrashNet.crash` (a SIGKILL) loses everything not stored and every
  frame in flight, and the history is rebuilt from the stored entries the way
  the server does on restart (each entry replayed on the version before it);
* each client uploads one batch at a time, as the App's sync connection does
  (``AppConnection.upload``): new changesets wait until the batch in flight
  is acknowledged.

Each client appends unique values to one list, so a changeset stored twice
shows up as a duplicate value.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

from oracles import model
from oracles.model import State

from studio.primitives.instructions import Changeset, CreateObject, ListInsert
from studio.sync.client_history import ClientHistory
from studio.sync.history import HistoryEntry, ServerHistory
from studio.sync.protocol import (
    BindRequested,
    Bound,
    ChangesetsIntegrated,
    ClientConnection,
    ClientEvent,
    DownloadProgressed,
    RemoteChanges,
    ServerConnection,
    SessionError,
)

PATH = "/shared/crash"
CLASS = "Log"


@dataclass
class Client:
    name: str
    history: ClientHistory = field(default_factory=ClientHistory)
    state: State = field(default_factory=State)
    conn: ClientConnection | None = None
    server_conn: ServerConnection | None = None
    up: list[bytes] = field(default_factory=list)
    down: list[tuple[int, bytes]] = field(default_factory=list)
    """Frames from the server, each with the commit sequence number that must be stored first."""
    session: int = 0
    uploaded_through: int = 0
    """One batch in flight: what was uploaded on this binding (AppConnection.upload)."""
    written: int = 0
    errors: list[SessionError] = field(default_factory=list)


@dataclass
class Stored:
    entries: list[HistoryEntry] = field(default_factory=list)
    max_ident: int = 0
    progress: dict[int, int] = field(default_factory=dict)


class CrashNet:
    def __init__(
        self,
        names: list[str],
        *,
        max_upload: int = 100,
        max_download: int = 100,
    ) -> None:
        self.max_upload = max_upload
        self.max_download = max_download
        self.stored = Stored()
        self.history = ServerHistory()
        self.clients = {n: Client(n) for n in names}
        self.now = 1_000
        self.crashes = 0
        self.seq = 0
        """Bumped by every change the server must store (commit barrier)."""
        self.durable_seq = 0

    # ------------------------------------------------------------------ the server

    def commit(self) -> None:
        """The commit thread stores everything integrated so far; the other
        sessions then get a download of it."""
        latest = self.history.latest_version
        self.durable_seq = self.seq
        have = len(self.stored.entries)
        self.stored.entries.extend(
            self.history.entry(v) for v in range(have + 1, latest + 1)
        )
        self.stored.max_ident = self._max_ident()
        for ident in range(1, self.stored.max_ident + 1):
            self.stored.progress[ident] = self.history.client_progress(ident)
        for c in self.clients.values():
            if c.server_conn is not None and c.server_conn.bound_sessions():
                c.server_conn.send_downloads(until_version=latest)
                self._collect(c)

    def _max_ident(self) -> int:
        ident = self.stored.max_ident
        while self.history.knows_file_ident(ident + 1):
            ident += 1
        return ident

    def crash(self) -> None:
        """SIGKILL and restart: unstored changes and frames in flight are lost."""
        self.crashes += 1
        for c in self.clients.values():
            self.drop(c.name)
        history = ServerHistory()
        for _ in range(self.stored.max_ident):
            history.allocate_file_ident()
        for entry in self.stored.entries:
            # As studio.server.realms.build_history: replayed on the version before it.
            changeset = dataclasses.replace(
                entry.changeset, last_integrated_server_version=history.latest_version
            )
            history.integrate(entry.origin_file_ident, [changeset], now_ms=entry.integrated_at_ms)
        for ident, progress in self.stored.progress.items():
            history.record_progress(ident, progress)
        self.history = history

    # ------------------------------------------------------------------ clients

    def connect(self, name: str) -> None:
        c = self.clients[name]
        assert c.conn is None
        c.conn = ClientConnection(max_upload_changesets=self.max_upload)
        c.server_conn = ServerConnection(max_download_changesets=self.max_download)
        c.session += 1
        c.uploaded_through = 0
        c.conn.bind(c.session, PATH, "token", c.history)
        self._collect(c)

    def drop(self, name: str) -> None:
        c = self.clients[name]
        if c.conn is not None:
            c.conn.connection_lost()
        c.conn = c.server_conn = None
        c.up.clear()
        c.down.clear()

    def write(self, name: str) -> None:
        """A local commit: append a unique value to the client's list."""
        c = self.clients[name]
        c.written += 1
        value = f"{name}-{c.written}"
        instructions = [ListInsert(CLASS, 1, (name,), len(_values(c.state, name)), value)]
        if c.written == 1:
            instructions.insert(0, CreateObject(CLASS, 1))
        model.apply(c.state, instructions)
        self.now += 1
        c.history.add_local(
            Changeset(
                c.history.client_file_ident,
                c.history.latest_client_version + 1,
                0,
                self.now,
                tuple(instructions),
            )
        )
        self._upload(c)

    def _upload(self, c: Client) -> None:
        conn = c.conn
        if conn is None or not _bound(c):
            return
        history = c.history
        if c.uploaded_through > history.last_acked_client_version:
            return  # a batch is in flight
        if history.latest_client_version <= history.last_acked_client_version:
            return
        conn.upload_pending(c.session)
        c.uploaded_through = history.latest_client_version
        self._collect(c)

    # ------------------------------------------------------------------ delivery

    def deliver_up(self, name: str) -> None:
        c = self.clients[name]
        assert c.server_conn is not None
        frame = c.up.pop(0)
        self.now += 1
        events = c.server_conn.receive_message(frame, now_ms=self.now)
        for event in events:
            if isinstance(event, BindRequested):
                c.server_conn.accept_bind(event.session, self.history)
                if event.client_file_ident == 0:
                    self.seq += 1  # the new ident is stored before the ident message leaves
            elif isinstance(event, ChangesetsIntegrated):
                self.seq += 1
            elif isinstance(event, SessionError):
                c.errors.append(event)
        self._collect(c)

    def can_deliver_down(self, name: str) -> bool:
        c = self.clients[name]
        return bool(c.down) and c.down[0][0] <= self.durable_seq

    def deliver_down(self, name: str) -> None:
        c = self.clients[name]
        assert c.conn is not None and self.can_deliver_down(name)
        _, frame = c.down.pop(0)
        events: list[ClientEvent] = c.conn.receive_message(frame, now_ms=self.now)
        for event in events:
            if isinstance(event, RemoteChanges):
                for changeset in event.changesets:
                    model.apply(c.state, changeset)
            elif isinstance(event, Bound):
                c.uploaded_through = c.history.latest_client_version
            elif isinstance(event, SessionError):
                c.errors.append(event)
        if any(isinstance(e, DownloadProgressed) for e in events):
            self._upload(c)
        self._collect(c)

    def _collect(self, c: Client) -> None:
        if c.conn is not None:
            c.up.extend(c.conn.frames_to_send())
        if c.server_conn is not None:
            c.down.extend((self.seq, f) for f in c.server_conn.frames_to_send())

    # ------------------------------------------------------------------ driving

    def step(self, rng: random.Random, crash_weight: float = 0.01) -> None:
        """One random event."""
        names = list(self.clients)
        moves: list[tuple[float, str, str]] = []
        for n in names:
            c = self.clients[n]
            moves.append((1.0, "write", n))
            if c.conn is None:
                moves.append((0.5, "connect", n))
                continue
            if c.up:
                moves.append((3.0, "up", n))
            if self.can_deliver_down(n):
                moves.append((3.0, "down", n))
            moves.append((0.02, "drop", n))
        moves.append((1.0, "commit", ""))
        moves.append((crash_weight, "crash", ""))
        _, kind, name = rng.choices(moves, weights=[w for w, _, _ in moves])[0]
        self._do(kind, name)

    def _do(self, kind: str, name: str) -> None:
        if kind == "write":
            self.write(name)
        elif kind == "connect":
            self.connect(name)
        elif kind == "up":
            self.deliver_up(name)
        elif kind == "down":
            self.deliver_down(name)
        elif kind == "drop":
            self.drop(name)
        elif kind == "commit":
            self.commit()
        elif kind == "crash":
            self.crash()

    def settle(self, rounds: int = 10_000) -> None:
        """Connect everyone, deliver everything, store everything: until quiet."""
        for c in self.clients.values():
            if c.conn is None:
                self.connect(c.name)
        for _ in range(rounds):
            busy = False
            self.commit()
            for c in self.clients.values():
                while c.up:
                    self.deliver_up(c.name)
                    busy = True
                while self.can_deliver_down(c.name):
                    self.deliver_down(c.name)
                    busy = True
            if not busy:
                return
        raise AssertionError("the network did not settle")

    # ------------------------------------------------------------------ checks

    def errors(self) -> list[SessionError]:
        return [e for c in self.clients.values() for e in c.errors]

    def server_state(self) -> State:
        state = State()
        for entry in self.history.entries():
            model.apply(state, entry.changeset)
        return state

    def check(self) -> None:
        """No errors, nothing stored twice or lost, every replica equal to the server."""
        assert not self.errors(), self.errors()
        stored = [(e.origin_file_ident, e.client_version) for e in self.history.entries()]
        assert len(stored) == len(set(stored)), "a changeset was stored twice"
        server = self.server_state()
        for c in self.clients.values():
            assert not c.history.pending, f"{c.name} has unacknowledged changesets"
            values = _values(server, c.name)
            assert values == [f"{c.name}-{i}" for i in range(1, c.written + 1)], (
                f"{c.name}'s list on the server: {values}"
            )
            assert model.canonical(c.state) == model.canonical(server), f"{c.name} diverged"


def _bound(c: Client) -> bool:
    from studio.sync.protocol import SessionState

    return c.conn is not None and c.conn.session_state(c.session) is SessionState.BOUND


def _values(state: State, name: str) -> list[object]:
    obj = model.to_plain(state).get(CLASS, {}).get(1) or {}
    values = obj.get(name, [])
    assert isinstance(values, list)
    return values
