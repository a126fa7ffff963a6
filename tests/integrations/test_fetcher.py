"""The fetcher pattern: a device inserts a FetchRequest; the notifier's Fetcher
fetches it from an HTTP API (a local server here) and the answer syncs back."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from aiohttp import web
from api_support import serve
from notifier_support import FAST, make_notifier
from server_process import ADMIN_PASSWORD, ROOT, ServerProcess, eventually, run

from examples.fetcher.handler import SCHEMA
from studio.integrations import Fetcher, FetcherError
from studio.sync.client import App


def weather_api(calls: list[str], down: asyncio.Event) -> web.Application:
    async def city(request: web.Request) -> web.StreamResponse:
        if down.is_set():
            calls.append("503")
            return web.Response(status=503, text="down for maintenance")
        name = request.match_info["city"]
        calls.append(name)
        if name == "atlantis":
            return web.json_response({"error": "no such city"}, status=404)
        return web.json_response({"city": name, "celsius": 21})

    app = web.Application()
    app.router.add_get("/weather/{city}", city)
    return app


@run
async def test_a_device_request_is_fetched_once_and_the_answer_syncs_back(
    server: ServerProcess, tmp_path: Path
) -> None:
    calls: list[str] = []
    down = asyncio.Event()
    async with serve(weather_api(calls, down)) as api:
        fetch = Fetcher(allow=[f"{api}/weather/"], timeout=5)
        notifier = make_notifier(server, tmp_path / "notifier")
        notifier.on(r"^/fetch/", fetch, classes=["FetchRequest"])
        device = App(server.url, config=FAST, base_dir=tmp_path / "device")
        user = await device.login("admin", ADMIN_PASSWORD)
        realm = await device.open_realm(user, "/fetch/ann", schema=SCHEMA)
        try:
            async with notifier:
                with realm.write():
                    realm.create("FetchRequest", {"_id": "1", "url": f"{api}/weather/paris"})
                    realm.create("FetchRequest", {"_id": "2", "url": f"{api}/weather/atlantis"})
                    realm.create("FetchRequest", {"_id": "3", "url": "http://169.254.169.254/x"})
                requests = realm.objects("FetchRequest")
                await eventually(lambda: all(
                    r.status is not None or r.error is not None for r in requests))  # fmt: skip
                paris = realm.object_for_primary_key("FetchRequest", "1")
                assert paris is not None and paris.status == 200
                assert paris.contentType == "application/json"
                assert paris.body == '{"city": "paris", "celsius": 21}'
                atlantis = realm.object_for_primary_key("FetchRequest", "2")
                assert atlantis is not None and atlantis.status == 404
                metadata = realm.object_for_primary_key("FetchRequest", "3")
                assert metadata is not None and metadata.status is None
                assert "not allowed: http://169.254.169.254/x" in metadata.error
                assert sorted(calls) == ["atlantis", "paris"]
                # The API is down: the handler raises, the notifier retries until it is back.
                down.set()
                with realm.write():
                    realm.create("FetchRequest", {"_id": "4", "url": f"{api}/weather/oslo"})
                await eventually(lambda: calls.count("503") >= 2)  # called again
                oslo = realm.object_for_primary_key("FetchRequest", "4")
                assert oslo is not None and oslo.status is None and oslo.error is None
                down.clear()
                await eventually(lambda: oslo.status == 200)
                assert calls.count("oslo") == 1 and calls.count("paris") == 1
                handled = notifier.position("/fetch/ann")
            await realm.sync_session.wait_for_download_completion(10)
            # A fresh notifier directory delivers every event again (as after a lost
            # position): the answered requests are not fetched twice.
            again = make_notifier(server, tmp_path / "notifier-again")
            again.on(r"^/fetch/", fetch, classes=["FetchRequest"])
            before = list(calls)
            async with again:
                await eventually(lambda: "/fetch/ann" in again.realms)
                await eventually(lambda: again.pending("/fetch/ann") == 0
                                 and again.position("/fetch/ann") >= handled)  # fmt: skip
            assert calls == before
        finally:
            await fetch.close()
            await device.close()


@run
async def test_fetch_answers_with_the_status_and_refuses_what_is_not_allowed() -> None:
    calls: list[str] = []
    async with serve(weather_api(calls, asyncio.Event())) as api:
        fetch = Fetcher(allow=[f"{api}/"])
        try:
            first = await fetch.fetch(f"{api}/weather/rome")
            assert first["status"] == 200 and calls == ["rome"]
            assert (await fetch.fetch("not a url"))["error"].startswith("not allowed")
        finally:
            await fetch.close()


def test_allowed_prefixes_must_name_a_host() -> None:
    with pytest.raises(FetcherError, match="list of URL prefixes"):
        Fetcher(allow="https://api.example.com/")
    with pytest.raises(FetcherError, match=r"not 'https://api\.example\.com'"):
        Fetcher(allow=["https://api.example.com"])  # would allow api.example.com.evil.org


@run
async def test_the_example_handler_runs_in_studio_notifier(
    server: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text(ADMIN_PASSWORD + "\n")
    (tmp_path / "pw").chmod(0o600)
    async with serve(weather_api([], asyncio.Event())) as api:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FETCH_ALLOW": f"{api}/weather/"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "studio", "notifier", "--server", server.url,
            "--password-file", str(tmp_path / "pw"), "--data", str(tmp_path / "notifier"),
            "--rescan-interval", "0.5", "--handler", "^/fetch/=examples.fetcher.handler:fetch",
            stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
        )  # fmt: skip
        device = App(server.url, config=FAST, base_dir=tmp_path / "device")
        try:
            user = await device.login("admin", ADMIN_PASSWORD)
            realm = await device.open_realm(user, "/fetch/example", schema=SCHEMA)
            with realm.write():
                request = realm.create("FetchRequest", {"_id": "1", "url": f"{api}/weather/oslo"})
            await eventually(lambda: request.status == 200, timeout=30)
            assert request.body == '{"city": "oslo", "celsius": 21}'
        finally:
            await device.close()
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
