"""The server's view of one client's history: its cursors checked against the
realm's history on bind, and the mirror of what the client has sent moved to
a new base the way the client moved it (see server_connection.py)."""

from __future__ import annotations

from studio.sync.client_history import ClientHistory
from studio.sync.history import RemoteChangeset, ServerHistory
from studio.sync.protocol.messages import Cursors, ErrorCode


def rebase_mirror(
    mirror: ClientHistory,
    history: ServerHistory,
    ident: int,
    base: int,
    snapshot_of: int | None = None,
) -> None:
    """Move the mirrored changesets to ``base`` the way the client did: it
    integrated the downloads up to ``base`` (the same history, so the same
    changesets and cursors) with them pending."""
    since = mirror.last_integrated_server_version
    acked_at_base = history.client_version_at(ident, base)
    if not mirror.pending or mirror.pending[-1].client_version <= acked_at_base:
        # Every pending changeset is in the history at or before ``base``: the
        # client dropped them all while integrating up to there (the usual
        # case, an upload after the previous one was acknowledged).
        mirror.pending = []
        mirror.last_acked_client_version = max(mirror.last_acked_client_version, acked_at_base)
        mirror.last_integrated_server_version = base
        return
    # The client version a download from `since` starts with.
    last_cv = history.download(ident, since, 0, snapshot_of=snapshot_of).upload_ack
    remotes: list[RemoteChangeset] = []
    # (download() checked that the history still holds ``since``; an upload
    # based past the latest version is refused by the history afterwards.)
    # (Below the floor, versions up to the snapshot's first are empty now.)
    first = max(since, history.snapshot_start) if since < history.base_version else since
    for version in range(first + 1, min(base, history.latest_version) + 1):
        entry = history.entry(version)
        if entry.origin_file_ident == ident:
            last_cv = entry.client_version
        else:
            remotes.append(RemoteChangeset(entry.server_version, last_cv, entry.changeset))
    mirror.integrate_download(remotes, base, last_cv)


def cursor_problem(
    history: ServerHistory, ident: int, cursors: Cursors
) -> tuple[ErrorCode, str] | None:
    version = cursors.last_integrated_server_version
    if version > history.latest_version:
        return (
            ErrorCode.BAD_SERVER_VERSION,
            f"the client is at server version {version}, "
            f"but the latest is {history.latest_version}",
        )
    if not history.serves_from(ident, version):
        return (
            ErrorCode.CLIENT_FILE_EXPIRED,
            f"the history up to server version {history.base_version} was compacted "
            f"and this client is at version {version}: it must reset its local realm "
            "(download the realm again)",
        )
    if cursors.last_acked_client_version > history.last_client_version(ident):
        return (
            ErrorCode.DIVERGING_HISTORIES,
            f"the client believes version {cursors.last_acked_client_version} was "
            f"acknowledged, but the server has {history.last_client_version(ident)}",
        )
    return None
