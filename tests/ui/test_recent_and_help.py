"""Recent files shared by two Studio processes, and the Studio's options in
``studio --help`` (issue 16, defect 11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from studio.cli import main
from studio.ui.recent import RecentFiles

_OTHER_PROCESS = """
import sys
from PySide6.QtCore import QSettings
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
from studio.ui.recent import RecentFiles
RecentFiles().add(sys.argv[2])
"""


def test_two_processes_keep_each_others_recent_files(temp_settings: Path,
                                                     tmp_path: Path) -> None:
    mine = RecentFiles()
    mine.add(tmp_path / "a.realm")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(temp_settings),
                    str(tmp_path / "b.realm")], check=True, env=env, timeout=60)
    mine.add(tmp_path / "c.realm")
    assert [Path(p).name for p in mine.paths()] == ["c.realm", "b.realm", "a.realm"]
    assert [Path(p).name for p in RecentFiles().paths()] == ["c.realm", "b.realm", "a.realm"]


def test_top_level_help_lists_the_studio_options(capsys: object) -> None:
    code = main(["--help"])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert code == 0
    for option in ("--class NAME", "--query Q", "--screenshot", "--read-only", "--theme",
                   "--connect URL", "inspect"):
        assert option in out, option
