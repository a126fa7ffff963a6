"""Client reset: a realm file the server can no longer sync incrementally starts
again from a fresh copy of the server's realm (docs/sync-client.md, "Client reset").

The server says so with a session error (:data:`RESET_ERROR_CODES`): the
client's server version was compacted away (``client_file_expired``), the
server does not know its client file ident or its version (the realm was
deleted and created again, or the server was restored from an older backup),
or the histories diverged. The session then (unless the mode is ``MANUAL``):

1. calls ``on_before_reset(realm)``; the realm still shows the old state;
2. downloads the server's realm with a new client file ident into
   ``NAME.reset-download.realm`` beside it (the app may go on writing);
3. copies the realm file to its backup, ``NAME.before-reset-<UTC time>.realm``
   beside it (kept; nothing deletes it), and marks the download complete,
   naming the backup;
4. in ONE write transaction of the app's realm (:func:`adopt_fresh_copy`):
   makes its objects equal to the fresh copy's, takes over the new ident and
   cursors, forgets the old local history and, in the recover modes, replays
   the unsynced local changesets on top (:mod:`studio.sync.client.recovery`);
5. deletes the downloaded file, calls ``on_after_reset(realm, result)`` and
   syncs on with the new identity (the recovered changes upload as usual).

A crash before step 4 commits leaves the realm file as it was: on the next
open, :func:`finish_interrupted_reset` completes the reset from a complete
download, or deletes an incomplete one (the server then asks for the reset
again). A crash after it leaves a download whose ident the realm already
has, which is just deleted.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.realm import Realm
from studio.core.synced import (
    clear_history,
    discard_recorded,
    get_sync_value,
    set_sync_values,
    write_backup,
)
from studio.sync.client.errors import RESET_ERROR_CODES, ClientResetError
from studio.sync.client.recovery import (
    RecoveryReport,
    UnrecoveredChange,
    record_missing_schema,
    recover_changes,
)
from studio.sync.client.state_copy import copy_state
from studio.sync.client.store import (
    KEY_IDENT,
    KEY_SALT,
    KEY_SERVER_VERSION,
    KEY_UPLOAD_ACK,
)

if TYPE_CHECKING:
    from studio.primitives.instructions import Changeset

log = logging.getLogger("studio.sync.client")

KEY_DOWNLOADED = "reset_download_complete"
"""In the downloaded file: "1" once it holds everything the server had."""
KEY_BACKUP = "reset_backup"
"""In the downloaded file: where the backup of the realm file being reset is."""
KEY_ERROR = "reset_error"
"""In the downloaded file: the error code that asked for the reset."""


class ClientResetMode(Enum):
    """What a client reset does with the local changes the server never got.

    ``RECOVER`` (default): replay them on the fresh copy (Realm's
    recoverUnsyncedChanges); if that fails, nothing changes and the session
    stops with a :class:`ClientResetError` (handle it as in ``MANUAL``).
    ``RECOVER_OR_DISCARD``: recover, and discard them if recovery fails.
    ``DISCARD_LOCAL``: drop them (they stay in the backup file).
    ``MANUAL``: no automatic reset; the session stops with a fatal
    :class:`~studio.sync.client.errors.SyncSessionError` whose
    ``client_reset_required`` is True: close the realm, move its file away
    and open it again.
    """

    RECOVER = "recover"
    RECOVER_OR_DISCARD = "recover_or_discard"
    DISCARD_LOCAL = "discard_local"
    MANUAL = "manual"


@dataclass(slots=True)
class ClientResetResult:
    """What a client reset did, passed to ``on_after_reset``.

    ``mode``: the mode that was carried out (``DISCARD_LOCAL`` after a
    ``RECOVER_OR_DISCARD`` fallback). ``backup_path``: the copy of the realm
    file as it was before. ``unsynced_changesets``: how many local changesets
    the server never acknowledged. ``recovery``: what the recovery did (None
    when discarding); ``unrecovered`` lists every local change that is not in
    the realm now (all of them, one entry per changeset, when discarding).
    """

    mode: ClientResetMode
    error_code: int
    backup_path: Path
    unsynced_changesets: int
    recovery: RecoveryReport | None
    unrecovered: list[UnrecoveredChange] = field(default_factory=list)
    recovery_error: str | None = None
    """Why recovery failed, when ``RECOVER_OR_DISCARD`` fell back to discarding."""


BeforeResetCallback = Callable[[Realm], None]
AfterResetCallback = Callable[[Realm, ClientResetResult], None]


@dataclass(frozen=True, slots=True)
class ClientResetConfig:
    """``open_realm(client_reset=..., on_before_reset=..., on_after_reset=...)``."""

    mode: ClientResetMode = ClientResetMode.RECOVER
    on_before_reset: BeforeResetCallback | None = None
    on_after_reset: AfterResetCallback | None = None


def is_reset_error(code: int) -> bool:
    return code in RESET_ERROR_CODES


# ---------------------------------------------------------------------------- files


def backup_path_for(file: Path, now: datetime.datetime | None = None) -> Path:
    """``chat.realm`` -> ``chat.before-reset-20261208T001500Z.realm`` (another one
    in the same second gets ``-2``, ``-3``, ...)."""
    moment = now or datetime.datetime.now(datetime.UTC)
    stem = f"{file.stem}.before-reset-{moment.strftime('%Y%m%dT%H%M%SZ')}"
    candidate = file.with_name(stem + file.suffix)
    n = 1
    while candidate.exists():
        n += 1
        candidate = file.with_name(f"{stem}-{n}{file.suffix}")
    return candidate


def download_path_for(file: Path) -> Path:
    """Where the fresh copy is downloaded: ``chat.reset-download.realm``."""
    return file.with_name(f"{file.stem}.reset-download{file.suffix}")


def remove_realm_file(file: Path) -> None:
    """Delete a realm file with its SQLite companions."""
    for path in (file, Path(f"{file}-wal"), Path(f"{file}-shm"), Path(f"{file}-journal")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def make_backup(realm: Realm) -> Path:
    path = backup_path_for(Path(realm.path))
    write_backup(realm, str(path))
    return path


def mark_download_complete(fresh: Realm, backup: Path, error_code: int) -> None:
    set_sync_values(
        fresh, {KEY_DOWNLOADED: 1, KEY_BACKUP: str(backup), KEY_ERROR: int(error_code)}
    )


# ---------------------------------------------------------------------------- the swap


def _int(realm: Realm, key: str) -> int:
    return int(get_sync_value(realm, key, "0") or 0)


def adopt_fresh_copy(
    realm: Realm, download: Path, backup: Path, mode: ClientResetMode, error_code: int
) -> ClientResetResult:
    """Step 4 and 5 above: make ``realm`` the fresh copy in ``download`` (plus the
    recovered local changes), in one write transaction, then delete the download.

    Raises :class:`ClientResetError` (and changes nothing) when the fresh copy
    cannot be adopted, or cannot be recovered onto in ``RECOVER`` mode.
    """
    if mode is ClientResetMode.MANUAL:
        raise ValueError("a MANUAL client reset is done by the app")
    fresh = Realm.open(download)
    before = Realm.open(backup)
    try:
        pending = realm.history(since=_int(realm, KEY_UPLOAD_ACK))
        cursors = {
            KEY_IDENT: _int(fresh, KEY_IDENT),
            KEY_SALT: _int(fresh, KEY_SALT),
            KEY_SERVER_VERSION: _int(fresh, KEY_SERVER_VERSION),
            KEY_UPLOAD_ACK: 0,
        }
        if cursors[KEY_IDENT] == 0:
            raise ClientResetError(f"the downloaded copy {download} has no client file ident")
        recovery_error: str | None = None
        report: RecoveryReport | None = None
        carried = mode
        if mode is not ClientResetMode.DISCARD_LOCAL:
            try:
                report = _swap(realm, fresh, before, cursors, pending, recover=True)
            except Exception as exc:
                if mode is ClientResetMode.RECOVER:
                    raise ClientResetError(
                        f"the unsynced local changes of {realm.path} could not be recovered "
                        f"onto the server's copy ({exc}); nothing was changed. The backup "
                        f"{backup} holds them; reset manually or open with another mode"
                    ) from exc
                recovery_error = str(exc)
                carried = ClientResetMode.DISCARD_LOCAL
        if report is None:
            try:
                _swap(realm, fresh, before, cursors, pending, recover=False)
            except Exception as exc:
                raise ClientResetError(
                    f"{realm.path} cannot take the server's copy of the realm ({exc}); "
                    "nothing was changed (a schema the server's copy contradicts?)"
                ) from exc
    finally:
        fresh.close()
        before.close()
    remove_realm_file(download)
    if report is not None:
        unrecovered = list(report.unrecovered)
    else:
        unrecovered = [
            UnrecoveredChange(c.client_version, i, "discarded by the client reset")
            for c in pending
            for i in c.instructions
        ]
    return ClientResetResult(
        carried,
        error_code,
        backup,
        len(pending),
        report,
        unrecovered,
        recovery_error,
    )


def _swap(
    realm: Realm,
    fresh: Realm,
    before: Realm,
    cursors: dict[str, int],
    pending: list[Changeset],
    *,
    recover: bool,
) -> RecoveryReport | None:
    report = None
    with realm.write():
        clear_history(realm)
        copy_state(fresh, realm)
        # The server's state is not a local change: only what follows uploads.
        discard_recorded(realm)
        # Before the commit, which stamps the new server version on its changeset.
        set_sync_values(realm, cursors)
        record_missing_schema(realm, fresh.schema)
        if recover:
            report = recover_changes(realm, pending, before)
    return report


def finish_interrupted_reset(
    realm: Realm, mode: ClientResetMode
) -> ClientResetResult | None:
    """On open: complete a reset a crash interrupted (see the module's docstring),
    or clean up after it. Returns the result when a reset was completed now."""
    download = download_path_for(Path(realm.path))
    if not download.exists():
        return None
    complete = False
    fresh_ident = 0
    backup = ""
    error_code = 0
    try:
        fresh = Realm.open(download)
        try:
            complete = get_sync_value(fresh, KEY_DOWNLOADED) == "1"
            fresh_ident = _int(fresh, KEY_IDENT)
            backup = get_sync_value(fresh, KEY_BACKUP) or ""
            error_code = _int(fresh, KEY_ERROR)
        finally:
            fresh.close()
    except Exception as exc:  # a torn file: it is only a download
        log.warning("discarding the unreadable client reset download %s: %s", download, exc)
    if (
        not complete
        or mode is ClientResetMode.MANUAL
        or fresh_ident == _int(realm, KEY_IDENT)  # adopted before the crash
        or not backup
        or not Path(backup).exists()
    ):
        remove_realm_file(download)
        return None
    log.info("finishing the client reset of %s interrupted by a crash", realm.path)
    return adopt_fresh_copy(realm, download, Path(backup), mode, error_code)
