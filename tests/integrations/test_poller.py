"""The poller pattern: an HTTP API (a local server here) polled on an interval into
a synced realm; only what changed is written, and a device sees just that."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from api_support import serve
from notifier_support import FAST
from server_process import ADMIN_PASSWORD, ROOT, ServerProcess, eventually, run

from examples.poller.prices import REALM, SCHEMA
from studio.core import Realm
from studio.integrations import Poller, PollerError
from studio.sync.client import App


def price_api(
    prices: dict[str, dict[str, Any]], served: list[int], *, etag: bool = False
) -> web.Application:
    async def listing(request: web.Request) -> web.Response:
        tag = f'"{hash(repr(sorted(prices.items())))}"'
        if etag and request.headers.get("If-None-Match") == tag:
            served.append(304)
            return web.Response(status=304)
        served.append(200)
        return web.json_response(list(prices.values()), headers={"ETag": tag} if etag else {})

    app = web.Application()
    app.router.add_get("/prices", listing)
    return app


@run
async def test_polls_write_only_what_changed_and_devices_see_only_that(
    server: ServerProcess, tmp_path: Path
) -> None:
    prices = {
        sku: {"sku": sku, "price": price, "currency": "EUR"}
        for sku, price in [("tea", 3.5), ("coffee", 4), ("cocoa", 5.0)]
    }
    served: list[int] = []
    async with serve(price_api(prices, served)) as api:
        writer = App(server.url, config=FAST, base_dir=tmp_path / "poller")
        user = await writer.login("admin", ADMIN_PASSWORD)
        realm = await writer.open_realm(user, REALM, schema=SCHEMA)
        device = App(server.url, config=FAST, base_dir=tmp_path / "device")
        seen = await device.open_realm(await device.login("admin", ADMIN_PASSWORD), REALM,
                                       schema=SCHEMA)  # fmt: skip
        changes: list[tuple[list[int], list[int], list[int]]] = []

        def listener(results: Any, change: Any) -> None:
            if change is not None:
                changes.append((list(change.insertions), list(change.modifications),
                                list(change.deletions)))  # fmt: skip

        token = seen.objects("Price").add_listener(listener)
        commits: list[object] = []  # the poller's write transactions

        def on_commit(_realm: Realm, change: Any) -> None:
            if change.local and "Price" in change.changed_classes:
                commits.append(change)

        own = realm.add_listener(on_commit)
        poller = Poller(realm, f"{api}/prices", class_name="Price", interval=0.05,
                        delete_missing=True)  # fmt: skip
        try:
            task = asyncio.create_task(poller.run())
            await eventually(lambda: len(seen.objects("Price")) == 3)
            await eventually(lambda: len(changes) >= 1)
            written = len(commits)
            polls = len(served)
            await eventually(lambda: len(served) >= polls + 3)  # polled, nothing new
            await realm.sync_session.wait_for_upload_completion(10)
            await seen.sync_session.wait_for_download_completion(10)
            assert len(commits) == written  # nothing written
            changes.clear()

            prices["coffee"]["price"] = 4.25  # one price changes
            await eventually(lambda: seen.object_for_primary_key("Price", "coffee").price == 4.25)
            assert len(commits) == written + 1
            assert [(len(i), len(m), len(d)) for i, m, d in changes] == [(0, 1, 0)]

            del prices["cocoa"]  # a product goes, another comes
            prices["mate"] = {"sku": "mate", "price": 2.0, "currency": "EUR"}
            await eventually(lambda: sorted(p.sku for p in seen.objects("Price"))
                             == ["coffee", "mate", "tea"])  # fmt: skip
            assert len(commits) == written + 2
            poller.stop()
            await task
            assert poller.failures == 0
        finally:
            token.remove()
            own.remove()
            await writer.close()
            await device.close()


def test_apply_compares_values_and_skips_empty_transactions(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "local.realm", schema=SCHEMA, record_history=True)
    poller = Poller(realm, "http://unused/", class_name="Price")
    first = poller.apply([{"sku": "tea", "price": 3, "currency": "EUR"}])
    assert (first.created, first.updated) == (1, 0)
    history = len(realm.history())
    again = poller.apply([{"sku": "tea", "price": 3.0, "currency": "EUR"}])  # 3 == 3.0
    assert (again.created, again.updated, again.unchanged, again.changed) == (0, 0, 1, False)
    assert len(realm.history()) == history
    changed = poller.apply([{"sku": "tea", "price": 3.0, "currency": "USD"}])
    assert changed.updated == 1 and realm.history()[-1] is not None
    assert len(realm.history()) == history + 1
    with pytest.raises(PollerError, match="needs its primary key 'sku'"):
        poller.apply([{"price": 1.0}])
    realm.close()


@run
async def test_an_etag_makes_an_unchanged_list_a_304_that_is_not_parsed(tmp_path: Path) -> None:
    prices = {"tea": {"sku": "tea", "price": 3.5, "currency": "EUR"}}
    served: list[int] = []
    realm = Realm.open(tmp_path / "local.realm", schema=SCHEMA)
    async with serve(price_api(prices, served, etag=True)) as api:
        poller = Poller(realm, f"{api}/prices", class_name="Price")
        async with aiohttp.ClientSession() as session:
            assert (await poller.poll_once(session)).created == 1
            assert (await poller.poll_once(session)).not_modified
            prices["tea"]["price"] = 3.75
            assert (await poller.poll_once(session)).updated == 1
    assert served == [200, 304, 200]
    realm.close()


def test_a_class_without_primary_key_is_refused(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "local.realm",
                       schema=[{"name": "Row", "properties": {"a": "int"}}])  # fmt: skip
    with pytest.raises(PollerError, match="Row has no primary key"):
        Poller(realm, "http://unused/", class_name="Row")
    realm.close()


@run
async def test_the_example_script_polls_into_the_realm(
    server: ServerProcess, tmp_path: Path
) -> None:
    prices = {"tea": {"sku": "tea", "price": 3.5, "currency": "EUR"}}
    (tmp_path / "pw").write_text(ADMIN_PASSWORD + "\n")
    async with serve(price_api(prices, [])) as api:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "examples.poller.prices", "--server", server.url,
            "--password-file", str(tmp_path / "pw"), "--data", str(tmp_path / "poller"),
            "--api", f"{api}/prices", "--interval", "0.1",
            stderr=asyncio.subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        device = App(server.url, config=FAST, base_dir=tmp_path / "device")
        try:
            user = await device.login("admin", ADMIN_PASSWORD)
            realm = await device.open_realm(user, REALM, schema=SCHEMA)
            await eventually(lambda: realm.object_for_primary_key("Price", "tea") is not None,
                             timeout=30)  # fmt: skip
            prices["tea"]["price"] = 4.0
            await eventually(lambda: realm.object_for_primary_key("Price", "tea").price == 4.0)
        finally:
            await device.close()
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert b'"event":"poll_changed"' in err
