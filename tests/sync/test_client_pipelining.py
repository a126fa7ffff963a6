"""Pipelined uploads of the App (SyncConfig.max_uploads_in_flight) against the
in-test server: several uploads go out before the first is acknowledged, and
a connection lost with uploads in flight loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from test_client_harness import FAST, SCHEMA, FakeServer, eventually, make_app, make_user, run
from test_client_harness import running_server as server_running

from studio.sync.client import App
from studio.sync.client.app import SyncedRealm

PATH = "/shared/pipe"


async def open_realm(
    server: FakeServer, tmp: Path, name: str, window: int
) -> tuple[App, SyncedRealm]:
    app = make_app(server, tmp / name, dataclasses.replace(FAST, max_uploads_in_flight=window))
    realm = await app.open_realm(make_user(name), PATH, path=tmp / f"{name}.realm", schema=SCHEMA)
    await realm.sync_session.wait_for_upload_completion(5)
    return app, realm


async def commit_while_held(server: FakeServer, realm: SyncedRealm, keys: range) -> None:
    """Commit one message per key while the server answers nothing, letting the
    session upload after each commit."""
    server.hold = True
    for key in keys:
        with realm.write():
            realm.create("Message", {"_id": f"m{key}", "text": "t", "author": "a", "n": key})
        await asyncio.sleep(0.02)


def integrated_versions(server: FakeServer, ident: int) -> list[int]:
    entries = server.history(PATH).entries()
    return [e.client_version for e in entries if e.origin_file_ident == ident]


@run
async def test_uploads_go_out_without_waiting_for_acks_up_to_the_window(tmp_path: Path) -> None:
    async with server_running() as server:
        app, a = await open_realm(server, tmp_path, "a", window=3)
        session = a.sync_session
        start = session.history.latest_client_version
        await commit_while_held(server, a, range(6))
        # Three uploads of one commit each, none acknowledged; the other three wait.
        assert session.uploaded_through == start + 3
        assert len(session.uploads_in_flight) == 3
        server.hold = False
        await session.wait_for_upload_completion(5)
        assert integrated_versions(server, session.client_file_ident)[-6:] == list(
            range(start + 1, start + 7)
        )
        await app.close()


@run
async def test_stop_and_wait_with_a_window_of_one(tmp_path: Path) -> None:
    async with server_running() as server:
        app, a = await open_realm(server, tmp_path, "a", window=1)
        session = a.sync_session
        start = session.history.latest_client_version
        await commit_while_held(server, a, range(4))
        assert session.uploaded_through == start + 1
        server.hold = False
        await session.wait_for_upload_completion(5)
        await app.close()


@run
async def test_connection_lost_with_uploads_in_flight_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    async with server_running() as server:
        app_a, a = await open_realm(server, tmp_path, "a", window=4)
        app_b, b = await open_realm(server, tmp_path, "b", window=4)
        session = a.sync_session
        start = session.history.latest_client_version
        await commit_while_held(server, a, range(8))
        assert len(session.uploads_in_flight) == 4
        await server.drop_connections()  # uploads in flight, acks never sent
        server.hold = False
        await session.wait_for_upload_completion(5)
        versions = integrated_versions(server, session.client_file_ident)
        assert len(versions) == len(set(versions))
        assert [v for v in versions if v > start] == list(range(start + 1, start + 9))
        await eventually(lambda: len(b.objects("Message")) == 8)
        assert sorted(m.n for m in b.objects("Message")) == list(range(8))
        await app_a.close()
        await app_b.close()


@run
async def test_commits_behind_a_full_window_are_pulled_by_the_acknowledgement(
    tmp_path: Path,
) -> None:
    async with server_running() as server:
        app, a = await open_realm(server, tmp_path, "a", window=1)
        session = a.sync_session
        start = session.history.latest_client_version
        await commit_while_held(server, a, range(4))
        # The window is full: the later commits stay in the realm's history for now.
        assert session.history.latest_client_version == start + 1
        # Counted all the same once someone asks about upload progress.
        seen: list[int] = []
        token = session.add_progress_listener(
            lambda p: seen.append(p.transferable), "upload", "current"
        )
        assert session.history.latest_client_version == start + 4
        server.hold = False
        # The acknowledgement of the first pulls and uploads the other three.
        await eventually(lambda: session.history.last_acked_client_version == start + 4)
        assert integrated_versions(server, session.client_file_ident)[-4:] == list(
            range(start + 1, start + 5)
        )
        assert seen and set(seen) == {start + 4}
        token.remove()
        await app.close()
