"""Client reset against the in-test server (tests/sync/test_client_harness.py):
the server's real ServerConnection and ServerHistory, with the realm deleted
and created again, or binds answered with client_file_expired (223)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_client_harness import SCHEMA, FakeServer, eventually, make_app, make_user, run
from test_client_harness import running_server as server_running

from studio.core import Realm
from studio.core.synced import get_sync_value
from studio.sync.client import (
    ClientResetMode,
    ClientResetResult,
    SyncSessionError,
    SyncSessionState,
)
from studio.sync.client import session as session_module
from studio.sync.client.app import SyncedRealm
from studio.sync.client.reset import download_path_for
from studio.sync.history import ServerHistory
from studio.sync.protocol import ErrorCode

CHAT = "/shared/chat"


def texts(realm: Realm) -> list[str]:
    chat = realm.object_for_primary_key("Chat", "c")
    return [] if chat is None else [m.text for m in chat.messages]


def post(realm: Realm, key: str, text: str) -> None:
    with realm.write():
        chat = realm.object_for_primary_key("Chat", "c") or realm.create("Chat", {"_id": "c"})
        chat.messages.append(
            realm.create("Message", {"_id": key, "text": text, "author": "x", "n": 0})
        )


class Resets:
    """Records the reset callbacks."""

    def __init__(self) -> None:
        self.before: list[list[str]] = []
        self.after: list[ClientResetResult] = []
        self.after_texts: list[list[str]] = []

    def on_before(self, realm: Realm) -> None:
        self.before.append(texts(realm))

    def on_after(self, realm: Realm, result: ClientResetResult) -> None:
        self.after.append(result)
        self.after_texts.append(texts(realm))


async def open_client(
    server: FakeServer, tmp: Path, name: str, resets: Resets | None = None, **options: Any
) -> SyncedRealm:
    app = make_app(server, tmp / f"app-{name}")
    if resets is not None:
        options.setdefault("on_before_reset", resets.on_before)
        options.setdefault("on_after_reset", resets.on_after)
    return await app.open_realm(
        make_user(name), CHAT, path=tmp / f"{name}.realm", schema=SCHEMA, **options
    )


def reserve_idents(server: FakeServer) -> None:
    """Idents the recreated realm will not know: the next client gets 6. (The
    in-test server has no salts; the object server refuses a reused ident with
    client_file_ident_mismatch, which resets too.)"""
    for _ in range(5):
        server.history(CHAT).allocate_file_ident()


def recreate_realm(server: FakeServer) -> ServerHistory:
    """The realm is deleted and created again (empty) on the server."""
    fresh = server.histories[CHAT] = ServerHistory()
    return fresh


async def offline_writes_then_server_recreated(
    server: FakeServer, tmp: Path, resets: Resets, **options: Any
) -> tuple[SyncedRealm, SyncedRealm]:
    """``a`` syncs "synced", goes offline, posts "offline-1/2"; the realm is
    recreated on the server, where ``c`` posts "server"; ``a`` comes back."""
    reserve_idents(server)
    a = await open_client(server, tmp, "a", resets, **options)
    post(a, "m0", "synced")
    await a.sync_session.wait_for_upload_completion(5)
    a.sync_session.pause()
    post(a, "m1", "offline-1")
    post(a, "m2", "offline-2")
    recreate_realm(server)
    c = await open_client(server, tmp, "c")
    post(c, "s1", "server")
    await c.sync_session.wait_for_upload_completion(5)
    assert not server.history(CHAT).knows_file_ident(a.sync_session.client_file_ident)
    a.sync_session.resume()
    return a, c


@run
async def test_recover_mode_resets_and_recovers_unsynced_changes(tmp_path: Path) -> None:
    async with server_running() as server:
        resets = Resets()
        errors: list[SyncSessionError] = []
        a, c = await offline_writes_then_server_recreated(
            server, tmp_path, resets, on_error=lambda s, e: errors.append(e)
        )
        old_ident = a.sync_session.client_file_ident
        await eventually(lambda: bool(resets.after), timeout=10)
        await a.sync_session.wait_for_upload_completion(5)
        await c.sync_session.wait_for_download_completion(5)
        await a.sync_session.wait_for_download_completion(5)
        # The server's copy first, then the recovered local posts (appended).
        assert texts(a) == ["server", "offline-1", "offline-2"]
        assert texts(c) == texts(a)
        # "synced" was on the deleted realm and is not in the fresh copy.
        assert a.object_for_primary_key("Message", "m0") is None
        assert resets.before == [["synced", "offline-1", "offline-2"]]
        result = resets.after[0]
        assert result.mode is ClientResetMode.RECOVER
        assert result.error_code == ErrorCode.BAD_CLIENT_FILE_IDENT
        assert result.unsynced_changesets == 2
        assert result.unrecovered == []
        assert a.sync_session.client_file_ident not in (0, old_ident)
        assert a.sync_session.state is SyncSessionState.ACTIVE
        assert [e.code for e in errors] == [ErrorCode.BAD_CLIENT_FILE_IDENT]
        assert not errors[0].fatal and errors[0].client_reset_required
        # The backup holds the file as it was, beside it, named for what it is.
        backup = result.backup_path
        assert backup.parent == tmp_path and ".before-reset-" in backup.name
        old = Realm.open(backup)
        assert texts(old) == ["synced", "offline-1", "offline-2"]
        old.close()
        assert not download_path_for(tmp_path / "a.realm").exists()


@run
async def test_discard_local_drops_unsynced_changes_and_reports_them(tmp_path: Path) -> None:
    async with server_running() as server:
        resets = Resets()
        a, c = await offline_writes_then_server_recreated(
            server, tmp_path, resets, client_reset=ClientResetMode.DISCARD_LOCAL
        )
        await eventually(lambda: bool(resets.after), timeout=10)
        await a.sync_session.wait_for_download_completion(5)
        assert texts(a) == ["server"]
        assert resets.after_texts == [["server"]]
        result = resets.after[0]
        assert result.mode is ClientResetMode.DISCARD_LOCAL
        assert result.recovery is None
        discarded = {i.primary_key for i in (u.instruction for u in result.unrecovered)
                     if type(i).__name__ == "CreateObject"}  # fmt: skip
        assert discarded == {"m1", "m2"}
        # Syncing goes on with the new identity.
        post(a, "m3", "after")
        await a.sync_session.wait_for_upload_completion(5)
        await c.sync_session.wait_for_download_completion(5)
        assert texts(c) == ["server", "after"]


@run
async def test_manual_mode_stops_the_session_with_a_reset_error(tmp_path: Path) -> None:
    async with server_running() as server:
        resets = Resets()
        a, _c = await offline_writes_then_server_recreated(
            server, tmp_path, resets, client_reset=ClientResetMode.MANUAL
        )
        await eventually(lambda: a.sync_session.state is SyncSessionState.INVALID)
        error = a.sync_session.error
        assert error is not None and error.fatal and error.client_reset_required
        assert resets.before == [] and resets.after == []
        assert texts(a) == ["synced", "offline-1", "offline-2"]
        assert list(tmp_path.glob("a.before-reset-*")) == []


@run
async def test_client_file_expired_resets_the_client(tmp_path: Path) -> None:
    """The contract with history compaction: a bind the server answers with
    client_file_expired (223) makes the client reset and recover."""
    async with server_running() as server:
        resets = Resets()
        a = await open_client(server, tmp_path, "a", resets)
        post(a, "m0", "synced")
        await a.sync_session.wait_for_upload_completion(5)
        a.sync_session.pause()
        post(a, "m1", "offline")
        c = await open_client(server, tmp_path, "c")
        post(c, "s1", "server")
        await c.sync_session.wait_for_upload_completion(5)
        expired = {a.sync_session.client_file_ident}
        server.reject_binds = lambda event: (
            (int(ErrorCode.CLIENT_FILE_EXPIRED), "compacted; reset the local realm")
            if event.client_file_ident in expired
            else None
        )
        a.sync_session.resume()
        await eventually(lambda: bool(resets.after), timeout=10)
        await a.sync_session.wait_for_upload_completion(5)
        await c.sync_session.wait_for_download_completion(5)
        assert resets.after[0].error_code == ErrorCode.CLIENT_FILE_EXPIRED
        # Realm's rule: a recovered insert keeps its local index (1 here).
        assert texts(a) == ["synced", "offline", "server"]
        assert texts(c) == texts(a)


@run
async def test_listeners_and_open_results_see_the_reset_as_a_change(tmp_path: Path) -> None:
    async with server_running() as server:
        resets = Resets()
        reserve_idents(server)
        a = await open_client(server, tmp_path, "a", resets)
        post(a, "m0", "synced")
        await a.sync_session.wait_for_upload_completion(5)
        messages = a.objects("Message")
        seen: list[Any] = []
        token = messages.add_listener(lambda results, changes: seen.append(changes))
        chat = a.object_for_primary_key("Chat", "c")
        a.sync_session.pause()
        recreate_realm(server)
        c = await open_client(server, tmp_path, "c")
        post(c, "s1", "server")
        await c.sync_session.wait_for_upload_completion(5)
        seen.clear()
        a.sync_session.resume()
        await eventually(lambda: bool(resets.after), timeout=10)
        await eventually(lambda: bool(seen))
        # The same Results object shows the new state; the chat object (in both
        # states) is still valid, the deleted message is reported as deleted.
        assert [m.text for m in messages] == ["server"]
        assert chat.is_valid and [m.text for m in chat.messages] == ["server"]
        change = seen[-1]
        assert change.deletions and change.insertions
        token.remove()


@run
async def test_recovery_failure_in_recover_mode_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("recovery broke")

    monkeypatch.setattr("studio.sync.client.reset.recover_changes", broken)
    async with server_running() as server:
        resets = Resets()
        a, _c = await offline_writes_then_server_recreated(server, tmp_path, resets)
        await eventually(lambda: a.sync_session.state is SyncSessionState.INVALID, timeout=10)
        assert "recovery broke" in str(a.sync_session.error)
        assert texts(a) == ["synced", "offline-1", "offline-2"]
        assert resets.after == []
        assert not download_path_for(tmp_path / "a.realm").exists()
        assert len(list(tmp_path.glob("a.before-reset-*"))) == 1


@run
async def test_recover_or_discard_falls_back_to_discarding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("recovery broke")

    monkeypatch.setattr("studio.sync.client.reset.recover_changes", broken)
    async with server_running() as server:
        resets = Resets()
        a, _c = await offline_writes_then_server_recreated(
            server, tmp_path, resets, client_reset=ClientResetMode.RECOVER_OR_DISCARD
        )
        await eventually(lambda: bool(resets.after), timeout=10)
        result = resets.after[0]
        assert result.mode is ClientResetMode.DISCARD_LOCAL
        assert result.recovery_error == "recovery broke"
        assert texts(a) == ["server"]


@run
async def test_a_reset_interrupted_after_the_download_is_finished_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between the download and the swap: the next open finishes the
    reset from the complete download, without the server."""

    def crash(*args: Any) -> Any:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(session_module, "adopt_fresh_copy", crash)
    # A crash leaves the download where it is.
    monkeypatch.setattr(session_module, "remove_realm_file", lambda path: None)
    async with server_running() as server:
        resets = Resets()
        a, _c = await offline_writes_then_server_recreated(server, tmp_path, resets)
        await eventually(lambda: a.sync_session.state is SyncSessionState.INVALID, timeout=10)
        a.close()
    download = download_path_for(tmp_path / "a.realm")
    assert download.exists()
    monkeypatch.undo()
    async with server_running() as other_server:  # never reached: nothing to sync yet
        resets = Resets()
        app = make_app(other_server, tmp_path / "app-a2")
        a = await app.open_realm(
            make_user("a"), CHAT, path=tmp_path / "a.realm", schema=SCHEMA,
            on_after_reset=resets.on_after,
        )  # fmt: skip
        assert not download.exists()
        assert texts(a) == ["server", "offline-1", "offline-2"]
        assert resets.after[0].unsynced_changesets == 2
        assert a.sync_session.history.pending  # the recovered changes wait for upload
        await app.close()


