"""End to end: sync clients (studio.sync.client) against the real object server
(``python -m studio.server`` in a subprocess; in process where a test needs
to control the server's clock) on loopback."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from e2e_support import FAST, SCHEMA, admin_app, make_users
from server_process import ADMIN_PASSWORD, ServerProcess, eventually, run

from studio.core import Realm
from studio.server import Server, ServerConfig
from studio.sync.client import (
    App,
    AuthenticationError,
    SyncedRealm,
    SyncSessionError,
    SyncSessionState,
)


def texts(realm: Realm) -> list[str]:
    chat = realm.object_for_primary_key("Chat", "c")
    return [] if chat is None else [m.text for m in chat.messages]


def post(realm: Realm, key: str, text: str) -> None:
    with realm.write():
        chat = realm.object_for_primary_key("Chat", "c") or realm.create("Chat", {"_id": "c"})
        chat.messages.append(realm.create("Message", {"_id": key, "text": text, "author": "e2e"}))


async def open_as(
    server: ServerProcess, tmp: Path, user: str, realm: str, **kwargs: object
) -> tuple[App, SyncedRealm]:
    app = App(server.url, config=FAST)
    u = await app.login(user, "pw")
    opened = await app.open_realm(u, realm, path=tmp / f"{user}-{realm.strip('/')}.realm"
                                  .replace("/", "_"), **kwargs)  # type: ignore[arg-type]
    return app, opened


@run
async def test_clients_converge_merge_offline_edits_and_last_writer_wins(
    server: ServerProcess, tmp_path: Path
) -> None:
    realm_path = "/shared/e2e-chat"
    admin = await admin_app(server)
    names = ["ann", "ben", "cat"]
    await make_users(admin, realm_path, {n: "write" for n in names})
    clients = [await open_as(server, tmp_path, n, realm_path, schema=SCHEMA) for n in names]
    realms = [r for _a, r in clients]
    ann, ben, cat = realms
    post(ann, "hello", "hello")
    for r in realms:
        await r.sync_session.wait_for_upload_completion(10)
    for r in realms:
        await r.sync_session.wait_for_download_completion(10)
    assert [texts(r) for r in realms] == [["hello"]] * 3

    # Offline on all three: messages interleaved in time, and a conflicting title.
    for r in realms:
        r.sync_session.pause()
    for i in range(3):
        for name, r in zip(names, realms, strict=True):
            post(r, f"{name}{i}", f"{name} {i}")
            await asyncio.sleep(0.003)
    for r, title in ((ben, "ben's title"), (cat, "cat's title"), (ann, "ann's title, last")):
        with r.write():
            r.object_for_primary_key("Chat", "c").title = title  # type: ignore[union-attr]
        await asyncio.sleep(0.003)
    for r in reversed(realms):  # the last writer reconnects first
        r.sync_session.resume()
        await r.sync_session.wait_for_upload_completion(10)
    for r in realms:
        await r.sync_session.wait_for_download_completion(10)
    expected = ["hello"] + [f"{n} {i}" for i in range(3) for n in names]
    assert [texts(r) for r in realms] == [expected] * 3
    titles = {r.object_for_primary_key("Chat", "c").title for r in realms}  # type: ignore[union-attr]
    assert titles == {"ann's title, last"}
    for app, _r in clients:
        await app.close()
    await admin.close()


@run
async def test_read_only_user_downloads_but_cannot_upload(
    server: ServerProcess, tmp_path: Path
) -> None:
    realm_path = "/shared/e2e-readonly"
    admin = await admin_app(server)
    await make_users(admin, realm_path, {"wri": "write", "rea": "read", "oth": "write"})
    w_app, writer = await open_as(server, tmp_path, "wri", realm_path, schema=SCHEMA)
    post(writer, "w1", "from the writer")
    await writer.sync_session.wait_for_upload_completion(10)
    errors: list[SyncSessionError] = []
    # Without a schema: a read-only user takes the server's (see docs/sync-client.md).
    r_app, reader = await open_as(server, tmp_path, "rea", realm_path,
                                  on_error=lambda s, e: errors.append(e),
                                  wait_for_download=True, timeout=10)  # fmt: skip
    assert texts(reader) == ["from the writer"]
    o_app, other = await open_as(server, tmp_path, "oth", realm_path, wait_for_download=True,
                                 timeout=10)  # fmt: skip
    post(reader, "r1", "from the reader")
    await eventually(lambda: bool(errors))
    assert (errors[0].name, errors[0].fatal) == ("permission_denied", True)
    assert reader.sync_session.state is SyncSessionState.INVALID
    post(writer, "w2", "after")
    await writer.sync_session.wait_for_upload_completion(10)
    await other.sync_session.wait_for_download_completion(10)
    assert texts(other) == ["from the writer", "after"]
    history = await admin.admin.realm_history(realm_path)
    assert "from the reader" not in str(history)
    for app in (w_app, r_app, o_app, admin):
        await app.close()


@run
async def test_own_realms_bad_password_and_suspended_users(
    server: ServerProcess, tmp_path: Path
) -> None:
    admin = await admin_app(server)
    for name in ("alice", "bob"):
        await admin.admin.create_user(name, "pw")
    a_app, alice = await open_as(server, tmp_path, "alice", "/~/notes", schema=SCHEMA)
    post(alice, "n1", "alice's note")
    await alice.sync_session.wait_for_upload_completion(10)
    b_app, bob_own = await open_as(server, tmp_path, "bob", "/~/notes", schema=SCHEMA)
    await bob_own.sync_session.wait_for_download_completion(10)
    assert texts(bob_own) == []  # /~/ is each user's own realm
    # bob cannot bind alice's realm by its full path
    bob = b_app.current_user
    assert bob is not None
    errors: list[SyncSessionError] = []
    stolen = await b_app.open_realm(bob, "/u/alice/notes", path=tmp_path / "stolen.realm",
                                    on_error=lambda s, e: errors.append(e))  # fmt: skip
    await eventually(lambda: bool(errors))
    assert (errors[0].name, errors[0].fatal) == ("permission_denied", True)
    assert stolen.schema == []  # nothing of alice's came down
    # a bad password
    try:
        await App(server.url).login("alice", "wrong")
    except AuthenticationError as exc:
        assert (exc.status, exc.error) == (401, "bad_credentials")
    else:
        raise AssertionError("a wrong password must not log in")
    # suspending bob ends his live session, his login and his token refresh
    bob_errors: list[SyncSessionError] = []
    bob_own.sync_session.add_error_listener(lambda s, e: bob_errors.append(e))
    await admin.admin.suspend_user("bob")
    await eventually(lambda: bool(bob_errors))
    assert bob_errors[0].fatal and bob_own.sync_session.state is SyncSessionState.INVALID
    try:
        await App(server.url).login("bob", "pw")
    except AuthenticationError as exc:
        assert (exc.status, exc.error) == (403, "suspended")
    else:
        raise AssertionError("a suspended user must not log in")
    try:
        await bob.refresh()
    except AuthenticationError as exc:
        assert exc.error == "suspended"
    else:
        raise AssertionError("a suspended user's refresh token must be refused")
    await admin.admin.suspend_user("bob", False)
    for app in (a_app, b_app, admin):
        await app.close()


class FakeClock:
    """Server time that moves only when told: token expiry without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@run
