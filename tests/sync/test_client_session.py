"""The sync client against the in-test server (tests/sync/test_client_harness.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from test_client_harness import SCHEMA, FakeServer, eventually, make_app, make_user, run
from test_client_harness import running_server as server_running

from studio.core import Realm
from studio.core.errors import WrongTransactionStateError
from studio.sync.client import (
    Progress,
    SessionClosedError,
    SessionConnectionState,
    SyncSessionError,
    SyncSessionState,
)
from studio.sync.client.app import SyncedRealm

CHAT = "/shared/chat"


def texts(realm: Realm) -> list[str]:
    chat = realm.object_for_primary_key("Chat", "c")
    return [] if chat is None else [m.text for m in chat.messages]


def post(realm: Realm, key: str, text: str, author: str = "x") -> None:
    with realm.write():
        chat = realm.object_for_primary_key("Chat", "c") or realm.create("Chat", {"_id": "c"})
        chat.messages.append(
            realm.create("Message", {"_id": key, "text": text, "author": author, "n": 0})
        )


async def open_pair(
    server: FakeServer, tmp_path: Path
) -> tuple[list[Any], SyncedRealm, SyncedRealm]:
    apps = [make_app(server, tmp_path / name) for name in ("a", "b")]
    realms = [
        await app.open_realm(make_user(name), CHAT, path=tmp_path / f"{name}.realm", schema=SCHEMA)
        for app, name in zip(apps, ("a", "b"), strict=True)
    ]
    return apps, realms[0], realms[1]


@run
async def test_two_clients_converge_and_listeners_fire(tmp_path: Path) -> None:
    async with server_running() as server:
        apps, a, b = await open_pair(server, tmp_path)
        seen: list[list[str]] = []
        b.add_listener(lambda realm, changes: seen.append(texts(realm)))
        post(a, "m1", "hello")
        await a.sync_session.wait_for_upload_completion(5)
        await b.sync_session.wait_for_download_completion(5)
        assert texts(b) == ["hello"]
        assert ["hello"] in seen
        post(b, "m2", "hi back")
        await eventually(lambda: texts(a) == ["hello", "hi back"])
        assert a.sync_session.connection_state is SessionConnectionState.CONNECTED
        assert a.sync_session.client_file_ident != b.sync_session.client_file_ident
        # acknowledged changesets are trimmed from the local history
        await a.sync_session.wait_for_upload_completion(5)
        assert a.history() == []
        for app in apps:
            await app.close()
        assert a.is_closed and b.is_closed


@run
async def test_offline_edits_merge_in_the_same_order_everywhere(tmp_path: Path) -> None:
    async with server_running() as server:
        apps, a, b = await open_pair(server, tmp_path)
        post(a, "m0", "start")
        await a.sync_session.wait_for_upload_completion(5)
        await b.sync_session.wait_for_download_completion(5)
        a.sync_session.pause()
        b.sync_session.pause()
        assert a.sync_session.state is SyncSessionState.INACTIVE
        for i in range(3):
            post(a, f"a{i}", f"from a {i}")
            await asyncio.sleep(0.002)
            post(b, f"b{i}", f"from b {i}")
            await asyncio.sleep(0.002)
        assert len(texts(a)) == 4 and len(texts(b)) == 4
        a.sync_session.resume()
        b.sync_session.resume()
        for realm in (a, b):
            await realm.sync_session.wait_for_upload_completion(5)
        for realm in (a, b):
            await realm.sync_session.wait_for_download_completion(5)
        assert texts(a) == texts(b)
        # concurrent appends come out in time order
        assert texts(a) == ["start"] + [f"from {w} {i}" for i in range(3) for w in "ab"]
        for app in apps:
            await app.close()


@run
async def test_conflicting_field_edits_resolve_last_writer_wins(tmp_path: Path) -> None:
    async with server_running() as server:
        apps, a, b = await open_pair(server, tmp_path)
        post(a, "m", "original")
        await a.sync_session.wait_for_upload_completion(5)
        await b.sync_session.wait_for_download_completion(5)
        a.sync_session.pause()
        b.sync_session.pause()
        with b.write():
            b.object_for_primary_key("Message", "m").text = "b's edit"  # type: ignore[union-attr]
        await asyncio.sleep(0.01)
        with a.write():
            a.object_for_primary_key("Message", "m").text = "a's edit (later)"  # type: ignore[union-attr]
        a.sync_session.resume()  # the later edit reaches the server first
        await a.sync_session.wait_for_upload_completion(5)
        b.sync_session.resume()
        await b.sync_session.wait_for_upload_completion(5)
        await a.sync_session.wait_for_download_completion(5)
        await b.sync_session.wait_for_download_completion(5)
        assert texts(a) == texts(b) == ["a's edit (later)"]
        for app in apps:
            await app.close()


@run
async def test_one_connection_multiplexes_sessions_and_reconnects(tmp_path: Path) -> None:
    async with server_running() as server:
        app = make_app(server, tmp_path)
        user = make_user("ann")
        one = await app.open_realm(user, "/shared/one", path=tmp_path / "1.realm", schema=SCHEMA)
        two = await app.open_realm(user, "/~/two", path=tmp_path / "2.realm", schema=SCHEMA)
        await one.sync_session.wait_for_download_completion(5)
        await two.sync_session.wait_for_download_completion(5)
        assert len(server.clients) == 1
        assert set(server.histories) == {"/shared/one", "/u/ann/two"}
        states: list[SessionConnectionState] = []
        one.sync_session.add_connection_listener(lambda new, old: states.append(new))
        # Writes while the connection drops and comes back: nothing lost, nothing twice.
        for i in range(20):
            post(one, f"m{i}", f"text {i}")
            if i == 10:
                await server.drop_connections()
            await asyncio.sleep(0.001)
        await one.sync_session.wait_for_upload_completion(10)
        assert SessionConnectionState.CONNECTING in states
        assert states[-1] is SessionConnectionState.CONNECTED
        reader = make_app(server, tmp_path / "r")
        copy = await reader.open_realm(
            make_user("bob"), "/shared/one", path=tmp_path / "copy.realm", wait_for_download=True
        )
        assert texts(copy) == [f"text {i}" for i in range(20)]
        await reader.close()
        await app.close()


@run
async def test_server_restart_keeps_clients_going(tmp_path: Path) -> None:
    async with server_running() as server:
        apps, a, b = await open_pair(server, tmp_path)
        post(a, "m1", "before")
        await a.sync_session.wait_for_upload_completion(5)
        port = server.port
        await server.stop()
        post(a, "m2", "while down")  # offline: lands in the history only
        await asyncio.sleep(0.1)
        assert a.sync_session.connection_state is not SessionConnectionState.CONNECTED
        await server.start(port)
        await a.sync_session.wait_for_upload_completion(10)
        await b.sync_session.wait_for_download_completion(10)
        assert texts(b) == ["before", "while down"]
        for app in apps:
            await app.close()


@run
async def test_state_survives_closing_and_reopening(tmp_path: Path) -> None:
    async with server_running() as server:
        apps, a, b = await open_pair(server, tmp_path)
        post(a, "m1", "one")
        await a.sync_session.wait_for_upload_completion(5)
        await b.sync_session.wait_for_download_completion(5)
        ident = b.sync_session.client_file_ident
        await apps[1].close()
        post(a, "m2", "two")
        await a.sync_session.wait_for_upload_completion(5)
        # b writes offline with a plain Realm (no sync running), then syncs again
        plain = Realm.open(tmp_path / "b.realm")
        post(plain, "m3", "three")
        plain.close()
        binds = server.binds
        app_b = make_app(server, tmp_path / "b2")
        b2 = await app_b.open_realm(make_user("b"), CHAT, path=tmp_path / "b.realm")
        assert b2.sync_session.client_file_ident == ident
        await b2.sync_session.wait_for_upload_completion(5)
        await b2.sync_session.wait_for_download_completion(5)
        await a.sync_session.wait_for_download_completion(5)
        assert texts(a) == texts(b2) and sorted(texts(a)) == ["one", "three", "two"]
        assert server.binds == binds + 1
        # the server holds each changeset once
        history = server.history(CHAT)
        keys = [(e.origin_file_ident, e.client_version) for e in history.entries()]
        assert len(keys) == len(set(keys))
        await app_b.close()
        await apps[0].close()


@run
async def test_wrong_file_for_another_realm_is_refused(tmp_path: Path) -> None:
    async with server_running() as server:
        app = make_app(server, tmp_path)
        realm = await app.open_realm(make_user("a"), CHAT, path=tmp_path / "x.realm",
                                     schema=SCHEMA)  # fmt: skip
        realm.close()
        try:
            await app.open_realm(make_user("a"), "/shared/other", path=tmp_path / "x.realm")
        except Exception as exc:
            assert "/shared/chat" in str(exc)
        else:
            raise AssertionError("a file synced with one realm must not bind another")
        await app.close()


@run
async def test_permission_denied_is_fatal_and_reported(tmp_path: Path) -> None:
    async with server_running() as server:
        server.permissions["/shared/secret"] = {"ann": "write"}
        app = make_app(server, tmp_path)
        errors: list[SyncSessionError] = []
        realm = await app.open_realm(
            make_user("eve"), "/shared/secret", path=tmp_path / "s.realm", schema=SCHEMA,
            on_error=lambda session, error: errors.append(error),
        )
        try:
            await realm.sync_session.wait_for_download_completion(5)
        except SyncSessionError as exc:
            assert exc.name == "permission_denied" and exc.fatal
        else:
            raise AssertionError("the bind must fail")
        assert realm.sync_session.state is SyncSessionState.INVALID
        assert [e.name for e in errors] == ["permission_denied"]
        binds_tried = len(server.token_checks)
        await asyncio.sleep(0.2)
        assert len(server.token_checks) == binds_tried  # not retried
        await app.close()


@run
async def test_read_only_user_downloads_but_its_uploads_reach_nobody(tmp_path: Path) -> None:
    async with server_running() as server:
        server.permissions[CHAT] = {"w": "write", "r": "read", "o": "write"}
        w_app, r_app, o_app = (make_app(server, tmp_path / n) for n in "wro")
        writer = await w_app.open_realm(make_user("w"), CHAT, path=tmp_path / "w.realm",
                                        schema=SCHEMA)  # fmt: skip
        post(writer, "m1", "from the writer")
        await writer.sync_session.wait_for_upload_completion(5)
        errors: list[SyncSessionError] = []
        # A read-only user opens without a schema: it comes from the server.
        reader = await r_app.open_realm(
            make_user("r"), CHAT, path=tmp_path / "r.realm",
            on_error=lambda s, e: errors.append(e), wait_for_download=True, timeout=5,
        )
        assert texts(reader) == ["from the writer"]
        other = await o_app.open_realm(make_user("o"), CHAT, path=tmp_path / "o.realm",
                                       wait_for_download=True, timeout=5)  # fmt: skip
        post(reader, "evil", "from the reader")
        await eventually(lambda: bool(errors))
        assert errors[0].name == "permission_denied" and errors[0].fatal
        assert server.refused_uploads == 1
        post(writer, "m2", "still flowing")
        await writer.sync_session.wait_for_upload_completion(5)
        await other.sync_session.wait_for_download_completion(5)
        assert texts(other) == ["from the writer", "still flowing"]
        for app in (w_app, r_app, o_app):
            await app.close()


@run
async def test_expired_token_is_refreshed_and_the_bind_retried(tmp_path: Path) -> None:
    async with server_running() as server:
        app = make_app(server, tmp_path)
        user = make_user("ann", token="expired:ann")
        refreshed: list[int] = []

        async def refresh() -> None:
            refreshed.append(1)
            user._access_token = "tok:ann"

        user.refresh = refresh  # type: ignore[method-assign]
        errors: list[SyncSessionError] = []
        realm = await app.open_realm(user, CHAT, path=tmp_path / "t.realm", schema=SCHEMA,
                                     on_error=lambda s, e: errors.append(e))  # fmt: skip
        await realm.sync_session.wait_for_download_completion(5)
        assert refreshed == [1]
        assert [(e.name, e.fatal) for e in errors] == [("token_expired", False)]
        assert server.token_checks == ["expired:ann", "tok:ann"]
        await app.close()


@run
async def test_token_about_to_expire_is_refreshed_before_binding(tmp_path: Path) -> None:
    async with server_running() as server:
        app = make_app(server, tmp_path)
        user = make_user("ann", token="expired:ann")
        user._expires_at = time.monotonic() + 10  # within the refresh margin

        async def refresh() -> None:
            user._adopt({"access_token": "tok:ann", "expires_in": 900})

        user.refresh = refresh  # type: ignore[method-assign]
        realm = await app.open_realm(user, CHAT, path=tmp_path / "t.realm", schema=SCHEMA)
        await realm.sync_session.wait_for_download_completion(5)
        assert server.token_checks == ["tok:ann"]
        await app.close()


@run
async def test_progress_listeners_and_waits(tmp_path: Path) -> None:
    async with server_running() as server:
        apps, a, b = await open_pair(server, tmp_path)
        await a.sync_session.wait_for_upload_completion(5)
        uploads: list[Progress] = []
        downloads: list[Progress] = []
        a.sync_session.add_progress_listener(uploads.append, "upload")
        b.sync_session.add_progress_listener(downloads.append, "download")
        for i in range(5):
            post(a, f"m{i}", str(i))
        current: list[Progress] = []
        a.sync_session.add_progress_listener(current.append, "upload", "current")
        await a.sync_session.wait_for_upload_completion(5)
        await b.sync_session.wait_for_download_completion(5)
        assert uploads[-1].is_complete and uploads[-1].transferable >= 5
        assert current[-1].is_complete
        assert downloads and downloads[-1].is_complete
        # A stalled server: waits time out, writes do not block.
        server.hold = True
        post(a, "late", "late")
        try:
            await a.sync_session.wait_for_upload_completion(0.2)
        except TimeoutError:
            pass
        else:
            raise AssertionError("the upload cannot be acknowledged while the server holds")
        server.hold = False
        await a.sync_session.wait_for_upload_completion(5)
        for app in apps:
            await app.close()


@run
async def test_closing_fails_pending_waits(tmp_path: Path) -> None:
    async with server_running() as server:
        app = make_app(server, tmp_path)
        server.hold = True
        realm = await app.open_realm(make_user("a"), CHAT, path=tmp_path / "a.realm",
                                     schema=SCHEMA)  # fmt: skip
        waiting = asyncio.ensure_future(realm.sync_session.wait_for_download_completion())
        await asyncio.sleep(0.05)
        realm.close()
        try:
            await waiting
        except SessionClosedError:
            pass
        else:
            raise AssertionError("closing must end the wait")
        server.hold = False
        await app.close()


@run
async def test_reopening_a_closed_realm_on_the_same_app(tmp_path: Path) -> None:
    """Close unbinds; a reopen of the same path while that unbind is in flight
    waits for it (the protocol binds a path once per connection), several times
    in a row, and no local write is lost."""
    async with server_running() as server:
        apps, a, b = await open_pair(server, tmp_path)
        app = apps[0]
        user = a.sync_session.user
        await a.sync_session.wait_for_download_completion(5)
        for n in range(4):
            post(a, f"r{n}", f"round {n}")
            a.close()  # its unbind is still in flight: the reopen must wait for it
            a = await app.open_realm(user, CHAT, path=tmp_path / "a.realm")
            await a.sync_session.wait_for_upload_completion(5)
            assert a.sync_session.error is None
            assert a.sync_session.connection_state is SessionConnectionState.CONNECTED
        await b.sync_session.wait_for_download_completion(5)
        assert texts(b) == [f"round {n}" for n in range(4)]
        assert texts(a) == texts(b)
        # Closed right after opening, before its bind finished, twice.
        for n in range(2):
            a.close()
            a = await app.open_realm(user, CHAT, path=tmp_path / "a.realm")
            await asyncio.sleep(0)
            post(a, f"early{n}", f"early {n}")
        await a.sync_session.wait_for_upload_completion(5)
        await eventually(lambda: texts(b)[-2:] == ["early 0", "early 1"])
        # Closed after the unbind finished (not in flight any more) works too.
        a.close()
        await eventually(lambda: not app.sessions)
        a = await app.open_realm(user, CHAT, path=tmp_path / "a.realm")
        post(a, "last", "last")
        await a.sync_session.wait_for_upload_completion(5)
        await eventually(lambda: texts(b)[-1:] == ["last"])
        for each in apps:
            await each.close()


TAG = {"name": "Tag", "primaryKey": "_id", "properties": {"_id": "string", "hue": "int?"}}
MESSAGE_WITH_STARS = {
    "name": "Message",
    "primaryKey": "_id",
    "properties": {
        "_id": "string", "text": "string", "author": "string", "n": "int", "stars": "int?",
    },
}


@run
async def test_schema_added_inside_a_write_reaches_other_devices(tmp_path: Path) -> None:
    """The Studio editor's additive path: update_schema inside a write
    transaction, then objects of the new class and property in the same write."""
    async with server_running() as server:
        apps, a, b = await open_pair(server, tmp_path)
        post(a, "m1", "one")
        await a.sync_session.wait_for_upload_completion(5)
        # Outside a write transaction it is refused and changes nothing (that
        # path is opening the realm with the larger schema: a migration).
        with pytest.raises(WrongTransactionStateError, match="outside a write transaction"):
            a.update_schema([TAG])
        assert "Tag" not in {c.name for c in a.schema}
        with a.write():
            a.update_schema([TAG, MESSAGE_WITH_STARS])
            a.create("Tag", {"_id": "red", "hue": 3})
            a.object_for_primary_key("Message", "m1")["stars"] = 5
        await a.sync_session.wait_for_upload_completion(5)
        await b.sync_session.wait_for_download_completion(5)
        assert "Tag" in {c.name for c in b.schema}
        tag = b.object_for_primary_key("Tag", "red")
        assert tag is not None and tag["hue"] == 3
        assert b.object_for_primary_key("Message", "m1")["stars"] == 5
        # And the other way: b writes to what it learnt from a.
        with b.write():
            b.create("Tag", {"_id": "blue", "hue": 4})
        await eventually(lambda: a.object_for_primary_key("Tag", "blue") is not None)
        for app in apps:
            await app.close()
