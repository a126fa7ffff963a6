"""A client's sync state for one realm: its identity, cursors and the local
changesets the server has not acknowledged yet (the server's side is
:mod:`studio.sync.history`).

Keeps every local changeset until the server acknowledges it, always rebased
onto the last integrated server version: a downloaded changeset is transformed
against the pending ones (the mirror image of the server's transformation) and
the pending ones are rewritten to come after it.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Sequence

from studio.primitives.instructions import Changeset, Instruction
from studio.sync.errors import (
    RemoteProtocolError,
)
from studio.sync.history import BAD_CLIENT_VERSION, BAD_SERVER_VERSION, RemoteChangeset
from studio.sync.merge import ConcurrentChangesets


class ClientHistory:
    """A client's sync state for one realm: identity, cursors and the local
    changesets the server has not acknowledged yet.

    The owner (the client store) persists these fields with every local
    commit and with every integrated download; this object only holds and
    transforms them. ``pending`` is always based on
    ``last_integrated_server_version``.
    """

    def __init__(
        self,
        client_file_ident: int = 0,
        *,
        last_integrated_server_version: int = 0,
        last_acked_client_version: int = 0,
        latest_client_version: int = 0,
        pending: Iterable[Changeset] = (),
        client_file_salt: int = 0,
    ) -> None:
        self.client_file_ident = client_file_ident
        self.client_file_salt = client_file_salt
        """The secret the server issued with the ident (0: none yet); sent
        with every bind so that nobody else can bind as this ident."""
        self.last_integrated_server_version = last_integrated_server_version
        self.last_acked_client_version = last_acked_client_version
        self._pending: list[Changeset] = list(pending)
        # Set when downloads moved the base and _pending was not restamped yet:
        # restamping every pending changeset on every download costs O(pending)
        # dataclass copies per download, and mostly nobody looks at them.
        self._restamp = False
        self.latest_client_version = max(
            [latest_client_version, last_acked_client_version]
            + [c.client_version for c in self._pending]
        )

    @property
    def pending(self) -> list[Changeset]:
        """The unacknowledged local changesets, in client version order, each
        based on ``last_integrated_server_version``."""
        if self._restamp:
            base = self.last_integrated_server_version
            self._pending = [_based_on(c, base) for c in self._pending]
            self._restamp = False
        return self._pending

    @pending.setter
    def pending(self, changesets: list[Changeset]) -> None:
        self._pending = changesets
        self._restamp = False

    def set_file_ident(self, ident: int) -> None:
        """Adopt the identity the server assigned; stamps the pending changesets."""
        if ident <= 0:
            raise ValueError(f"a client file ident is positive, got {ident}")
        self.client_file_ident = ident
        self.pending = [
            c if c.origin_file_ident == ident else dataclasses.replace(c, origin_file_ident=ident)
            for c in self.pending
        ]

    def add_local(self, changeset: Changeset) -> Changeset:
        """Record a local write transaction; returns it as queued (origin and
        base filled in). Its client version must be higher than every earlier one."""
        if changeset.client_version <= self.latest_client_version:
            raise ValueError(
                f"client version {changeset.client_version} is not after "
                f"{self.latest_client_version}"
            )
        queued = dataclasses.replace(
            changeset,
            origin_file_ident=self.client_file_ident,
            last_integrated_server_version=self.last_integrated_server_version,
        )
        self._pending.append(queued)
        self.latest_client_version = changeset.client_version
        return queued

    def commit(self, instructions: Iterable[Instruction], timestamp_ms: int) -> Changeset:
        """Convenience: record ``instructions`` as the next client version."""
        return self.add_local(
            Changeset(
                self.client_file_ident,
                self.latest_client_version + 1,
                self.last_integrated_server_version,
                timestamp_ms,
                tuple(instructions),
            )
        )

    def unacknowledged_since(self, client_version: int) -> list[Changeset]:
        """Pending changesets after ``client_version`` (based on
        ``last_integrated_server_version``)."""
        base = self.last_integrated_server_version
        return [_based_on(c, base) for c in _after(self._pending, client_version)]

    def acknowledge(self, client_version: int) -> None:
        """The server has integrated our changesets up to ``client_version``."""
        if client_version > self.latest_client_version:
            raise RemoteProtocolError(
                f"the server acknowledged client version {client_version}, "
                f"but the latest local one is {self.latest_client_version}",
                code=BAD_CLIENT_VERSION,
            )
        if client_version > self.last_acked_client_version:
            self.last_acked_client_version = client_version
            self._pending = _after(self._pending, client_version)

    def integrate_download(
        self, changesets: Sequence[RemoteChangeset], server_version: int, upload_ack: int
    ) -> list[Changeset]:
        """Integrate a download; returns the changesets to apply to the local
        realm, in order (transformed to come after the pending local ones).

        All-or-nothing: on error (bad cursors from the server, a schema
        conflict with a pending local change) nothing changes.
        """
        base = self.last_integrated_server_version
        acked = self.last_acked_client_version
        # Indexed once for the whole batch (not at all for an empty one).
        sequence = ConcurrentChangesets(self.pending) if changesets else None
        out: list[Changeset] = []
        for remote in changesets:
            assert sequence is not None
            if remote.server_version <= base:
                raise RemoteProtocolError(
                    f"downloaded server version {remote.server_version}, "
                    f"but this client is already at {base}",
                    code=BAD_SERVER_VERSION,
                )
            own = remote.last_integrated_client_version
            if own < acked:
                raise RemoteProtocolError(
                    f"download says client version {own} was integrated, "
                    f"after the server acknowledged {acked}",
                    code=BAD_CLIENT_VERSION,
                )
            if own > self.latest_client_version:
                raise RemoteProtocolError(
                    f"download refers to client version {own}, "
                    f"but the latest local one is {self.latest_client_version}",
                    code=BAD_CLIENT_VERSION,
                )
            if own > acked:
                # Our changesets up to `own` precede this one on the server:
                # they are part of the state it applies to, not concurrent.
                acked = own
                sequence.discard_through(own)
            out.append(sequence.transform(remote.changeset))
            base = remote.server_version
        if server_version < base:
            raise RemoteProtocolError(
                f"download progress {server_version} is behind its last changeset {base}",
                code=BAD_SERVER_VERSION,
            )
        if upload_ack > self.latest_client_version:
            raise RemoteProtocolError(
                f"the server acknowledged client version {upload_ack}, "
                f"but the latest local one is {self.latest_client_version}",
                code=BAD_CLIENT_VERSION,
            )
        pending = self._pending if sequence is None else sequence.changesets()
        if upload_ack > acked:
            acked = upload_ack
            pending = _after(pending, upload_ack)
        self._pending = pending
        self._restamp = self._restamp or server_version != self.last_integrated_server_version
        self.last_integrated_server_version = server_version
        self.last_acked_client_version = acked
        return out


def _after(changesets: list[Changeset], client_version: int) -> list[Changeset]:
    """The changesets (in client version order) after ``client_version``."""
    start = bisect.bisect_right(changesets, client_version, key=_client_version)
    return changesets[start:]


def _client_version(changeset: Changeset) -> int:
    return changeset.client_version


def _based_on(changeset: Changeset, server_version: int) -> Changeset:
    if changeset.last_integrated_server_version == server_version:
        return changeset
    return Changeset(
        changeset.origin_file_ident,
        changeset.client_version,
        server_version,
        changeset.timestamp_ms,
        changeset.instructions,
    )
