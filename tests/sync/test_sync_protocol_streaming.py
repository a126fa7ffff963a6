"""Downloads in bursts (``ServerConnection(download_burst=...)``): the
server produces a big history a message at a time, as its transport drains,
and answers a mark only once everything before it was produced."""

from __future__ import annotations

from studio.primitives.instructions import Changeset, CreateObject
from studio.sync.history import ServerHistory
from studio.sync.protocol import (
    Bind,
    Cursors,
    Download,
    Ident,
    Mark,
    ServerConnection,
    decode_server_message,
    encode_message,
)

PATH = "/shared/stream"


def _history(versions: int) -> ServerHistory:
    history = ServerHistory()
    writer = history.allocate_file_ident()
    for version in range(1, versions + 1):
        history.integrate(
            writer,
            [Changeset(writer, version, version - 1, 5, (CreateObject("Item", version),))],
        )
    return history


def _sent(server: ServerConnection) -> list[object]:
    return [decode_server_message(frame) for frame in server.frames_to_send()]


def _versions(messages: list[object]) -> list[list[int]]:
    return [
        [c.server_version for c in m.changesets] for m in messages if isinstance(m, Download)
    ]


def test_downloads_after_a_bind_come_one_per_burst() -> None:
    server = ServerConnection(max_download_changesets=2, download_burst=1)
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    server.accept_bind(1, _history(7))
    # The bind itself costs nothing but the ident until the caller asks.
    [ident] = _sent(server)
    assert isinstance(ident, Ident)
    assert server.downloads_pending(1)
    assert not server.downloads_pending(1, until_version=0)
    bursts = []
    while server.downloads_pending(1):
        server.send_downloads(1)
        bursts.append(_versions(_sent(server)))
    assert bursts == [[[1, 2]], [[3, 4]], [[5, 6]], [[7]]]
    server.send_downloads(1)
    assert _sent(server) == []


def test_a_mark_is_answered_after_what_came_before_it() -> None:
    server = ServerConnection(max_download_changesets=2, download_burst=1)
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    server.accept_bind(1, _history(6))
    server.send_downloads(1)
    assert _versions(_sent(server)) == [[1, 2]]
    server.receive_message(encode_message(Mark(1, 9)), now_ms=0)
    out = _sent(server)
    assert _versions(out) == [[3, 4]] and Mark(1, 9) not in out
    server.send_downloads(1)
    out = _sent(server)
    assert _versions(out) == [[5, 6]] and out[-1] == Mark(1, 9)
    # Caught up: a mark is answered at once.
    server.receive_message(encode_message(Mark(1, 10)), now_ms=0)
    assert _sent(server) == [Mark(1, 10)]


def test_without_a_burst_everything_is_produced_at_once() -> None:
    server = ServerConnection(max_download_changesets=2)
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    server.accept_bind(1, _history(5))
    assert _versions(_sent(server)) == [[1, 2], [3, 4], [5]]
    assert not server.downloads_pending(1)


def test_an_acknowledgement_alone_is_pending_too() -> None:
    """A client that reconnects with nothing to download but an upload the
    server integrated after the client last heard from it."""
    history = _history(3)
    server = ServerConnection(download_burst=1)
    # The writer (ident 1) comes back at version 3, not knowing that its
    # changesets up to client version 3 were integrated.
    cursors = Cursors(last_integrated_server_version=3, last_acked_client_version=1)
    server.receive_message(encode_message(Bind(1, PATH, "t", 1, cursors)), now_ms=0)
    server.accept_bind(1, history)
    _sent(server)
    assert server.downloads_pending(1)
    server.send_downloads(1)
    [download] = _sent(server)
    assert isinstance(download, Download)
    assert download.changesets == () and download.upload_ack == 3
    assert not server.downloads_pending(1)


def test_a_connection_that_never_reads_a_stream_holds_no_stream_buffer() -> None:
    """Websocket connections get whole frames (receive_message) and never feed
    the stream reader: an idle one must not hold its ~512 KB buffer."""
    import tracemalloc

    from studio.sync.protocol import ClientConnection, ServerConnection

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [ServerConnection(), ClientConnection()]
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(held) == 2
    assert grown < 32 * 1024, f"{grown} bytes for two idle connections"
