"""Layering checked at run time: what importing a layer really loads.

Everything but studio.ui imports and works with PySide6 absent (the server is
headless), and the sans-I/O protocol and the merge load no storage.
"""

from __future__ import annotations

import ast
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


# The protocol, the merge and the changeset codec: what a server or a client
# needs to speak sync, without a realm file.
SANS_STORAGE = (
    "studio.sync.protocol",
    "studio.sync.merge",
    "studio.sync.changeset",
    "studio.sync.history",
    "studio.sync.client_history",
    "studio.primitives",
)

LOADED = r"""
import sys
for name in sys.argv[1:]:
    __import__(name)
print("\n".join(sorted(sys.modules)))
"""


def loaded_modules(*names: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADED, *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_protocol_and_merge_load_no_storage() -> None:
    loaded = loaded_modules(*SANS_STORAGE)
    assert set(SANS_STORAGE) <= loaded
    assert "sqlite3" not in loaded
    assert not {name for name in loaded if name.split(".")[:2] == ["studio", "core"]}


def test_primitives_load_nothing_else_of_studio() -> None:
    loaded = loaded_modules("studio.primitives")
    studio_modules = {name for name in loaded if name.split(".")[0] == "studio"}
    assert studio_modules == {
        "studio",
        "studio.primitives",
        "studio.primitives.instructions",
        "studio.primitives.objectid",
    }
    assert "sqlite3" not in loaded


def test_core_still_exports_object_id() -> None:
    from studio.core import ObjectId
    from studio.primitives import ObjectId as PrimitiveObjectId

    assert ObjectId is PrimitiveObjectId


def test_sync_modules_import_no_private_names() -> None:
    """A module of studio.sync uses what another module makes public: a name
    two modules share is part of their package's API, not a private."""
    offenders = []
    for path in sorted((ROOT / "studio").glob("sync/**/*.py")) + sorted(
        (ROOT / "studio").glob("primitives/*.py")
    ):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("studio"):
                offenders += [
                    f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert offenders == []
