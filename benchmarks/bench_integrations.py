"""Backend integration benchmark (notifier handlers, REST data API): prints one JSON line.

The object server runs in its own process (``python -m studio.server``); the
notifier and the devices are in this process (one clock for both ends).
Measured:

- ``commit_to_handler_p50_ms`` / ``_p99_ms``: from a device's commit to the
  notifier calling the handler with it;
- ``handler_write_to_device_p50_ms`` / ``_p99_ms``: from the handler's write
  transaction to the device's change listener seeing it;
- ``handler_transactions_per_s``: a device commits ``--burst`` transactions
  (one object each) back to back; how many per second reach one handler. The
  notifier makes one event of each download, so ``burst_events`` (handler
  calls) is much smaller than the burst: ``handler_events_per_s`` is calls;

- ``rest_get_page_p50_ms`` / ``_p99_ms``: GET of a 100-object page of a realm
  of ``--objects`` objects (served from the realm's state file), walking
  the listing with its cursors, one keep-alive HTTP connection;
- ``rest_post_to_device_p50_ms`` / ``_p99_ms``: from sending a REST POST to
  the change listener of a synced device (an ``App`` in this process) seeing
  the new object.

Usage: python benchmarks/bench_integrations.py [--quick] [--objects N] [--samples N] [--burst N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sync import NO_WATCH, PASSWORD, SCHEMA, percentile, start_process

from studio.integrations import Notifier, RealmEvent
from studio.sync.client import App, User

REALM = "/shared/rest"
NOTIFY_REALM = "/bench/notify"
ITEMS = "/api/v1/realms/%2Fshared%2Frest/classes/Item/objects"


async def fill(base: str, user: User, tmp: Path, objects: int) -> None:
    app = App(base, config=NO_WATCH)
    realm = await app.open_realm(user, REALM, path=tmp / "writer.realm", schema=SCHEMA)
    for first in range(0, objects, 1000):
        with realm.write():
            for key in range(first, min(objects, first + 1000)):
                realm.create(
                    "Item", {"_id": key, "name": f"item {key}", "value": key * 0.5, "tag": "t"}
                )
        await asyncio.sleep(0)
    await realm.sync_session.wait_for_upload_completion(600)
    await app.close()


async def auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {await user.access_token_for_use()}"}


async def bench_pages(
    http: aiohttp.ClientSession, base: str, user: User, objects: int, samples: int
) -> list[float]:
    # The state worker applies the history in the background: wait for the last object.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        # (a big realm takes longer than an access token lives: ask for one each time)
        headers = await auth(user)
        async with http.get(f"{base}{ITEMS}/{objects - 1}", headers=headers) as resp:
            if resp.status == 200:
                break
        await asyncio.sleep(0.2)
    out: list[float] = []
    cursor: str | None = None
    while len(out) < samples:
        query = "?limit=100" + ("" if cursor is None else f"&after={cursor}")
        start = time.perf_counter()
        async with http.get(base + ITEMS + query, headers=headers) as resp:
            page = await resp.json()
        out.append((time.perf_counter() - start) * 1000)
        assert resp.status == 200 and len(page["objects"]) == 100, page
        cursor = page["next"]
    return out


async def bench_post_to_device(
    http: aiohttp.ClientSession,
    base: str,
    user: User,
    tmp: Path,
    samples: int,
) -> list[float]:
    app = App(base, config=NO_WATCH)
    device = await app.open_realm(
        user, REALM, path=tmp / "device.realm", schema=SCHEMA, wait_for_download=True, timeout=600
    )
    waiting: dict[int, asyncio.Future[float]] = {}

    def on_change(results: Any, changes: Any) -> None:
        now = time.perf_counter()
        for index in changes.insertions:
            future = waiting.pop(results[index]._id, None)
            if future is not None and not future.done():
                future.set_result(now)

    token = device.objects("Item").add_listener(on_change)
    loop = asyncio.get_running_loop()
    out: list[float] = []
    headers = await auth(user)
    for i in range(samples + 10):
        key = 10**9 + i
        future: asyncio.Future[float] = loop.create_future()
        waiting[key] = future
        start = time.perf_counter()
        body = {"_id": key, "name": "rest", "value": 1.0, "tag": "r"}
        async with http.post(base + ITEMS, json=body, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
        arrived = await asyncio.wait_for(future, 10)
        if i >= 10:
            out.append((arrived - start) * 1000)
    token.remove()
    await app.close()
    return out


async def bench_notifier(
    base: str, user: User, tmp: Path, samples: int, burst: int
) -> dict[str, Any]:
    """Device commit -> handler; handler write -> device; a burst through one handler."""
    called: dict[int, float] = {}
    written: dict[int, float] = {}
    burst_seen: list[float] = []
    events = 0

    async def handler(event: RealmEvent) -> None:
        nonlocal events
        now = time.perf_counter()
        events += 1
        for ping in event.inserted("Ping"):
            key = ping._id
            if key >= 0:
                called[key] = now
                with event.realm.write():  # the answer, which the device listens for
                    event.realm.create("Item", {"_id": key, "name": "pong", "value": 0.0,
                                                "tag": "h"})  # fmt: skip
                written[key] = time.perf_counter()
            else:
                burst_seen.append(now)

    notifier = Notifier(base, username="admin", password=PASSWORD, data_dir=tmp / "notifier",
                        sync_config=NO_WATCH, rescan_interval=0.5)  # fmt: skip
    notifier.on(r"^/bench/", handler, classes=["Ping"])
    app = App(base, config=NO_WATCH)
    device = await app.open_realm(user, NOTIFY_REALM, path=tmp / "notify.realm", schema=SCHEMA)
    await device.sync_session.wait_for_upload_completion(30)
    arrived: dict[int, float] = {}
    answers: dict[int, asyncio.Future[None]] = {}

    def on_answer(results: Any, changes: Any) -> None:
        now = time.perf_counter()
        for index in changes.insertions:
            key = results[index]._id
            arrived[key] = now
            future = answers.pop(key, None)
            if future is not None and not future.done():
                future.set_result(None)

    token = device.objects("Item").add_listener(on_answer)
    loop = asyncio.get_running_loop()
    committed: dict[int, float] = {}
    async with notifier:
        deadline = time.monotonic() + 30
        while NOTIFY_REALM not in notifier.realms and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for key in range(samples + 10):
            answers[key] = loop.create_future()
            with device.write():
                device.create("Ping", {"_id": key, "sent": 0.0})
            committed[key] = time.perf_counter()
            await asyncio.wait_for(answers[key], 30)
        # The burst: back-to-back commits, counted where the handler sees them.
        start = time.perf_counter()
        for i in range(burst):
            with device.write():
                device.create("Ping", {"_id": -1 - i, "sent": 0.0})
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the upload start, as an app's loop would
        events_before = events
        deadline = time.monotonic() + 120
        while len(burst_seen) < burst and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        burst_s = max(burst_seen) - start
        burst_events = events - events_before
    token.remove()
    await app.close()
    keys = range(10, samples + 10)  # the first ten warm up
    to_handler = [(called[k] - committed[k]) * 1000 for k in keys]
    to_device = [(arrived[k] - written[k]) * 1000 for k in keys]
    return {
        "commit_to_handler_p50_ms": round(percentile(to_handler, 50), 2),
        "commit_to_handler_p99_ms": round(percentile(to_handler, 99), 2),
        "handler_write_to_device_p50_ms": round(percentile(to_device, 50), 2),
        "handler_write_to_device_p99_ms": round(percentile(to_device, 99), 2),
        "burst_transactions": burst,
        "burst_events": burst_events,
        "handler_events_per_s": round(burst_events / burst_s, 1),
        "handler_transactions_per_s": round(len(burst_seen) / burst_s, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-integrations-"))
    objects = args.objects or (2000 if args.quick else 50_000)
    results: dict[str, Any] = {
        "benchmark": "integrations",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load1": round(os.getloadavg()[0], 2),
        "objects": objects,
    }
    server, base = start_process(
        [
            sys.executable, "-m", "studio.server", "--data", str(tmp / "server"), "--port", "0",
            "--admin-password", PASSWORD, "--log-level", "error",
        ]
    )  # fmt: skip
    try:
        app = App(base, config=NO_WATCH)
        user = await app.login("admin", PASSWORD)
        results.update(await bench_notifier(base, user, tmp, args.samples, args.burst))
        started = time.perf_counter()
        await fill(base, user, tmp, objects)
        results["fill_s"] = round(time.perf_counter() - started, 1)
        async with aiohttp.ClientSession() as http:
            pages_wanted = min(args.samples, objects // 100)
            pages = await bench_pages(http, base, user, objects, pages_wanted)
            print(f"pages: p50 {percentile(pages, 50):.2f} ms", file=sys.stderr, flush=True)
            posts = await bench_post_to_device(http, base, user, tmp, args.samples)
        await app.close()
        results.update(
            {
                "rest_get_page_p50_ms": round(percentile(pages, 50), 2),
                "rest_get_page_p99_ms": round(percentile(pages, 99), 2),
                "rest_post_to_device_p50_ms": round(percentile(posts, 50), 2),
                "rest_post_to_device_p99_ms": round(percentile(posts, 99), 2),
                "samples": len(posts),
            }
        )
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 objects (unless --objects)")
    parser.add_argument("--objects", type=int, help="objects of the REST realm (default 50,000)")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--burst", type=int, default=1000, help="transactions of the burst")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
