"""Sans-I/O: the situations that need a client reset, as the real server-side
protocol objects produce them, reach the client as session errors that
``SyncSessionError.client_reset_required`` recognises."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from studio.primitives.instructions import Changeset, CreateObject
from studio.sync.client import SyncSessionError
from studio.sync.client.errors import RESET_ERROR_CODES
from studio.sync.client_history import ClientHistory
from studio.sync.history import ServerHistory
from studio.sync.protocol import ClientConnection, ErrorCode, ServerConnection, SessionError

PATH = "/shared/test"


def synced_client(history: ServerHistory, writes: int) -> ClientHistory:
    """A client that uploaded ``writes`` changesets and downloaded them back."""
    ident = history.allocate_file_ident()
    for n in range(1, writes + 1):
        history.integrate(ident, [Changeset(ident, n, n - 1, n, (CreateObject("Item", n),))])
    return ClientHistory(
        ident,
        last_integrated_server_version=writes,
        last_acked_client_version=writes,
        latest_client_version=writes,
    )


def compacted(history: ServerHistory) -> ServerHistory:
    """Another client writes on; the history is compacted past our client."""
    other = history.allocate_file_ident()
    for n in range(1, 4):
        base = history.latest_version
        history.integrate(other, [Changeset(other, n, base, n, (CreateObject("Item", 100 + n),))])
    history.compact_before(history.latest_version)
    assert history.base_version > 4
    return history


def recreated(history: ServerHistory) -> ServerHistory:
    return ServerHistory()  # deleted and created again: nobody's ident is known


def restored_from_an_older_backup(history: ServerHistory) -> ServerHistory:
    older = ServerHistory()
    ident = older.allocate_file_ident()
    older.integrate(ident, [history.entry(1).changeset])
    return older  # the client's ident is known, its server version never existed


@pytest.mark.parametrize(
    ("server_change", "code"),
    [
        (compacted, ErrorCode.CLIENT_FILE_EXPIRED),
        (recreated, ErrorCode.BAD_CLIENT_FILE_IDENT),
        (restored_from_an_older_backup, ErrorCode.BAD_SERVER_VERSION),
    ],
)
def test_the_client_is_told_to_reset(
    server_change: Callable[[ServerHistory], ServerHistory], code: ErrorCode
) -> None:
    history = ServerHistory()
    local = synced_client(history, 4)
    server_history = server_change(history)
    client, server = ClientConnection(), ServerConnection()
    client.bind(1, PATH, "token", local)
    server.receive_data(client.data_to_send(), now_ms=0)
    server.accept_bind(1, server_history)
    (event,) = client.receive_data(server.data_to_send())
    assert isinstance(event, SessionError) and event.code == code and not event.try_again
    assert event.code in RESET_ERROR_CODES
    error = SyncSessionError(event.code, event.message, fatal=True)
    assert error.client_reset_required


def test_other_session_errors_do_not_ask_for_a_reset() -> None:
    for code in (ErrorCode.PERMISSION_DENIED, ErrorCode.SCHEMA_VIOLATION, ErrorCode.TOKEN_EXPIRED):
        assert not SyncSessionError(code, "x", fatal=True).client_reset_required
