"""The REST data API end to end: a real server, sync devices, HTTP calls."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from server_harness import (
    SCHEMA,
    RawClient,
    admin_token,
    call,
    grant,
    item,
    make_user,
    running_server,
    until,
)

from studio.primitives.instructions import AddClass, AddProperty, Instruction
from studio.primitives.instructions import Set as SetValue

PATH = "/shared/chat"
REALM = "%2Fshared%2Fchat"
ITEMS = f"/api/v1/realms/{REALM}/classes/Item/objects"


async def _device(url: str, token: str, name: str = "a") -> RawClient:
    device = await RawClient(url, token, PATH, name).connect()
    await device.wait_bound()
    return device


async def _seeded(url: str, token: str) -> RawClient:
    device = await _device(url, token)
    await device.commit(SCHEMA)
    await device.sync()
    return device


def test_rest_writes_reach_devices_and_device_writes_reach_rest(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url, token = server.url, await admin_token(server.url)
            device = await _seeded(url, token)

            status, created = await call(url, "POST", ITEMS, {"_id": 1, "name": "rest"}, token)
            assert status == 201, created
            assert created == {"_id": 1, "name": "rest", "n": None}
            await until(
                lambda: device.plain().get("Item", {}).get(1, {}).get("name") == "rest",
                what="the device receives the REST create",
            )

            await device.commit(item(2, "device"))
            await device.sync()
            # Another change's arrival in the state is not tied to this
            # caller: poll (a fraction of a second, state_delay).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status, got = await call(url, "GET", f"{ITEMS}/2", token=token)
                if status == 200:
                    break
                await asyncio.sleep(0.02)
            assert (status, got) == (200, {"_id": 2, "name": "device", "n": None})

            status, patched = await call(url, "PATCH", f"{ITEMS}/1", {"n": 7}, token)
            assert (status, patched) == (200, {"_id": 1, "name": "rest", "n": 7})
            await until(
                lambda: device.plain()["Item"][1].get("n") == 7, what="the device gets the PATCH"
            )
            # Read after own write: the GET sees it at once.
            status, got = await call(url, "GET", f"{ITEMS}/1", token=token)
            assert got["n"] == 7

            status, _ = await call(url, "DELETE", f"{ITEMS}/2", token=token)
            assert status == 204
            await until(lambda: 2 not in device.plain()["Item"], what="the device erases 2")
            status, err = await call(url, "GET", f"{ITEMS}/2", token=token)
            assert status == 404 and err["error"]["code"] == "no_such_object"

            status, err = await call(url, "POST", ITEMS, {"_id": 1}, token)
            assert status == 409 and err["error"]["code"] == "exists"

            status, page = await call(url, "GET", f"{ITEMS}?query=n%20%3D%3D%207", token=token)
            assert page == {"objects": [{"_id": 1, "name": "rest", "n": 7}], "next": None}
            await device.close()

    asyncio.run(body())


def test_rest_writes_survive_a_restart_with_their_server_ident(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url, token = server.url, await admin_token(server.url)
            device = await _seeded(url, token)
            await device.close()
            assert (await call(url, "POST", ITEMS, {"_id": 1}, token))[0] == 201
        async with running_server(tmp_path) as server:
            url, token = server.url, await admin_token(server.url)
            assert (await call(url, "POST", ITEMS, {"_id": 2}, token))[0] == 201
            _, page = await call(url, "GET", ITEMS, token=token)
            assert [o["_id"] for o in page["objects"]] == [1, 2]

    asyncio.run(body())


def test_permissions(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url, admin = server.url, await admin_token(server.url)
            device = await _seeded(url, admin)
            await device.close()
            reader = await make_user(url, admin, "reader")
            stranger = await make_user(url, admin, "stranger")
            await grant(url, admin, PATH, "reader", "read")

            assert (await call(url, "GET", ITEMS, token=reader))[0] == 200
            status, err = await call(url, "POST", ITEMS, {"_id": 5}, reader)
            assert status == 403 and err["error"]["code"] == "permission_denied"
            assert (await call(url, "GET", ITEMS, token=stranger))[0] == 403
            assert (await call(url, "GET", ITEMS))[0] == 401
            assert (await call(url, "GET", ITEMS, token="garbage"))[0] == 401

    asyncio.run(body())


def test_pagination_is_stable_under_concurrent_inserts(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url, token = server.url, await admin_token(server.url)
            device = await _seeded(url, token)
            # 250 objects with n in 0..24 (ties resolved by primary key), some null.
            for start in range(0, 250, 50):
                batch = []
                for pk in range(start, start + 50):
                    batch += item(pk * 2, f"i{pk}")
                    if pk % 10:
                        batch.append(SetValue("Item", pk * 2, ("n",), pk % 25))
                await device.commit(batch)
            await device.sync()
            listing = f"{ITEMS}?sort=n&limit=40"
            # The device's 250 objects reach the state in the background.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                _, whole = await call(url, "GET", f"{ITEMS}?limit=1000", token=token)
                if len(whole["objects"]) == 250:
                    break
                await asyncio.sleep(0.02)
            seen: list[tuple[Any, int]] = []
            cursor: str | None = None
            inserted = 0
            while True:
                suffix = "" if cursor is None else f"&after={cursor}"
                status, page = await call(url, "GET", listing + suffix, token=token)
                assert status == 200, page
                seen += [(o["n"], o["_id"]) for o in page["objects"]]
                # Concurrent inserts (odd keys) land before and after the cursor.
                status, _ = await call(
                    url, "POST", ITEMS, {"_id": 2 * inserted + 1, "n": inserted % 25}, token
                )
                assert status == 201
                inserted += 1
                cursor = page["next"]
                if cursor is None:
                    break
            keys = [k for _, k in seen]
            assert len(keys) == len(set(keys)), "no object twice"
            assert {k for k in keys if k % 2 == 0} == set(range(0, 500, 2)), (
                "none of the 250 missed"
            )
            order = [(-1 if n is None else n, k) for n, k in seen]
            assert order == sorted(order), "in (n, primary key) order, nulls first"

            _, down = await call(url, "GET", f"{ITEMS}?sort=-n&limit=1000", token=token)
            values = [o["n"] for o in down["objects"]]
            present = [v for v in values if v is not None]
            assert present == sorted(present, reverse=True) and values[-1] is None
            await device.close()

    asyncio.run(body())


BAD_REQUESTS: list[tuple[str, str, Any, int, str]] = [
    ("GET", f"/api/v1/realms/{REALM}/classes/Nope/objects", None, 404, "no_such_class"),
    ("GET", "/api/v1/realms/%2Fshared%2Fnone/classes/Item/objects", None, 404, "no_such_realm"),
    ("GET", "/api/v1/realms/nopath/classes/Item/objects", None, 400, "bad_request"),
    ("GET", f"{ITEMS}?query=name%20%3D%3D", None, 400, "bad_query"),
    ("GET", f"{ITEMS}?query=nope%20%3D%3D%201", None, 400, "bad_query"),
    ("GET", f"{ITEMS}?limit=0", None, 400, "bad_request"),
    ("GET", f"{ITEMS}?limit=1001", None, 400, "bad_request"),
    ("GET", f"{ITEMS}?limit=abc", None, 400, "bad_request"),
    ("GET", f"{ITEMS}?sort=nope", None, 400, "bad_request"),
    ("GET", f"{ITEMS}?after=garbage", None, 400, "bad_request"),
    ("GET", f"{ITEMS}?after=WyJhIiwiYiJd", None, 400, "bad_request"),
    ("GET", f"{ITEMS}/notanint", None, 400, "bad_request"),
    ("GET", f"{ITEMS}/999", None, 404, "no_such_object"),
    ("POST", ITEMS, {"name": "no key"}, 400, "bad_request"),
    ("POST", ITEMS, {"_id": "1"}, 400, "bad_request"),
    ("POST", ITEMS, {"_id": 1, "n": "x"}, 400, "bad_request"),
    ("POST", ITEMS, {"_id": 1, "n": 2**70}, 400, "bad_request"),
    ("POST", ITEMS, {"_id": 1, "nope": 1}, 400, "bad_request"),
    ("POST", ITEMS, [1, 2], 400, "bad_request"),
    ("PATCH", f"{ITEMS}/999", {"n": 1}, 404, "no_such_object"),
    ("PATCH", f"{ITEMS}/1", {"_id": 2}, 400, "bad_request"),
    ("DELETE", f"{ITEMS}/999", None, 404, "no_such_object"),
]


def test_every_bad_input_is_a_4xx_with_a_json_error(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url, token = server.url, await admin_token(server.url)
            device = await _seeded(url, token)
            await device.close()
            assert (await call(url, "POST", ITEMS, {"_id": 1}, token))[0] == 201
            for method, path, payload, status, code in BAD_REQUESTS:
                got, err = await call(url, method, path, payload, token)
                assert (got, err["error"]["code"]) == (status, code), (method, path, err)
                assert err["error"]["message"]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            async with aiohttp.ClientSession() as session:
                for raw in (
                    b"{",
                    b"\xff",
                    b"[" * 100 + b"]" * 100,
                    b'{"_id": 1' + b"0" * 100 + b"}",
                ):
                    async with session.post(url + ITEMS, data=raw, headers=headers) as resp:
                        assert resp.status == 400, raw
                        assert (await resp.json())["error"]["message"]
                big = b'{"name": "' + b"x" * (2 << 20) + b'"}'
                async with session.post(url + ITEMS, data=big, headers=headers) as resp:
                    assert resp.status == 413

    asyncio.run(body())


def test_openapi_document_lists_every_route(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            status, doc = await call(server.url, "GET", "/api/openapi.json")
            assert status == 200 and doc["openapi"] == "3.1.0"
            ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
            assert ops == {
                ("GET", "/api/v1/realms/{realm}/classes/{cls}/objects"),
                ("POST", "/api/v1/realms/{realm}/classes/{cls}/objects"),
                ("GET", "/api/v1/realms/{realm}/classes/{cls}/objects/{pk}"),
                ("PATCH", "/api/v1/realms/{realm}/classes/{cls}/objects/{pk}"),
                ("DELETE", "/api/v1/realms/{realm}/classes/{cls}/objects/{pk}"),
            }

    asyncio.run(body())


TYPED: tuple[Instruction, ...] = (
    AddClass("Kind", "_id", "objectId", False, False),
    AddProperty("Kind", "label", "string"),
    AddClass("Thing", "_id", "string", False, False),
    AddProperty("Thing", "flag", "bool?"),
    AddProperty("Thing", "ratio", "double?"),
    AddProperty("Thing", "when", "date?"),
    AddProperty("Thing", "blob", "data?"),
    AddProperty("Thing", "uid", "uuid?"),
    AddProperty("Thing", "price", "decimal128?"),
    AddProperty("Thing", "any", "mixed?"),
    AddProperty("Thing", "kind", "Kind?", object_type="Kind"),
    AddProperty("Thing", "tags", "string[]"),
)


def test_values_in_the_json_export_form_round_trip(tmp_path: Path) -> None:
    kind_id = "65a1b2c3d4e5f60718293a4b"
    kinds = f"/api/v1/realms/{REALM}/classes/Kind/objects"
    things = f"/api/v1/realms/{REALM}/classes/Thing/objects"
    thing = {
        "_id": "a/b c",
        "flag": True,
        "ratio": "-Infinity",
        "when": "2026-12-07T21:00:00.125Z",
        "blob": "AAEC/w==",
        "uid": "12345678-1234-5678-1234-567812345678",
        "price": "12.50",
        "any": "text",
        "kind": kind_id,
    }

    async def body() -> None:
        async with running_server(tmp_path) as server:
            url, token = server.url, await admin_token(server.url)
            device = await _device(url, token)
            await device.commit(TYPED)
            await device.sync()
            assert (await call(url, "POST", kinds, {"_id": kind_id, "label": "k"}, token))[0] == 201
            status, created = await call(url, "POST", things, thing, token)
            assert status == 201, created
            assert created == {**thing, "tags": []}
            # The key is URL-encoded like any path segment.
            status, got = await call(url, "GET", f"{things}/a%2Fb%20c", token=token)
            assert (status, got) == (200, created)
            await until(
                lambda: "a/b c" in device.plain().get("Thing", {}), what="the device gets it"
            )
            status, patched = await call(
                url, "PATCH", f"{things}/a%2Fb%20c", {"tags": ["x", "y"], "any": 2.5}, token
            )
            assert (status, patched["tags"], patched["any"]) == (200, ["x", "y"], 2.5)
            await until(
                lambda: device.plain()["Thing"]["a/b c"].get("tags") == ["x", "y"],
                what="the device gets the list",
            )
            bad_values = (
                {"kind": "65a1b2c3d4e5f60718293a4c"},
                {"tags": "x"},
                {"tags": [1]},
                {"tags": [None]},
                {"when": "soon"},
            )
            for bad in bad_values:
                status, err = await call(url, "PATCH", f"{things}/a%2Fb%20c", bad, token)
                assert status == 400 and err["error"]["message"], (bad, err)
            await device.close()

    asyncio.run(body())


def test_reads_come_from_the_state_cache_of_a_database_backend(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path, store="memory:") as server:
            url, token = server.url, await admin_token(server.url)
            device = await _seeded(url, token)
            status, created = await call(url, "POST", ITEMS, {"_id": 3, "name": "m"}, token)
            assert status == 201, created
            status, page = await call(url, "GET", ITEMS, token=token)
            assert page["objects"] == [{"_id": 3, "name": "m", "n": None}]
            await until(lambda: 3 in device.plain().get("Item", {}), what="the device gets it")
            await device.close()

    asyncio.run(body())
