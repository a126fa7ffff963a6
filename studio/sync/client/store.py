"""The sync state kept in a synced realm file, and applying downloads to it.

The cursors live in the realm's metadata (``studio.core.synced``) and the
unacknowledged local changesets are the rows of its history, so the realm file
alone says where a client stands; nothing is kept elsewhere. Invariant: the
pending changesets are always based on the stored ``server_version`` (every
download rewrites them, in the same transaction that stores the new cursor),
which is why loading just stamps that base on them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from studio.core.realm import Realm
from studio.core.synced import (
    apply_remote,
    get_sync_value,
    set_sync_values,
    store_sync_state,
    trim_history,
)
from studio.primitives.instructions import Changeset
from studio.sync.client.errors import ClientError
from studio.sync.client_history import ClientHistory
from studio.sync.protocol.events import ClientEvent, RemoteChanges

KEY_IDENT = "client_file_ident"
KEY_SALT = "client_file_salt"
"""Issued by the server with the ident; a file from before salts has none (0)."""
KEY_SERVER_VERSION = "server_version"  # the core stamps it on every local commit
KEY_UPLOAD_ACK = "upload_ack"
KEY_SERVER_URL = "server_url"
KEY_REALM_PATH = "realm_path"
KEY_USER = "user"

DownloadObserver = Callable[[int, Sequence[Changeset]], None]
"""``observer(server_version, changesets)``: see :meth:`SyncSession.add_download_observer`."""


class RealmStore:
    """Reads and writes the sync state of one realm file."""

    def __init__(self, realm: Realm, server_url: str, realm_path: str, username: str) -> None:
        self.realm = realm
        self.applying = False
        """True while this store commits a download (its listeners must not
        mistake that commit for a local one)."""
        self.download_observers: list[DownloadObserver] = []
        self._check_identity(server_url, realm_path, username)

    def _check_identity(self, server_url: str, realm_path: str, username: str) -> None:
        stored = {
            key: get_sync_value(self.realm, key)
            for key in (KEY_SERVER_URL, KEY_REALM_PATH, KEY_USER)
        }
        wanted = {KEY_SERVER_URL: server_url, KEY_REALM_PATH: realm_path, KEY_USER: username}
        if all(v is None for v in stored.values()):
            set_sync_values(self.realm, wanted)
            return
        # A file synced with one server realm must never bind another: its
        # client file ident and cursors mean nothing there.
        for key, value in wanted.items():
            if stored[key] != value:
                raise ClientError(
                    f"{self.realm.path} is synced with {stored[KEY_REALM_PATH]} on "
                    f"{stored[KEY_SERVER_URL]} as {stored[KEY_USER]}; it cannot sync "
                    f"{realm_path} on {server_url} as {username}. Use another local file."
                )

    def _int(self, key: str) -> int:
        return int(get_sync_value(self.realm, key, "0") or 0)

    def load(self) -> ClientHistory:
        """The client history as stored in the file."""
        ident = self._int(KEY_IDENT)
        server_version = self._int(KEY_SERVER_VERSION)
        acked = self._int(KEY_UPLOAD_ACK)
        pending = [
            dataclasses.replace(
                c, origin_file_ident=ident, last_integrated_server_version=server_version
            )
            for c in self.realm.history(since=acked)
        ]
        return ClientHistory(
            ident,
            last_integrated_server_version=server_version,
            last_acked_client_version=acked,
            latest_client_version=acked,
            pending=pending,
            client_file_salt=self._int(KEY_SALT),
        )

    def reload_into(self, history: ClientHistory) -> None:
        """Reset ``history`` (kept by reference elsewhere) to what the file holds."""
        fresh = self.load()
        history.client_file_ident = fresh.client_file_ident
        history.client_file_salt = fresh.client_file_salt
        history.last_integrated_server_version = fresh.last_integrated_server_version
        history.last_acked_client_version = fresh.last_acked_client_version
        history.latest_client_version = fresh.latest_client_version
        history.pending = fresh.pending

    def pull_local(self, history: ClientHistory) -> int:
        """Add the local commits made since the last pull to ``history``; returns how many.

        Never while someone else's write transaction is open: its history rows
        are not committed yet (and might be rolled back).
        """
        realm = self.realm
        if realm.is_closed or (realm.is_in_transaction and not self.applying):
            return 0
        new = realm.history(since=history.latest_client_version)
        for changeset in new:
            history.add_local(changeset)
        return len(new)

    def save_ident(self, ident: int, salt: int = 0) -> None:
        """Persist the identity the server assigned (and the salt that proves
        it is ours), before anything is uploaded with it."""
        changed: dict[str, int] = {}
        if self._int(KEY_IDENT) != ident:
            changed[KEY_IDENT] = ident
        if salt and self._int(KEY_SALT) != salt:
            changed[KEY_SALT] = salt
        if changed:
            set_sync_values(self.realm, changed)

    def integrate(
        self,
        history: ClientHistory,
        receive: Callable[[], list[ClientEvent]],
        *,
        acknowledgement_only: bool = False,
    ) -> list[ClientEvent]:
        """Integrate one download: ``receive`` feeds it to the protocol (which
        transforms it against ``history``); the result is applied, the cursors
        stored, rewritten local changesets saved and acknowledged ones trimmed,
        all in one write transaction.

        The local history is read under the same write lock, so a commit by
        another process cannot slip in between. If applying fails, the file is
        unchanged and ``history`` is reloaded from it before the error propagates.
        """
        if acknowledgement_only:
            return self._integrate_acknowledgement(history, receive)
        realm = self.realm
        received = False
        self.applying = True
        try:
            with realm.write(record=False):
                self.pull_local(history)
                before = {c.client_version: c.instructions for c in history.pending}
                acked_before = history.last_acked_client_version
                version_before = history.last_integrated_server_version
                # The protocol changes nothing when it raises (bad download).
                events = receive()
                received = True
                self._store_download(history, events, before, acked_before, version_before)
        except BaseException:
            if received:  # rolled back: the history must match the file again
                self.reload_into(history)
            raise
        finally:
            self.applying = False
        return events

    def _integrate_acknowledgement(
        self, history: ClientHistory, receive: Callable[[], list[ClientEvent]]
    ) -> list[ClientEvent]:
        """A download without changesets (it acknowledges uploads and moves the
        server version past them): nothing to transform or apply, so no write
        transaction and no listeners, just the cursors (and the trim) in one small
        transaction, durable before anyone hears of the acknowledgement.

        Outside the write lock: with nothing to transform, a local commit of
        another process landing meanwhile is simply pulled by the next pull."""
        self.pull_local(history)
        acked_before = history.last_acked_client_version
        version_before = history.last_integrated_server_version
        events = receive()
        try:
            if any(isinstance(e, RemoteChanges) and e.changesets for e in events):
                raise ClientError("a download announced without changesets brought some")
            acked = history.last_acked_client_version
            version = history.last_integrated_server_version
            if acked != acked_before or version != version_before:
                cursors = {KEY_SERVER_VERSION: version, KEY_UPLOAD_ACK: acked}
                trim = acked if acked > acked_before else 0
                store_sync_state(self.realm, cursors, trim)
        except BaseException:
            self.reload_into(history)  # the file is as it was: so must the history be
            raise
        return events

    def _store_download(
        self,
        history: ClientHistory,
        events: list[ClientEvent],
        before: Mapping[int, object],
        acked_before: int,
        version_before: int,
    ) -> None:
        remote = [c for e in events if isinstance(e, RemoteChanges) for c in e.changesets]
        acked = history.last_acked_client_version
        version = history.last_integrated_server_version
        if not remote and acked == acked_before and version == version_before:
            return
        # Only changesets the transformation actually changed are rewritten.
        rewritten = {
            c.client_version: c.instructions
            for c in history.pending
            if before.get(c.client_version) is not c.instructions
        }
        if remote:
            # Before applying, inside the transaction: observers read the old state.
            for observer in list(self.download_observers):
                observer(version, remote)
        instructions = [i for c in remote for i in c.instructions]
        # Only the cursors that moved (a client that uploads nothing never moves its
        # acknowledgement): one row less to write per download.
        cursors: dict[str, str | int] = {}
        if version != version_before:
            cursors[KEY_SERVER_VERSION] = version
        if acked != acked_before:
            cursors[KEY_UPLOAD_ACK] = acked
        apply_remote(self.realm, instructions, cursors=cursors, rewritten_local=rewritten)
        if acked > acked_before:
            trim_history(self.realm, acked)
