"""The sync client when things go wrong: garbage from the server, fatal connection
errors, commits from other processes, a write transaction held across an await."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgpack
from test_client_harness import (
    FAST,
    SCHEMA,
    eventually,
    make_app,
    make_user,
    run,
    running_server,
    send_raw,
)

from studio.core import Realm
from studio.sync.client import ClientResetMode, SyncConfig, SyncSessionError, SyncSessionState
from studio.sync.protocol import Error, encode_message

CHAT = "/shared/chat"


def add(realm: Realm, key: str) -> None:
    with realm.write():
        realm.create("Message", {"_id": key, "text": key, "author": "t", "n": 0})


def keys(realm: Realm) -> list[str]:
    return sorted(m._id for m in realm.objects("Message"))


@run
async def test_garbage_from_the_server_means_reconnect(tmp_path: Path) -> None:
    async with running_server() as server:
        app = make_app(server, tmp_path)
        realm = await app.open_realm(make_user("a"), CHAT, path=tmp_path / "a.realm",
                                     schema=SCHEMA)  # fmt: skip
        await realm.sync_session.wait_for_download_completion(5)
        for junk in (b"\xc1\xff", msgpack.packb({"type": "nonsense"}), "text frame"):
            before = server.binds
            await send_raw(server, junk)
            await eventually(lambda before=before: server.binds > before)  # type: ignore[misc]
        add(realm, "after")
        await realm.sync_session.wait_for_upload_completion(5)
        assert realm.sync_session.state is SyncSessionState.ACTIVE
        await app.close()


@run
async def test_fatal_connection_error_stops_every_session(tmp_path: Path) -> None:
    async with running_server() as server:
        app = make_app(server, tmp_path)
        errors: list[SyncSessionError] = []
        realms = [
            await app.open_realm(make_user("a"), f"/shared/r{i}", path=tmp_path / f"{i}.realm",
                                 schema=SCHEMA, on_error=lambda s, e: errors.append(e))
            for i in range(2)
        ]  # fmt: skip
        for realm in realms:
            await realm.sync_session.wait_for_download_completion(5)
        await send_raw(server, encode_message(Error(105, "wrong protocol version", False)))
        await eventually(lambda: len(errors) == 2)
        assert {e.name for e in errors} == {"wrong_protocol_version"}
        assert all(r.sync_session.state is SyncSessionState.INVALID for r in realms)
        # resume() tries again after a fatal error
        realms[0].sync_session.resume()
        await realms[0].sync_session.wait_for_download_completion(5)
        await app.close()


@run
async def test_commits_of_another_process_are_uploaded(tmp_path: Path) -> None:
    async with running_server() as server:
        config = SyncConfig(reconnect_initial=0.02, reconnect_max=0.2, watch_interval=0.02)
        app = make_app(server, tmp_path, config)
        realm = await app.open_realm(make_user("a"), CHAT, path=tmp_path / "a.realm",
                                     schema=SCHEMA)  # fmt: skip
        other = Realm.open(tmp_path / "a.realm")  # another connection, as another process
        add(other, "elsewhere")
        other.close()
        reader = make_app(server, tmp_path / "r")
        copy = await reader.open_realm(make_user("b"), CHAT, path=tmp_path / "b.realm")
        await eventually(lambda: realm.history() == [])  # uploaded and acknowledged
        await copy.sync_session.wait_for_download_completion(5)
        assert keys(copy) == ["elsewhere"]
        await reader.close()
        await app.close()


@run
async def test_a_write_held_across_an_await_delays_downloads(tmp_path: Path) -> None:
    async with running_server() as server:
        a_app, b_app = make_app(server, tmp_path / "a", FAST), make_app(server, tmp_path / "b")
        a = await a_app.open_realm(make_user("a"), CHAT, path=tmp_path / "a.realm", schema=SCHEMA)
        b = await b_app.open_realm(make_user("b"), CHAT, path=tmp_path / "b.realm", schema=SCHEMA)
        await a.sync_session.wait_for_download_completion(5)
        with a.write():
            a.create("Message", {"_id": "mine", "text": "t", "author": "a", "n": 0})
            add(b, "theirs")
            await b.sync_session.wait_for_upload_completion(5)
            await asyncio.sleep(0.1)  # the download waits for this transaction to end
            assert a.object_for_primary_key("Message", "theirs") is None
        await a.sync_session.wait_for_upload_completion(5)
        await a.sync_session.wait_for_download_completion(5)
        await b.sync_session.wait_for_download_completion(5)
        assert keys(a) == keys(b) == ["mine", "theirs"]
        await a_app.close()
        await b_app.close()


@run
async def test_a_server_that_forgot_the_realm_is_a_fatal_error_in_manual_mode(
    tmp_path: Path,
) -> None:
    # (By default the client resets instead: tests/sync/test_client_reset.py.)
    async with running_server() as server:
        app = make_app(server, tmp_path)
        errors: list[SyncSessionError] = []
        realm = await app.open_realm(
            make_user("a"), CHAT, path=tmp_path / "a.realm", schema=SCHEMA,
            on_error=lambda s, e: errors.append(e), client_reset=ClientResetMode.MANUAL,
        )  # fmt: skip
        add(realm, "one")
        await realm.sync_session.wait_for_upload_completion(5)
        server.histories.clear()  # the server lost its data: our identity means nothing
        await server.drop_connections()
        await eventually(lambda: bool(errors))
        assert (errors[0].name, errors[0].fatal) == ("bad_client_file_ident", True)
        assert errors[0].client_reset_required
        assert realm.sync_session.state is SyncSessionState.INVALID
        assert keys(realm) == ["one"]  # the local data stays
        await app.close()