@run
async def test_an_incomplete_download_is_discarded_on_open(tmp_path: Path) -> None:
    async with server_running() as server:
        a = await open_client(server, tmp_path, "a")
        post(a, "m0", "kept")
        a.close()
        download = download_path_for(tmp_path / "a.realm")
        partial = Realm.open(download, schema=SCHEMA)
        partial.close()
        resets = Resets()
        a = await open_client(server, tmp_path, "a", resets)
        assert not download.exists()
        assert texts(a) == ["kept"] and resets.after == []
        assert get_sync_value(a, "client_file_ident") != "0"


@run
async def test_writes_made_during_the_download_are_recovered_and_backed_up(
    tmp_path: Path,
) -> None:
    async with server_running() as server:
        resets = Resets()

        def before(realm: Realm) -> None:
            resets.on_before(realm)
            server.hold = True  # the download waits until the app has written

        a, c = await offline_writes_then_server_recreated(
            server, tmp_path, resets, on_before_reset=before
        )
        await eventually(lambda: a.sync_session.resetting and server.hold)
        post(a, "m3", "during")
        server.hold = False
        await eventually(lambda: bool(resets.after), timeout=10)
        await a.sync_session.wait_for_upload_completion(5)
        await c.sync_session.wait_for_download_completion(5)
        assert texts(a) == ["server", "offline-1", "offline-2", "during"]
        assert texts(c) == texts(a)
        backup = Realm.open(resets.after[0].backup_path)
        assert texts(backup) == ["synced", "offline-1", "offline-2", "during"]
        backup.close()


