"""SIGKILL the server process while a client uploads: after a restart on the
same data directory every acknowledged changeset is there, exactly once, and
the client resumes by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from server_harness import SCHEMA, RawClient, admin_token, bump, call, item, until
from server_process import ServerProcess

PATH = "/shared/crash"


async def history(url: str, token: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        status, page = await call(
            url,
            "GET",
            f"/admin/realms/history?path={PATH}&since={len(out)}&limit=1000",
            token=token,
        )
        assert status == 200, page
        out.extend(page["changesets"])
        if len(page["changesets"]) < 1000:
            return out


def test_sigkill_while_uploading_loses_nothing_acknowledged(tmp_path: Path) -> None:
    async def body() -> None:
        server = ServerProcess(tmp_path / "data")
        url = server.start()
        token = await admin_token(url)
        client = await RawClient(url, token, PATH, "device").connect()
        await client.wait_bound()
        await client.commit(SCHEMA)
        await client.sync()
        bumps = 0
        try:
            for cycle in range(2):
                # Upload continuously; kill the server in the middle of it.
                target = client.acked + 40
                while client.acked < target:
                    await client.commit([*item(client.history.latest_client_version, "x"), *bump()])
                    bumps += 1
                    await asyncio.sleep(0.001)
                for _ in range(30):  # a burst the server is still working on ...
                    await client.commit(bump())
                    bumps += 1
                server.kill()  # ... when it dies
                await until(lambda: client.closed, what="the client notices")
                acknowledged = client.acked  # every ack that reached the client
                assert client.history.pending, "the kill should catch uploads in flight"
                # More offline writes while the server is down.
                for _ in range(5):
                    await client.commit(bump())
                    bumps += 1

                url = server.start()
                token = await admin_token(url)
                ident = client.history.client_file_ident
                stored = [c for c in await history(url, token) if c["origin_file_ident"] == ident]
                versions = [c["client_version"] for c in stored]
                print(
                    f"cycle {cycle}: acknowledged {acknowledged}, stored up to {max(versions)}, "
                    f"latest local {client.history.latest_client_version}"
                )
                assert len(versions) == len(set(versions)), "a changeset was stored twice"
                assert set(range(1, acknowledged + 1)) <= set(versions), (
                    f"cycle {cycle}: acknowledged up to {acknowledged}, stored {versions[-5:]}"
                )

                # The client resumes from its cursors (its old token still works:
                # the signing key is kept in the data directory).
                client.url = url
                await client.connect()
                await client.wait_bound()
                await client.sync()
                stored = [c for c in await history(url, token) if c["origin_file_ident"] == ident]
                versions = [c["client_version"] for c in stored]
                assert versions == list(range(1, client.history.latest_client_version + 1))

            fresh = await RawClient(url, token, PATH, "fresh").connect()
            await fresh.wait_bound()
            await until(lambda: fresh.canonical() == client.canonical(), what="fresh copy matches")
            assert fresh.plain()["Counter"]["c"]["value"] == bumps
            await fresh.close()
            await client.close()
        finally:
            if server.proc is not None and server.proc.poll() is None:
                assert server.stop() == 0

    asyncio.run(body())
