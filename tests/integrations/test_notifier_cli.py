"""``studio notifier`` runs a handler from a module and logs JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from notifier_support import Device, commit
from server_process import ADMIN_PASSWORD, ROOT, ServerProcess, eventually, run

from studio.cli import main

HANDLER_MODULE = '''
from studio.integrations import RealmEvent


async def validate(event: RealmEvent) -> None:
    for coupon in event.inserted("Coupon"):
        with event.realm.write():
            coupon.valid = coupon.code.startswith("OK")
'''


@run
async def test_cli_runs_a_handler_from_a_module(server: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "coupon_checks.py").write_text(HANDLER_MODULE)
    password_file = tmp_path / "password"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    password_file.chmod(0o600)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path / 'handlers'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", "notifier", "--server", server.url,
         "--password-file", str(password_file), "--data", str(tmp_path / "data"),
         "--rescan-interval", "0.5", "--handler", "^/cli/=coupon_checks:validate"],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    device = Device(server, tmp_path / "device")
    try:
        realm = await device.open("/cli/coupons")
        await commit(realm, lambda r: r.create("Coupon", {"_id": "c", "code": "OK-7", "uses": 0}))

        def validated() -> bool:
            realm.refresh()
            coupon = realm.object_for_primary_key("Coupon", "c")
            return coupon is not None and coupon.valid is True

        await eventually(validated, timeout=30)
    finally:
        await device.close()
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "notifier_started" in events and "notifier_stopped" in events
    handled = [line for line in lines if line["event"] == "event_handled"]
    assert handled[0]["realm"] == "/cli/coupons"
    assert handled[0]["handler"] == "coupon_checks:validate"
    assert handled[0]["classes"] == ["Coupon"]


def test_cli_reports_a_bad_handler_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("pw")
    password_file.chmod(0o600)
    status = main(["notifier", "--server", "http://127.0.0.1:1", "--password-file",
                   str(password_file), "--data", str(tmp_path / "d"),
                   "--handler", "no-module-here"])  # fmt: skip
    assert status == 2
    assert "write REGEX=package.module:function" in capsys.readouterr().err
    status = main(["notifier", "--server", "http://127.0.0.1:1", "--password-file",
                   str(password_file), "--data", str(tmp_path / "d"),
                   "--handler", "^/x=surely_not_a_module_xyz:f"])  # fmt: skip
    assert status == 2
    assert "cannot import surely_not_a_module_xyz" in capsys.readouterr().err