@run
async def test_a_download_the_server_refuses_fails_the_reset_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with server_running() as server:
        resets = Resets()
        errors: list[SyncSessionError] = []
        a, _c = await offline_writes_then_server_recreated(
            server, tmp_path, resets, on_error=lambda s, e: errors.append(e)
        )
        server.reject_binds = lambda event: (
            (int(ErrorCode.PERMISSION_DENIED), "no access any more")
            if event.client_file_ident == 0
            else None
        )
        await eventually(lambda: a.sync_session.state is SyncSessionState.INVALID, timeout=10)
        assert errors[-1].fatal and "no access any more" in errors[-1].message
        assert "client reset" in errors[-1].message
        assert texts(a) == ["synced", "offline-1", "offline-2"]
        assert resets.after == [] and not a.sync_session.resetting
        assert not download_path_for(tmp_path / "a.realm").exists()


@run
async def test_an_on_before_reset_that_raises_stops_the_reset(tmp_path: Path) -> None:
    def refuse(realm: Realm) -> None:
        raise RuntimeError("not now")

    async with server_running() as server:
        resets = Resets()
        a, _c = await offline_writes_then_server_recreated(
            server, tmp_path, resets, on_before_reset=refuse
        )
        await eventually(lambda: a.sync_session.state is SyncSessionState.INVALID, timeout=10)
        assert "not now" in str(a.sync_session.error)
        assert texts(a) == ["synced", "offline-1", "offline-2"]
        assert list(tmp_path.glob("a.before-reset-*")) == []
