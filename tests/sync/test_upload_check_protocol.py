"""The upload check at the protocol level (sans-I/O pump): a session whose
upload does not fit ends with a non-retryable error and nothing reaches the
history; the other session on the same connection goes on."""

from __future__ import annotations

from collections.abc import Sequence

from studio.primitives.instructions import (
    AddClass,
    AddProperty,
    Changeset,
    CreateObject,
    Instruction,
)
from studio.primitives.instructions import Set as SetValue
from studio.sync.client_history import ClientHistory
from studio.sync.history import ServerHistory
from studio.sync.protocol import (
    BindRequested,
    ClientConnection,
    ErrorCode,
    ServerConnection,
    SessionError,
    UploadAcknowledged,
)
from studio.sync.upload_check import SchemaIndex, check_changesets

SCHEMA: tuple[Instruction, ...] = (
    AddClass("Item", "_id", "int", False, False),
    AddProperty("Item", "name", "string"),
)
NOW = 1_000_000


class Realm:
    """What the object server keeps per realm: the history and its schema."""

    def __init__(self) -> None:
        self.history = ServerHistory()
        self.checked = 0

    def check(self, changesets: Sequence[Changeset], now_ms: int) -> None:
        self.checked += 1
        schema = SchemaIndex.from_changesets(e.changeset for e in self.history.entries())
        check_changesets(schema, changesets, now_ms=now_ms, max_clock_skew_ms=60_000)


def pump(client: ClientConnection, server: ServerConnection, realms: dict[str, Realm]) -> list:
    client_events: list = []
    busy = True
    while busy:
        busy = False
        for frame in client.frames_to_send():
            busy = True
            for event in server.receive_message(frame, now_ms=NOW):
                if isinstance(event, BindRequested):
                    realm = realms[event.path]
                    server.accept_bind(event.session, realm.history, check_upload=realm.check)
        for frame in server.frames_to_send():
            busy = True
            client_events.extend(client.receive_message(frame, now_ms=NOW))
    return client_events


def commit(client: ClientConnection, session: int, history: ClientHistory,
           instructions: Sequence[Instruction], ts: int = NOW) -> None:
    client.commit(
        session,
        Changeset(0, history.latest_client_version + 1, 0, ts, tuple(instructions)),
    )


def test_a_bad_upload_ends_its_session_only() -> None:
    realms = {"/a": Realm(), "/b": Realm()}
    client, server = ClientConnection(), ServerConnection()
    ha, hb = ClientHistory(), ClientHistory()
    client.bind(1, "/a", "t", ha)
    client.bind(2, "/b", "t", hb)
    pump(client, server, realms)
    commit(client, 1, ha, SCHEMA)
    commit(client, 2, hb, SCHEMA)
    pump(client, server, realms)
    assert realms["/a"].history.latest_version == realms["/b"].history.latest_version == 1

    commit(client, 1, ha, [CreateObject("Item", 1), SetValue("Item", 1, ("name",), 7)])
    events = pump(client, server, realms)
    errors = [e for e in events if isinstance(e, SessionError)]
    assert len(errors) == 1 and errors[0].session == 1
    assert errors[0].code == ErrorCode.SCHEMA_VIOLATION and not errors[0].try_again
    assert "changeset 2, instruction 1 (Set Item[1].name = 7)" in errors[0].message
    assert "Item.name is string: expected a string, got int 7" in errors[0].message
    assert realms["/a"].history.latest_version == 1  # nothing of it stored

    # Session 2 on the same connection goes on.
    commit(client, 2, hb, [CreateObject("Item", 1), SetValue("Item", 1, ("name",), "ok")])
    events = pump(client, server, realms)
    assert any(isinstance(e, UploadAcknowledged) and e.session == 2 for e in events)
    assert not any(isinstance(e, SessionError) for e in events)
    assert realms["/b"].history.latest_version == 2


def test_clock_skew_is_refused_before_the_history() -> None:
    realms = {"/a": Realm()}
    client, server = ClientConnection(), ServerConnection()
    history = ClientHistory()
    client.bind(1, "/a", "t", history)
    pump(client, server, realms)
    commit(client, 1, history, SCHEMA, ts=NOW + 60_001)
    events = pump(client, server, realms)
    errors = [e for e in events if isinstance(e, SessionError)]
    assert [e.code for e in errors] == [ErrorCode.CLOCK_SKEW]
    assert realms["/a"].history.latest_version == 0


def test_without_a_check_every_well_formed_upload_is_stored() -> None:
    """The hook is what makes the difference (the history alone stores it)."""
    history = ServerHistory()
    client, server = ClientConnection(), ServerConnection()
    mine = ClientHistory()
    client.bind(1, "/a", "t", mine)
    for frame in client.frames_to_send():
        for event in server.receive_message(frame, now_ms=NOW):
            if isinstance(event, BindRequested):
                server.accept_bind(event.session, history)
    client.receive_message(server.frames_to_send()[0], now_ms=NOW)
    commit(client, 1, mine, [CreateObject("Horse", 1)])
    for frame in client.frames_to_send():
        server.receive_message(frame, now_ms=NOW)
    assert history.latest_version == 1
