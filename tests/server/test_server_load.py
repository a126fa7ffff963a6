"""200 concurrent clients syncing one realm through a server process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from server_harness import SCHEMA, RawClient, admin_token, bump, call, item, until
from server_process import ServerProcess

PATH = "/shared/crowd"
CLIENTS = 200
COMMITS = 2


def test_200_clients_converge(tmp_path: Path) -> None:
    async def body() -> None:
        # 200 clients from one address: beyond the default per-address limit.
        server = ServerProcess(tmp_path / "data", "--max-connections-per-address", "0")
        url = server.start()
        try:
            started = time.monotonic()
            token = await admin_token(url)
            first = await RawClient(url, token, PATH, "first").connect()
            await first.wait_bound()
            await first.commit(SCHEMA)
            await first.sync()
            clients = [first]
            for start in range(1, CLIENTS, 50):
                batch = [
                    RawClient(url, token, PATH, f"c{n}", batched=True)
                    for n in range(start, min(start + 50, CLIENTS))
                ]
                await asyncio.gather(*(c.connect() for c in batch))
                clients.extend(batch)
            await asyncio.gather(*(c.wait_bound(timeout=60) for c in clients))
            _, conns = await call(url, "GET", "/admin/connections", token=token)
            assert len(conns["connections"]) == CLIENTS

            for round_ in range(COMMITS):
                for n, c in enumerate(clients):
                    await c.commit([*item(n * 100 + round_, c.name), *bump()])
                await asyncio.sleep(0)
            await asyncio.gather(*(c.wait_uploaded(timeout=60) for c in clients))
            expected = 1 + CLIENTS * COMMITS
            await asyncio.gather(*(c.wait_version(expected, timeout=60) for c in clients))
            reference = first.canonical()
            await until(lambda: all(c.canonical() == reference for c in clients), 30, "convergence")
            assert first.plain()["Counter"]["c"]["value"] == CLIENTS * COMMITS
            assert len(first.plain()["Item"]) == CLIENTS * COMMITS
            assert not any(c.errors for c in clients)
            elapsed = time.monotonic() - started
            print(f"{CLIENTS} clients x {COMMITS} commits converged in {elapsed:.1f} s")
            assert elapsed < 60
            await asyncio.gather(*(c.close() for c in clients))
        finally:
            assert server.stop() == 0

    asyncio.run(body())
