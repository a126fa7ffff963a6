"""The admin event stream (/admin/events)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from server_harness import SCHEMA, RawClient, admin_token, item, make_user, running_server, ws_url
from websockets.asyncio.client import connect

PATH = "/shared/watched"


def test_event_stream_reports_what_happens(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            user = await make_user(url, admin, "eve")
            events: list[dict[str, Any]] = []
            async with aiohttp.ClientSession() as http:
                # Only admins may watch.
                async with http.get(url + "/admin/events") as resp:
                    assert resp.status == 401
                async with http.get(url + f"/admin/events?token={user}") as resp:
                    assert resp.status == 403
                    assert (await resp.json())["error"]["code"] == "forbidden"

                async with http.ws_connect(url + f"/admin/events?token={admin}") as stream:

                    async def collect() -> None:
                        async for msg in stream:
                            events.append(json.loads(msg.data))

                    reader = asyncio.get_running_loop().create_task(collect())
                    a = await RawClient(url, admin, PATH, "a").connect()
                    b = await RawClient(url, admin, PATH, "b").connect()
                    await a.wait_bound()
                    await b.wait_bound()
                    await a.commit(SCHEMA)
                    await a.commit(item(1, "watched"))
                    await a.sync()
                    await b.wait_version(2)
                    async with connect(ws_url(url)) as raw:  # garbage: an error event
                        await raw.send(b"\xc1")
                        await raw.wait_closed()
                    await a.close()
                    await b.close()
                    deadline = time.monotonic() + 5
                    wanted = {
                        "connection_opened",
                        "session_bound",
                        "upload",
                        "download",
                        "error",
                        "log",
                        "counters",
                        "session_unbound",
                        "connection_closed",
                    }
                    while not wanted <= {e["type"] for e in events}:
                        assert time.monotonic() < deadline, {e["type"] for e in events}
                        await asyncio.sleep(0.05)
                    reader.cancel()

            upload = next(e for e in events if e["type"] == "upload" and e["server_version"] == 2)
            assert upload["realm"] == PATH and upload["changesets"] == 1
            assert upload["instructions"] == 2 and upload["bytes"] > 0 and upload["merge_ms"] >= 0
            download = next(e for e in events if e["type"] == "download")
            assert download["realm"] == PATH and download["changesets"] >= 1
            assert download["instructions"] >= 2
            bound = next(e for e in events if e["type"] == "session_bound")
            assert bound["realm"] == PATH and bound["user"] == "admin"
            error = next(e for e in events if e["type"] == "error")
            assert error["code"] == 103 and error["name"] == "bad_syntax"
            counters = [e for e in events if e["type"] == "counters"][-1]
            for key in (
                "connections",
                "sessions",
                "uploads_per_s",
                "downloads_per_s",
                "bytes_in_per_s",
                "bytes_out_per_s",
                "merge_ms_p50",
                "merge_ms_p99",
                "active_realms",
                "dropped_events",
            ):
                assert key in counters, key
            assert all("time" in e for e in events)

    asyncio.run(body())
