"""Everything but studio.ui imports and works with PySide6 absent (the server is headless)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = r"""
import importlib.abc, pkgutil, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "qasync", "shiboken6"):
            raise ImportError(f"{name} is blocked: this layer must not need Qt")
        return None

sys.meta_path.insert(0, Block())
import studio
names = []
for info in pkgutil.walk_packages(studio.__path__, "studio."):
    if info.name.startswith("studio.ui") or info.name in ("studio.cli", "studio.__main__"):
        continue
    __import__(info.name)
    names.append(info.name)
print(len(names))
"""


def test_non_gui_layers_import_without_qt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10  # the core alone has more modules than that