async def test_expired_tokens_are_refreshed(tmp_path: Path) -> None:
    # In process, to give the server a fake clock (the other tests run the
    # real subprocess; what differs here is only where the server runs).
    clock = FakeClock()
    config = ServerConfig(data_dir=tmp_path / "data", port=0, admin_password=ADMIN_PASSWORD,
                          scrypt_n=1024, access_token_ttl=2.0)  # fmt: skip
    server = Server(config, out=open(os.devnull, "w"), clock=clock)  # noqa: SIM115
    await server.start()
    try:
        admin = await admin_app(server)  # type: ignore[arg-type]
        await make_users(admin, "/shared/e2e-tokens", {"tia": "write"})
        app, realm = await open_as(server, tmp_path, "tia", "/shared/e2e-tokens", schema=SCHEMA)  # type: ignore[arg-type]
        await realm.sync_session.wait_for_download_completion(10)
        user = app.current_user
        assert user is not None
        errors: list[SyncSessionError] = []
        realm.sync_session.add_error_listener(lambda s, e: errors.append(e))
        # The token runs out while paused (for the server and for the client);
        # resuming refreshes it before binding.
        realm.sync_session.pause()
        clock.now += 2.2
        user._expires_at -= 2.2
        post(realm, "m1", "after expiry")
        realm.sync_session.resume()
        await realm.sync_session.wait_for_upload_completion(10)
        assert errors == []
        # A token the client wrongly believes valid: the server says token_expired,
        # the client refreshes and binds again.
        realm.sync_session.pause()
        clock.now += 2.2
        realm.sync_session.resume()
        post(realm, "m2", "refused, refreshed, retried")
        await realm.sync_session.wait_for_upload_completion(10)
        assert [(e.name, e.fatal) for e in errors] == [("token_expired", False)]
        # the admin API refreshes an expired admin token too
        assert await admin.admin.list_realms()
        await app.close()
        await admin.close()
    finally:
        await server.stop()
