"""examples/coupons end to end, four kinds of process: the object server, the
notifier (``studio notifier`` with the example's handler), the coupon API and the
shop app (twice: a good code and a bad one)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from server_process import ADMIN_PASSWORD, ROOT, ServerProcess, run

from examples.coupons.schema import REALM, SCHEMA
from studio.sync.client import App

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


async def run_app(server: ServerProcess, tmp: Path, code: str, total: str) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.coupons.app", "--server", server.url,
        "--password-file", str(tmp / "pw"), "--data", str(tmp / f"app-{code}"),
        "--code", code, "--total", total, "--timeout", "30",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=ROOT,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 45)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


def start_api() -> tuple[subprocess.Popen[str], str]:
    api = subprocess.Popen(
        [sys.executable, "-m", "examples.coupons.coupon_api", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT,
    )  # fmt: skip
    assert api.stdout is not None
    line = api.stdout.readline()
    assert line.startswith("listening on "), line
    return api, line.split("listening on ", 1)[1].strip()


@run
async def test_the_app_sees_the_handlers_answer_and_applies_the_discount(
    server: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text(ADMIN_PASSWORD + "\n")
    (tmp_path / "pw").chmod(0o600)
    api, api_url = await asyncio.to_thread(start_api)
    notifier = subprocess.Popen(
        [sys.executable, "-m", "studio", "notifier", "--server", server.url,
         "--password-file", str(tmp_path / "pw"), "--data", str(tmp_path / "notifier"),
         "--rescan-interval", "0.5",
         "--handler", "^/coupons/=examples.coupons.handler:validate"],
        stderr=subprocess.PIPE, text=True, env={**ENV, "COUPON_API_URL": api_url}, cwd=ROOT,
    )  # fmt: skip
    try:
        good, bad = await asyncio.gather(
            run_app(server, tmp_path, "SAVE10", "80"), run_app(server, tmp_path, "NOPE", "80")
        )
    finally:
        notifier.send_signal(signal.SIGTERM)
        _out, err = await asyncio.to_thread(notifier.communicate, timeout=20)
        api.terminate()
        api.wait(10)
    assert notifier.returncode == 0, err
    assert good == {"code": "SAVE10", "valid": True, "percent": 10, "total": 80.0, "pay": 72.0}
    assert bad == {"code": "NOPE", "valid": False, "percent": None, "total": 80.0, "pay": 80.0}
    handled = [json.loads(line) for line in err.splitlines() if '"event_handled"' in line]
    assert {h["handler"] for h in handled} == {"examples.coupons.handler:validate"}

    # The orders, with what was paid, reached the server.
    app = App(server.url, base_dir=tmp_path / "check")
    try:
        user = await app.login("admin", ADMIN_PASSWORD)
        realm = await app.open_realm(user, REALM, schema=SCHEMA, wait_for_download=True,
                                     timeout=15)  # fmt: skip
        paid = sorted((o.coupon.code, o.pay) for o in realm.objects("Order"))
    finally:
        await app.close()
    assert paid == [("NOPE", 80.0), ("SAVE10", 72.0)]
