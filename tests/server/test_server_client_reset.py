"""Client reset end to end, against the real object server (in process).

``run_client_reset_scenario(tmp_path, expire)`` takes the step that makes the
offline client's file unsyncable as a parameter: the admin deletes the realm
and creates it again (``expire_by_recreating_the_realm``), or another writer
moves the realm on and its history is compacted past the offline client
(``expire_by_compacting``, on a server with a short ``history_retention``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server_harness import admin_token, call, grant, make_user, running_server

from studio.core import Realm
from studio.server import Server
from studio.sync.client import App, ClientResetResult, SyncConfig, SyncSessionError
from studio.sync.client.reset import download_path_for
from studio.sync.protocol import ErrorCode

ROOT = Path(__file__).resolve().parents[2]

PATH = "/shared/notes"
NOTES = [
    {"name": "Note", "primaryKey": "_id", "properties": {"_id": "string", "text": "string"}}
]
FAST = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)


@dataclass
class ScenarioContext:
    server: Server
    url: str
    admin: str
    path: str
    client_server_version: int
    """The server version the offline client last integrated."""


@dataclass
class ScenarioOutcome:
    offline_notes: dict[str, str]  # the offline client's notes after the reset
    other_notes: dict[str, str]  # the other client's, after syncing with it
    result: ClientResetResult
    errors: list[SyncSessionError]
    before_reset: list[dict[str, str]]  # what on_before_reset saw
    backup_notes: dict[str, str]
    kept_object: str | None  # the offline edit of "n0" if n0 survived on the server


Expire = Callable[[ScenarioContext], Awaitable[None]]


def notes(realm: Realm) -> dict[str, str]:
    return {n._id: n.text for n in realm.objects("Note")}


def put(realm: Realm, key: str, text: str) -> None:
    with realm.write():
        note = realm.object_for_primary_key("Note", key)
        if note is None:
            realm.create("Note", {"_id": key, "text": text})
        else:
            note.text = text


async def expire_by_recreating_the_realm(ctx: ScenarioContext) -> None:
    """The admin deletes the realm and creates it again (grants included)."""
    status, body = await call(ctx.url, "DELETE", f"/admin/realms?path={ctx.path}", None, ctx.admin)
    assert status == 204, body
    status, body = await call(ctx.url, "POST", "/admin/realms", {"path": ctx.path}, ctx.admin)
    assert status == 201, body
    for name in ("alice", "carol"):
        await grant(ctx.url, ctx.admin, ctx.path, name, "write")


async def expire_by_compacting(ctx: ScenarioContext) -> None:
    """The admin writes past the offline client (the REST API), then compacts
    the history above the version the client last integrated (the server's
    retention is short, so the silent client no longer holds it back)."""
    realm = urllib.parse.quote(ctx.path, safe="")
    status, body = await call(ctx.url, "POST", f"/api/v1/realms/{realm}/classes/Note/objects",
                              {"_id": "r1", "text": "written past the offline client"},
                              ctx.admin)  # fmt: skip
    assert status == 201, body
    async with asyncio.timeout(20):
        while True:  # until the state file has applied the write and the retention passed
            status, body = await call(ctx.url, "POST", f"/admin/realms/{realm}/compact",
                                      None, ctx.admin)  # fmt: skip
            assert status == 200, body
            if body["compacted"] and body["base_version"] > ctx.client_server_version:
                return
            await asyncio.sleep(0.05)


async def run_client_reset_scenario(
    tmp_path: Path, expire: Expire, **server_settings: Any
) -> ScenarioOutcome:
    """alice syncs n0, goes offline, creates a1 and a2 and edits n0; ``expire``
    makes her file unsyncable; carol writes c1 on the server; alice comes back,
    resets (RECOVER) and both converge."""
    async with running_server(tmp_path / "server", **server_settings) as server:
        url = server.url
        admin = await admin_token(url)
        for name in ("alice", "carol"):
            await make_user(url, admin, name)
            await grant(url, admin, PATH, name, "write")
        results: list[ClientResetResult] = []
        before: list[dict[str, str]] = []
        errors: list[SyncSessionError] = []
        alice_app = App(url, config=FAST, base_dir=tmp_path / "alice")
        alice = await alice_app.login("alice", "pw")
        a = await alice_app.open_realm(
            alice, PATH, path=tmp_path / "alice.realm", schema=NOTES,
            on_error=lambda s, e: errors.append(e),
            on_before_reset=lambda realm: before.append(notes(realm)),
            on_after_reset=lambda realm, result: results.append(result),
        )  # fmt: skip
        put(a, "n0", "synced")
        await a.sync_session.wait_for_upload_completion(10)
        a.sync_session.pause()
        put(a, "a1", "offline one")
        put(a, "n0", "edited offline")
        put(a, "a2", "offline two")
        await expire(
            ScenarioContext(server, url, admin, PATH,
                            a.sync_session.history.last_integrated_server_version)
        )  # fmt: skip
        carol_app = App(url, config=FAST, base_dir=tmp_path / "carol")
        carol = await carol_app.login("carol", "pw")
        c = await carol_app.open_realm(carol, PATH, path=tmp_path / "carol.realm", schema=NOTES)
        put(c, "c1", "from the server side")
        await c.sync_session.wait_for_upload_completion(10)
        a.sync_session.resume()
        async with asyncio.timeout(20):
            while not results:
                await asyncio.sleep(0.02)
        await a.sync_session.wait_for_upload_completion(10)
        await a.sync_session.wait_for_download_completion(10)
        await c.sync_session.wait_for_download_completion(10)
        backup = Realm.open(results[0].backup_path)
        backup_notes = notes(backup)
        backup.close()
        n0 = a.object_for_primary_key("Note", "n0")
        outcome = ScenarioOutcome(
            notes(a), notes(c), results[0], errors, before, backup_notes,
            None if n0 is None else n0.text,
        )  # fmt: skip
        await alice_app.close()
        await carol_app.close()
        return outcome


def check_common(outcome: ScenarioOutcome) -> None:
    """What every variant must show: one reset, the offline creations recovered
    and uploaded, the server side's write kept, both replicas equal, the
    backup holding the file as it was before."""
    assert outcome.offline_notes == outcome.other_notes
    assert outcome.offline_notes["a1"] == "offline one"
    assert outcome.offline_notes["a2"] == "offline two"
    assert outcome.offline_notes["c1"] == "from the server side"
    assert outcome.result.unsynced_changesets == 3
    assert outcome.before_reset == [
        {"n0": "edited offline", "a1": "offline one", "a2": "offline two"}
    ]
    assert outcome.backup_notes == outcome.before_reset[0]
    assert [e.client_reset_required for e in outcome.errors] == [True]
    assert not outcome.errors[0].fatal


def check_after_compaction(outcome: ScenarioOutcome) -> None:
    """The compaction variant: the realm and n0 survive, so the offline edit of
    n0 is recovered (the local value wins) and nothing is lost."""
    assert outcome.errors[0].code == ErrorCode.CLIENT_FILE_EXPIRED
    assert outcome.kept_object == "edited offline"
    assert outcome.result.unrecovered == []


def test_client_reset_after_the_history_was_compacted_past_the_client(tmp_path: Path) -> None:
    outcome = asyncio.run(
        run_client_reset_scenario(tmp_path, expire_by_compacting, history_retention=0.05)
    )
    check_common(outcome)
    check_after_compaction(outcome)
    assert outcome.other_notes["r1"] == "written past the offline client"


def test_client_reset_after_the_realm_was_deleted_and_created_again(tmp_path: Path) -> None:
    outcome = asyncio.run(run_client_reset_scenario(tmp_path, expire_by_recreating_the_realm))
    check_common(outcome)
    # alice's ident was issued again, to carol, in the new realm: the salt differs.
    assert outcome.errors[0].code == ErrorCode.CLIENT_FILE_IDENT_MISMATCH
    # n0 went with the deleted realm: the offline edit of it is not recovered,
    # and the report says so.
    assert outcome.kept_object is None
    assert [(u.instruction.primary_key, u.reason) for u in outcome.result.unrecovered] == [
        ("n0", "the object was deleted on the server")
    ]


CRASHING_CLIENT = """
import asyncio, os, signal, sys
from studio.sync.client import App, SyncConfig
from studio.sync.client import session as session_module

