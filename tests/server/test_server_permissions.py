"""Permissions and authentication on the sync endpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server_harness import (
    SCHEMA,
    FakeClock,
    RawClient,
    admin_token,
    call,
    grant,
    item,
    make_user,
    running_server,
    until,
)

from studio.server.auth import TokenSigner
from studio.sync.protocol import ErrorCode

PATH = "/shared/board"


async def bind_error(url: str, token: str, path: str) -> tuple[int, bool]:
    client = await RawClient(url, token, path, "probe").connect()
    await until(lambda: bool(client.errors) or client.bound, what="bind answer")
    await client.close()
    assert not client.bound, f"{path} should have been refused"
    error = client.errors[0]
    return error.code, error.try_again


def test_read_only_uploads_are_refused_and_reach_nobody(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            writer_token = await make_user(url, admin, "writer")
            reader_token = await make_user(url, admin, "reader")
            status, _ = await call(url, "POST", "/admin/realms", {"path": PATH}, admin)
            assert status == 201
            await grant(url, admin, PATH, "writer", "write")
            await grant(url, admin, PATH, "reader", "read")

            writer = await RawClient(url, writer_token, PATH, "writer").connect()
            reader = await RawClient(url, reader_token, PATH, "reader").connect()
            other = await RawClient(url, writer_token, PATH, "other").connect()
            for c in (writer, reader, other):
                await c.wait_bound()
            await writer.commit(SCHEMA)
            await writer.commit(item(1, "by writer"))
            await writer.sync()
            await until(lambda: reader.canonical() == writer.canonical(), what="reader downloads")

            await reader.commit(item(666, "by reader"))
            await until(lambda: bool(reader.errors), what="upload refused")
            assert reader.errors[0].code == ErrorCode.PERMISSION_DENIED
            assert reader.errors[0].try_again is False

            # The refused changeset reached nobody: not the history, not others.
            await writer.commit(item(2, "after"))
            await writer.sync()
            await until(lambda: other.canonical() == writer.canonical(), what="other syncs")
            assert 666 not in other.plain()["Item"]
            _, history = await call(url, "GET", f"/admin/realms/history?path={PATH}", token=admin)
            assert all("666" not in " ".join(c["instructions"]) for c in history["changesets"])
            assert {c["user"] for c in history["changesets"]} == {"writer"}

            # Upgrading the reader to write lets a new session upload.
            await grant(url, admin, PATH, "reader", "write")
            await reader.close()
            reader.errors.clear()
            await reader.connect()
            await reader.wait_bound()
            await reader.sync()  # the pending changeset goes up now
            await until(lambda: 666 in writer.plain()["Item"], what="upload after upgrade")
            # Downgrading takes effect on the bound session at once.
            await grant(url, admin, PATH, "reader", "read")
            await reader.commit(item(667, "refused again"))
            await until(lambda: bool(reader.errors), what="refused after downgrade")
            assert reader.errors[0].code == ErrorCode.PERMISSION_DENIED
            for c in (writer, reader, other):
                await c.close()

    asyncio.run(body())


def test_bind_is_authenticated_and_authorized(tmp_path: Path) -> None:
    async def body() -> None:
        clock = FakeClock()
        async with running_server(tmp_path, clock=clock, access_token_ttl=2.0) as server:
            url = server.url
            admin = await admin_token(url)
            bob = await make_user(url, admin, "bob")
            carol = await make_user(url, admin, "carol")

            # bob's own realm: created by his first bind, stored as /u/bob/diary.
            diary = await RawClient(url, bob, "/~/diary", "bob").connect()
            await diary.wait_bound()
            await diary.commit(SCHEMA)
            await diary.sync()
            _, listing = await call(url, "GET", "/admin/realms", token=admin)
            assert "/u/bob/diary" in [r["path"] for r in listing["realms"]]

            # carol cannot bind bob's realm, by either spelling.
            assert (await bind_error(url, carol, "/u/bob/diary"))[0] == ErrorCode.PERMISSION_DENIED
            # /~/diary for carol is her own, different realm.
            mine = await RawClient(url, carol, "/~/diary", "carol").connect()
            await mine.wait_bound()
            await mine.close()
            # A shared realm nobody created: no permission.
            assert (await bind_error(url, carol, "/shared/nope"))[0] == ErrorCode.PERMISSION_DENIED
            # Paths are validated.
            for bad in ("/shared/../u/bob/diary", "/shared/a\x01", "relative", "/shared//x"):
                assert (await bind_error(url, carol, bad))[0] == ErrorCode.ILLEGAL_REALM_PATH, bad
            # Bad tokens.
            code, _ = await bind_error(url, "not-a-token", "/~/x")
            assert code == ErrorCode.BAD_AUTHENTICATION
            signer = TokenSigner(b"another server's key.....")
            forged = signer.issue("admin", "some-id", True, "access", 60, 0, 0)
            assert (await bind_error(url, forged, "/~/x"))[0] == ErrorCode.BAD_AUTHENTICATION
            # An expired token: retry after refreshing.
            clock.advance(2.1)
            code, try_again = await bind_error(url, bob, "/~/diary")
            assert code == ErrorCode.TOKEN_EXPIRED and try_again is True
            await diary.close()

    asyncio.run(body())


def test_suspended_user_is_cut_off(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            dave = await make_user(url, admin, "dave")
            client = await RawClient(url, dave, "/~/notes", "dave").connect()
            await client.wait_bound()
            status, _ = await call(url, "PATCH", "/admin/users/dave", {"suspended": True}, admin)
            assert status == 200
            await until(lambda: bool(client.errors), what="session ended")
            assert client.errors[0].code == ErrorCode.PERMISSION_DENIED
            await client.close()
            code, _ = await bind_error(url, dave, "/~/notes")
            assert code == ErrorCode.BAD_AUTHENTICATION
            status, _ = await call(url, "PATCH", "/admin/users/dave", {"suspended": False}, admin)
            again = await RawClient(url, dave, "/~/notes", "dave").connect()
            await again.wait_bound()
            await again.close()

    asyncio.run(body())
