"""End to end: a program whose ``main`` returns without closing its Apps,
while the server is gone, must end: ``asyncio.run(main())`` cancels the
client's tasks and every one of them must stop promptly, at whatever point
of connecting, backing off or binding it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from e2e_support import admin_app, make_users
from server_process import ServerProcess, run

REALM = "/shared/e2e-shutdown"

PROGRAM = textwrap.dedent(
    """
    import asyncio, faulthandler, json, socket, sys, time
    faulthandler.dump_traceback_later(60, exit=True)
    from e2e_support import FAST, SCHEMA
    from studio.sync.client import App, SyncConfig

    # Long backoffs: main returns while the client waits to reconnect.
    PATIENT = SyncConfig(reconnect_initial=20, reconnect_max=30, watch_files=False)

    url, realm_path, folder = sys.argv[1:4]

    async def log_in():
        app = App(url, config=FAST)
        user = await app.login("s1", "pw")
        realm = await app.open_realm(user, realm_path, path=f"{folder}/first.realm",
                                     schema=SCHEMA, wait_for_download=True, timeout=20)
        await app.close()
        return user

    async def main(app_url, user, n, delay, config):
        # Two Apps left open, one realm each with a local change to upload.
        for k in range(2):
            app = App(app_url, config=config)
            realm = await app.open_realm(user, realm_path, path=f"{folder}/{n}-{k}.realm",
                                         schema=SCHEMA)
            with realm.write():
                realm.create("Message", {"_id": f"{n}-{k}", "text": "x", "author": "s1"})
        await asyncio.sleep(delay)

    user = asyncio.run(log_in())
    times = []
    n = 0

    def runs(app_url, who, config=FAST):
        global n
        for delay in (0, 0.001, 0.01, 0.03, 0.06, 0.1, 0.2, 0.35, 0.6):
            n += 1
            print("run", n, app_url, delay, file=sys.stderr, flush=True)
            started = time.monotonic()
            asyncio.run(main(app_url, who, n, delay, config))
            times.append(round(time.monotonic() - started - delay, 3))

    async def give_up_login(app_url):
        app = App(app_url, config=FAST)
        try:
            await asyncio.wait_for(app.login("s1", "pw"), 0.2)
        except TimeoutError:
            pass

    runs(url, user)  # connected, binding, uploading
    print("ready", flush=True)
    sys.stdin.readline()  # the server is gone now
    runs(url, user)  # connecting, backing off
    runs(url, user, PATIENT)
    # A port that accepts connections and never answers (a server starting up).
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    runs(silent_url, user)  # in the websocket handshake
    for _ in range(3):  # an HTTP request given up on: its thread must not hold the exit
        started = time.monotonic()
        asyncio.run(give_up_login(silent_url))
        times.append(round(time.monotonic() - started - 0.2, 3))
    print(json.dumps(times), flush=True)
    """
)


@run
async def test_asyncio_run_returns_with_apps_left_open_and_the_server_gone(
    own_server: ServerProcess, tmp_path: Path
) -> None:
    admin = await admin_app(own_server)
    await make_users(admin, REALM, {"s1": "write"})
    await admin.close()
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    here = Path(__file__).parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(here), str(here.parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.Popen(
        [sys.executable, str(program), own_server.url, REALM, str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr
        own_server.kill()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        # 39 runs; each must end within a few seconds of main returning.
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"asyncio.run(main()) did not return:\n{out}\n{err[-3000:]}") from None
    assert proc.returncode == 0, err[-3000:]
    times = json.loads(out.strip().splitlines()[-1])
    assert len(times) == 39
    assert max(times) < 3.0, times
