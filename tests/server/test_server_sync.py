"""Raw protocol clients syncing through a real server on loopback."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import aiohttp
from server_harness import (
    SCHEMA,
    RawClient,
    admin_token,
    bump,
    call,
    item,
    running_server,
    until,
)
from websockets.asyncio.client import connect

from studio.primitives.instructions import AddProperty
from studio.primitives.instructions import Set as SetValue
from studio.sync.protocol import ErrorCode, Ping, Pong, decode_server_message, encode_message

PATH = "/shared/chat"


def test_two_clients_converge_and_offline_edits_merge(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            a = await RawClient(server.url, token, PATH, "a").connect()
            b = await RawClient(server.url, token, PATH, "b").connect()
            await a.wait_bound()
            await b.wait_bound()
            await a.commit(SCHEMA)
            await a.commit(item(1, "from a"))
            await a.sync()
            await b.commit(item(2, "from b"))
            await b.sync()
            await until(lambda: a.canonical() == b.canonical(), what="a and b converge")

            # Offline on both sides: concurrent edits of one field (last writer
            # wins) and concurrent increments (they add up).
            a.offline()
            b.offline()
            await a.commit([SetValue("Item", 1, ("name",), "a offline"), *bump(delta=2)])
            await b.commit([SetValue("Item", 1, ("name",), "b offline, later"), *bump(delta=3)])
            await a.connect()
            await b.connect()
            await a.sync()
            await b.sync()
            await until(lambda: a.canonical() == b.canonical(), what="merge after reconnect")
            assert a.plain()["Item"][1]["name"] == "b offline, later"
            assert a.plain()["Counter"]["c"]["value"] == 5

            # A new device downloads everything and ends in the same state.
            c = await RawClient(server.url, token, PATH, "c").connect()
            await c.wait_bound()
            await until(lambda: c.canonical() == a.canonical(), what="c catches up")

            # The server's state file follows the history (object counts in the admin API).
            admin = token

            async def objects() -> int:
                _, listing = await call(server.url, "GET", "/admin/realms", token=admin)
                (realm,) = [r for r in listing["realms"] if r["path"] == PATH]
                assert realm["clients"] == 3
                return (
                    int(realm["objects"])
                    if realm["state_version"] == realm["server_version"]
                    else -1
                )

            for _ in range(200):
                if await objects() == 3:
                    break
                await asyncio.sleep(0.05)
            assert await objects() == 3  # Item 1, Item 2, Counter c

            status, history = await call(
                server.url, "GET", f"/admin/realms/history?path={PATH}", token=admin
            )
            assert status == 200
            versions = [c["server_version"] for c in history["changesets"]]
            assert versions == list(range(1, len(versions) + 1))
            assert any(
                "Set Item[1].name = 'from a'" in text
                for ch in history["changesets"]
                for text in ch["instructions"]
            )
            for client in (a, b, c):
                await client.close()

    asyncio.run(body())


def test_history_survives_a_restart(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            a = await RawClient(server.url, token, PATH, "a").connect()
            await a.wait_bound()
            await a.commit(SCHEMA)
            for n in range(20):
                await a.commit(item(n, f"item {n}"))
            await a.sync()
            await a.close()
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            # The same device resumes from its cursors; nothing is sent twice.
            a.url, a.token = server.url, token
            await a.connect()
            await a.wait_bound()
            await a.commit(item(100, "after restart"))
            await a.sync()
            b = await RawClient(server.url, token, PATH, "b").connect()
            await b.wait_bound()
            await until(lambda: b.canonical() == a.canonical(), what="b has everything")
            assert len(b.plain()["Item"]) == 21
            assert b.history.client_file_ident != a.history.client_file_ident
            await a.close()
            await b.close()

    asyncio.run(body())


def test_idle_realm_is_unloaded_and_reloaded(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            a = await RawClient(server.url, token, PATH, "a").connect()
            await a.wait_bound()
            await a.commit(SCHEMA)
            await a.commit(item(1, "kept"))
            await a.sync()
            hub = server.ctx.hub
            await hub.unload_idle(now=time.time() + 3600)
            assert len(hub) == 1  # still bound: stays
            await a.close()
            await until(lambda: not server.ctx.connections, what="connection gone")
            await asyncio.sleep(0.2)  # the state update scheduled by the last commit
            await hub.unload_idle(now=time.time() + 3600)
            assert len(hub) == 0
            b = await RawClient(server.url, token, PATH, "b").connect()
            await b.wait_bound()
            await until(lambda: b.canonical() == a.canonical(), what="b from the reloaded realm")
            await b.close()

    asyncio.run(body())


def test_schema_conflict_ends_only_that_session(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            a = await RawClient(server.url, token, PATH, "a").connect()
            b = await RawClient(server.url, token, PATH, "b").connect()
            await a.wait_bound()
            await b.wait_bound()
            await a.commit(SCHEMA)
            await a.sync()
            await b.wait_version(1)
            await b.commit(
                [AddProperty("Item", "name", "int?")], apply=False
            )  # it is string? already
            await until(lambda: bool(b.errors), what="b's upload refused")
            assert b.errors[0].code == ErrorCode.INVALID_SCHEMA_CHANGE
            assert "schema" in b.errors[0].message
            await a.commit(item(5, "a goes on"))
            await a.sync()
            _, history = await call(
                server.url, "GET", f"/admin/realms/history?path={PATH}", token=token
            )
            assert len(history["changesets"]) == 2
            await a.close()
            await b.close()

    asyncio.run(body())


def test_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(cafile=str(cert))

    async def body() -> None:
        async with running_server(tmp_path / "data", cert=cert, key=key) as server:
            assert server.url.startswith("https://")
            async with (
                aiohttp.ClientSession() as http,
                http.get(server.url + "/health", ssl=context) as resp,
            ):
                assert resp.status == 200
            wss = server.url.replace("https", "wss") + "/sync"
            async with connect(wss, ssl=context) as ws:
                await ws.send(encode_message(Ping(5)))
                assert decode_server_message(await ws.recv()) == Pong(5)  # type: ignore[arg-type]

    asyncio.run(body())
