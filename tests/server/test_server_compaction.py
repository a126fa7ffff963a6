"""History compaction in a running server: POST /admin/realms/{realm}/compact,
the realm_compacted admin event, a new client bootstrapping from the snapshot
(fewer bytes, the same state), a client behind the floor told to reset
(client_file_expired), and a restart that loads the compacted history."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from server_harness import (
    SCHEMA,
    RawClient,
    admin_token,
    call,
    item,
    make_user,
    running_server,
    until,
)
from server_process import ADMIN_PASSWORD

from studio.primitives.instructions import EraseObject, Instruction
from studio.primitives.instructions import Set as SetValue
from studio.sync.client import App, SyncConfig
from studio.sync.protocol import ErrorCode, SessionError

PATH = "/shared/long-lived"


def rename(pk: int, name: str) -> list[Instruction]:
    return [SetValue("Item", pk, ("name",), name)]


async def state_caught_up(url: str, admin: str) -> None:
    async def behind() -> bool:
        _, body = await call(url, "GET", "/admin/realms", token=admin)
        (realm,) = [r for r in body["realms"] if r["path"] == PATH]
        return bool(realm["state_version"] < realm["server_version"])

    # Generous: the state worker is a process of its own, slow to start on a
    # loaded machine.
    deadline = time.monotonic() + 90
    while await behind():
        assert time.monotonic() < deadline, "the realm's state never caught up"
        await asyncio.sleep(0.05)


async def bootstrap(url: str, admin: str, name: str, version: int) -> RawClient:
    client = await RawClient(url, admin, PATH, name).connect()
    await client.wait_bound()
    await client.wait_version(version)
    await client.close()
    return client


def test_a_compacted_realm_bootstraps_new_clients_and_resets_old_ones(tmp_path: Path) -> None:
    async def body() -> None:
        # Retention 1 ms: a client not bound holds nothing back.
        async with running_server(tmp_path, history_retention=0.001) as server:
            url = server.url
            admin = await admin_token(url)
            events: list[dict[str, Any]] = []
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(url + f"/admin/events?token={admin}") as stream,
            ):

                async def collect() -> None:
                    async for msg in stream:
                        events.append(json.loads(msg.data))

                reader = asyncio.get_running_loop().create_task(collect())
                writer = await RawClient(url, admin, PATH, "writer").connect()
                await writer.wait_bound()
                await writer.commit(SCHEMA)
                for pk in range(10):
                    await writer.commit(item(pk, "new"))
                await writer.sync()
                lagging = await RawClient(url, admin, PATH, "lagging").connect()
                await lagging.wait_bound()
                await lagging.wait_version(writer.server_version)
                await lagging.commit(rename(0, "lagging"))  # its progress is recorded
                await lagging.sync()
                await lagging.close()
                # Many overwrites, objects made and erased again.
                for round_ in range(12):
                    for pk in range(10):
                        await writer.commit(rename(pk, f"r{round_}"))
                    gone = 100 + round_
                    await writer.commit([*item(gone, "gone"), EraseObject("Item", gone)])
                await writer.sync()
                await writer.commit(rename(1, "last"))  # based on the latest: progress moves
                await writer.sync()
                latest = writer.server_version
                await state_caught_up(url, admin)
                before = await bootstrap(url, admin, "before", latest)
                assert before.canonical() == writer.canonical()

                status, answer = await call(
                    url, "POST", "/admin/realms/shared/long-lived/compact", token=admin
                )
                assert status == 200, answer
                assert answer["compacted"] is True and answer["realm"] == PATH
                assert answer["base_version"] == latest - 1
                assert answer["versions_before"] == latest
                assert answer["versions_after"] < answer["versions_before"] // 10
                assert answer["bytes_after"] < answer["bytes_before"]
                assert answer["seconds"] >= 0
                await until(lambda: any(e["type"] == "realm_compacted" for e in events))
                event = next(e for e in events if e["type"] == "realm_compacted")
                for key in ("versions_before", "versions_after", "bytes_before", "bytes_after"):
                    assert event[key] == answer[key]
                reader.cancel()

            after = await bootstrap(url, admin, "after", latest)
            assert after.canonical() == writer.canonical()
            assert after.received_bytes < before.received_bytes / 2, (
                after.received_bytes,
                before.received_bytes,
            )
            # The writer was bound all along: it goes on syncing.
            await writer.commit(rename(2, "after compaction"))
            await writer.sync()
            await after.connect()
            await after.wait_version(writer.server_version)
            assert after.canonical() == writer.canonical()
            await after.close()
            # The lagging client is behind the floor: it must reset.
            await lagging.connect()
            await until(lambda: bool(lagging.errors), what="lagging told to reset")
            (error,) = lagging.errors
            assert isinstance(error, SessionError)
            assert error.code == ErrorCode.CLIENT_FILE_EXPIRED and "reset" in error.message
            await lagging.close()
            await writer.close()
            final = writer.canonical()
            version = writer.server_version

        # A restart loads the snapshot and the entries after it.
        async with running_server(tmp_path) as server:
            admin = await admin_token(server.url)
            again = await bootstrap(server.url, admin, "restarted", version)
            assert again.canonical() == final

    asyncio.run(body())


def test_compact_endpoint_is_for_admins_and_known_realms(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            user = await make_user(url, admin, "eve")
            status, _ = await call(url, "POST", "/admin/realms/shared/none/compact", token=admin)
            assert status == 404
            status, _ = await call(url, "POST", "/admin/realms", {"path": PATH}, admin)
            assert status == 201
            compact = "/admin/realms/shared/long-lived/compact"
            status, _ = await call(url, "POST", compact, token=user)
            assert status == 403
            status, _ = await call(url, "POST", compact)
            assert status == 401
            # Nothing to compact yet: an answer that says so, with the figures.
            status, answer = await call(
                url, "POST", "/admin/realms/compact?path=/shared/long-lived", token=admin
            )
            assert status == 200, answer
            assert answer["compacted"] is False and answer["reason"]
            assert answer["versions_before"] == answer["versions_after"] == 0

    asyncio.run(body())


def test_background_rounds_compact_a_realm_with_enough_versions(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(
            tmp_path, compaction_interval=0.1, compaction_min_versions=5
        ) as server:
            url = server.url
            admin = await admin_token(url)
            writer = await RawClient(url, admin, PATH, "writer").connect()
            await writer.wait_bound()
            await writer.commit(SCHEMA)
            await writer.commit(item(1, "a"))
            await writer.sync()
            for n in range(8):
                await writer.commit(rename(1, f"n{n}"))
                await writer.sync()  # each based on the latest: progress moves
            query = f"/admin/realms/history?path={PATH}&since=0&limit=1"

            async def floor_moved() -> bool:
                _, body = await call(url, "GET", query, token=admin)
                return bool(body["changesets"][0]["origin_file_ident"] == 0)

            deadline = time.monotonic() + 20
            while not await floor_moved():
                assert time.monotonic() < deadline, "no background compaction"
                await asyncio.sleep(0.05)
            # It goes on syncing, and a new client gets the same state.
            await writer.commit(rename(1, "after"))
            await writer.sync()
            fresh = await bootstrap(url, admin, "fresh", writer.server_version)
            assert fresh.canonical() == writer.canonical()
            await writer.close()

    asyncio.run(body())


def test_the_sync_client_bootstraps_a_compacted_realm(tmp_path: Path) -> None:
    """studio.sync.client (the real store) applies the snapshot's changesets."""
    schema = [{"name": "Item", "primaryKey": "_id",
               "properties": {"_id": "int", "name": "string?", "n": "int?"}}]  # fmt: skip
    config = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)

    async def body() -> None:
        async with running_server(tmp_path / "server", history_retention=0.001) as server:
            url = server.url
            writer_app = App(url, config=config, base_dir=tmp_path / "w")
            user = await writer_app.login("admin", ADMIN_PASSWORD)
            writer = await writer_app.open_realm(
                user, PATH, path=tmp_path / "w.realm", schema=schema
            )
            for n in range(30):
                with writer.write():
                    writer.create("Item", {"_id": n % 5, "name": f"v{n}", "n": n}, update=True)
                    if n % 7 == 0:
                        writer.create("Item", {"_id": 100 + n})
                        writer.delete(writer.object_for_primary_key("Item", 100 + n))
                await writer.sync_session.wait_for_upload_completion(20)
                await writer.sync_session.wait_for_download_completion(20)
            admin = await admin_token(url)
            await state_caught_up(url, admin)
            status, answer = await call(url, "POST", "/admin/realms/compact?path=" + PATH,
                                        token=admin)  # fmt: skip
            assert status == 200 and answer["compacted"], answer
            reader_app = App(url, config=config, base_dir=tmp_path / "r")
            reader_user = await reader_app.login("admin", ADMIN_PASSWORD)
            reader = await reader_app.open_realm(
                reader_user, PATH, path=tmp_path / "r.realm", wait_for_download=True, timeout=30
            )
            got = {o["_id"]: (o["name"], o["n"]) for o in reader.objects("Item")}
            want = {o["_id"]: (o["name"], o["n"]) for o in writer.objects("Item")}
            assert got == want and len(got) == 5
            await reader_app.close()
            await writer_app.close()

    asyncio.run(body())
