"""What the admin API says about one connected client (``GET /admin/connections/device``):
per bound realm, its client file ident, the last server version it said it has
integrated (its bind cursors and the base of its latest upload) against the realm's
latest ("missing N versions"), the version the server has sent it everything up to,
and its recent uploads read from the realm's history (the changesets whose origin is
its file ident).

The Studio's Connections tab shows this as "Debug this device"."""

from __future__ import annotations

from typing import Any, Protocol

from studio.core.describe import describe
from studio.server.binding import BoundSession

MAX_RECENT = 100


class _Versions(Protocol):
    def sent_version(self, session: int) -> int: ...


class _Connection(Protocol):
    @property
    def sc(self) -> _Versions: ...

    id: int
    address: str
    agent: str
    users: list[str]
    sessions: dict[int, BoundSession]


def device_view(connection: _Connection, recent: int) -> dict[str, Any]:
    """The connection's sessions with their progress and ``recent`` latest uploads."""
    return {
        "id": connection.id,
        "address": connection.address,
        "agent": connection.agent,
        "user": connection.users[0] if connection.users else None,
        "sessions": [_session(bound, recent, connection.sc.sent_version(bound.session))
                     for bound in sorted(connection.sessions.values(),
                                         key=lambda b: b.session)],
    }


def _session(bound: BoundSession, recent: int, sent: int) -> dict[str, Any]:
    history = bound.realm.history
    ident = bound.client_file_ident
    latest = history.latest_version
    integrated = history.client_progress(ident) if ident else 0
    uploads = []
    if ident and recent:
        for entry in reversed(history.entries()):  # newest first; stop at ``recent``
            if entry.origin_file_ident != ident:
                continue
            uploads.append({
                "server_version": entry.server_version,
                "client_version": entry.client_version,
                "timestamp_ms": entry.timestamp_ms,
                "instructions": [describe(i) for i in entry.changeset.instructions],
            })
            if len(uploads) >= recent:
                break
    return {
        "session": bound.session,
        "realm": bound.path,
        "user": bound.user,
        "level": bound.level.label,
        "client_file_ident": ident,
        "latest_version": latest,
        "integrated_version": integrated,
        "missing_versions": max(0, latest - integrated),
        "sent_version": sent,
        "last_client_version": history.last_client_version(ident) if ident else 0,
        "uploads": uploads,
    }
