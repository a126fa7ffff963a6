"""End to end: the server is SIGKILLed while clients upload and restarted on the
same data directory. Every changeset a client saw acknowledged must be there
(clients trim acknowledged changesets, so nobody could upload it again), the
clients resume by themselves, nothing is duplicated, and all converge."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from e2e_support import FAST, SCHEMA, Writer, admin_app, make_users, texts
from server_process import ServerProcess, run

from studio.sync.client import App, SessionConnectionState

REALM = "/shared/e2e-crash"


@run
async def test_sigkill_while_uploading_loses_nothing_acknowledged(
    own_server: ServerProcess, tmp_path: Path
) -> None:
    admin = await admin_app(own_server)
    names = ["w1", "w2", "w3"]
    await make_users(admin, REALM, {n: "write" for n in names})
    await admin.close()
    apps: list[App] = []
    writers: list[Writer] = []
    for name in names:
        app = App(own_server.url, config=FAST)
        user = await app.login(name, "pw")
        realm = await app.open_realm(user, REALM, path=tmp_path / f"{name}.realm", schema=SCHEMA)
        await realm.sync_session.wait_for_download_completion(10)
        apps.append(app)
        writers.append(Writer(name, realm))
    tasks = [asyncio.ensure_future(w.run()) for w in writers]
    acknowledged: set[str] = set()
    for _round in range(2):
        await asyncio.sleep(0.3)
        # The kill must come after some of this round's uploads were
        # acknowledged: waited for, as a fixed pause is too short on a loaded
        # machine (the restarted server first loads the realm).
        before = len(acknowledged)
        deadline = time.monotonic() + 15
        while len(acknowledged | set().union(*(w.acknowledged() for w in writers))) <= before:
            assert time.monotonic() < deadline, "no upload was acknowledged this round"
            await asyncio.sleep(0.02)
        own_server.kill()
        acknowledged |= set().union(*(w.acknowledged() for w in writers))
        await asyncio.sleep(0.3)  # clients keep writing offline meanwhile
        assert all(
            w.realm.sync_session.connection_state is not SessionConnectionState.CONNECTED
            for w in writers
        )
        own_server.start()
        # Nobody resumes them: they reconnect by themselves.
        deadline = time.monotonic() + 15
        while not all(
            w.realm.sync_session.connection_state is SessionConnectionState.CONNECTED
            for w in writers
        ):
            assert time.monotonic() < deadline, "the clients did not reconnect"
            await asyncio.sleep(0.02)
    for w in writers:
        w.stop = True
    await asyncio.gather(*tasks)
    for w in writers:
        await w.realm.sync_session.wait_for_upload_completion(20)
    for w in writers:
        await w.realm.sync_session.wait_for_download_completion(20)

    everything = {key for w in writers for key in w.versions}
    lists = [texts(w.realm) for w in writers]
    assert lists[0] == lists[1] == lists[2]
    assert len(lists[0]) == len(set(lists[0])) == len(everything)  # nothing twice
    assert set(lists[0]) == everything
    # A new device downloads the server's copy: all there, in the same order.
    fresh_app = App(own_server.url, config=FAST)
    user = await fresh_app.login("w1", "pw")
    fresh = await fresh_app.open_realm(user, REALM, path=tmp_path / "fresh.realm",
                                       wait_for_download=True, timeout=20)  # fmt: skip
    assert texts(fresh) == lists[0]
    assert acknowledged <= set(texts(fresh))
    await fresh_app.close()
    for app in apps:
        await app.close()
