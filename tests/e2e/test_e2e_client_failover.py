"""End to end: an App of two servers (``App([url1, url2])``) moves to the
second when the first dies, by itself, with the usual backoff. The second
server is started on the first's data directory after the first was
SIGKILLed (two live processes on one SQLite directory would not be safe;
tests/e2e/test_e2e_pg_failover.py has servers on a shared PostgreSQL).
Login and token refresh over HTTP move on too."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from e2e_support import FAST, SCHEMA, Writer, make_users, texts
from server_process import ADMIN_PASSWORD, ServerProcess, run

from studio.sync.client import App, SessionConnectionState

REALM = "/shared/e2e-client-failover"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@run
async def test_clients_move_to_the_second_server_when_the_first_dies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data)
    first.start()
    second = ServerProcess(data)
    second.port = free_port()  # not running yet: the clients find it down at first
    urls = [first.url, second.url]
    apps: list[App] = []
    try:
        admin = App(urls, config=FAST)
        apps.append(admin)
        await admin.login("admin", ADMIN_PASSWORD)
        await make_users(admin, REALM, {"w1": "write", "w2": "write"})
        writers: list[Writer] = []
        for name in ("w1", "w2"):
            app = App(urls, config=FAST)
            apps.append(app)
            user = await app.login(name, "pw")
            realm = await app.open_realm(
                user, REALM, path=tmp_path / f"{name}.realm", schema=SCHEMA
            )
            await realm.sync_session.wait_for_download_completion(10)
            assert app.servers.current == first.url
            writers.append(Writer(name, realm))
        # a post every 20 ms: what piles up offline stays a few hundred
        # changesets, uploaded in a few round trips even on a loaded machine
        tasks = [asyncio.ensure_future(w.run(0.02)) for w in writers]
        await asyncio.sleep(0.5)

        first.kill()
        acknowledged = set().union(*(w.acknowledged() for w in writers))
        assert acknowledged, "uploads were acknowledged before the kill"
        await asyncio.sleep(0.3)  # both down: the clients alternate, backing off
        assert all(
            w.realm.sync_session.connection_state is not SessionConnectionState.CONNECTED
            for w in writers
        )
        await asyncio.to_thread(second.start)  # the clients go on meanwhile
        marks = [w.realm.history()[-1].client_version + 1 for w in writers]
        deadline = time.monotonic() + 30
        while not all(w.acked >= mark for w, mark in zip(writers, marks, strict=True)):
            assert time.monotonic() < deadline, (
                "the clients did not move to the second server: "
                f"acknowledged {[w.acked for w in writers]} of {marks}, "
                f"using {[app.servers.current for app in apps[1:]]}, "
                f"{[w.realm.sync_session.connection_state for w in writers]}"
            )
            await asyncio.sleep(0.02)
        assert [app.servers.current for app in apps[1:]] == [second.url, second.url]

        # HTTP moves on too: a token refresh, and a login on a new App.
        user = writers[0].realm.sync_session.user
        await user.refresh()
        late = App(urls, config=FAST)
        apps.append(late)
        await late.login("w2", "pw")
        assert late.servers.current == second.url

        for w in writers:
            w.stop = True
        await asyncio.gather(*tasks)
        for w in writers:
            await w.realm.sync_session.wait_for_upload_completion(20)
        for w in writers:
            await w.realm.sync_session.wait_for_download_completion(20)
        everything = {key for w in writers for key in w.versions}
        lists = [texts(w.realm) for w in writers]
        assert lists[0] == lists[1]
        assert len(lists[0]) == len(set(lists[0])) == len(everything)
        assert acknowledged <= set(lists[0])
    finally:
        for app in apps:
            await app.close()
        first.kill()
        second.stop()