def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)  # between the complete download and the swap

session_module.adopt_fresh_copy = die

async def main(url, path, local):
    app = App(url, config=SyncConfig(reconnect_initial=0.05, watch_files=False),
              base_dir=os.path.dirname(local))
    user = await app.login("alice", "pw")
    await app.open_realm(user, path, path=local)
    await asyncio.sleep(60)

asyncio.run(main(*sys.argv[1:]))
"""


def test_a_client_killed_between_download_and_swap_finishes_the_reset_on_open(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with running_server(tmp_path / "server") as server:
            url = server.url
            admin = await admin_token(url)
            for name in ("alice", "carol"):
                await make_user(url, admin, name)
                await grant(url, admin, PATH, name, "write")
            local = tmp_path / "alice.realm"
            app = App(url, config=FAST, base_dir=tmp_path / "alice")
            user = await app.login("alice", "pw")
            a = await app.open_realm(user, PATH, path=local, schema=NOTES)
            put(a, "n0", "synced")
            await a.sync_session.wait_for_upload_completion(10)
            a.sync_session.pause()
            put(a, "a1", "offline one")
            await app.close()
            await expire_by_recreating_the_realm(
                ScenarioContext(server, url, admin, PATH, 0)
            )
            carol_app = App(url, config=FAST, base_dir=tmp_path / "carol")
            carol = await carol_app.login("carol", "pw")
            c = await carol_app.open_realm(
                carol, PATH, path=tmp_path / "carol.realm", schema=NOTES
            )
            put(c, "c1", "from the server side")
            await c.sync_session.wait_for_upload_completion(10)

            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CRASHING_CLIENT, url, PATH, str(local),
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            async with asyncio.timeout(30):
                code = await child.wait()
            assert code == -signal.SIGKILL
            download = download_path_for(local)
            assert download.exists()
            assert notes_in(local) == {"n0": "synced", "a1": "offline one"}  # untouched

            results: list[ClientResetResult] = []
            app = App(url, config=FAST, base_dir=tmp_path / "alice")
            user = await app.login("alice", "pw")
            a = await app.open_realm(
                user, PATH, path=local, on_after_reset=lambda r, res: results.append(res)
            )
            assert not download.exists() and len(results) == 1
            assert notes(a) == {"c1": "from the server side", "a1": "offline one"}
            await a.sync_session.wait_for_upload_completion(10)
            await c.sync_session.wait_for_download_completion(10)
            assert notes(c) == notes(a)
            await app.close()
            await carol_app.close()

    asyncio.run(body())


def notes_in(path: Path) -> dict[str, str]:
    realm = Realm.open(path)
    try:
        return notes(realm)
    finally:
        realm.close()
