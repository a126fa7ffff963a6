"""Helpers of the browser tests that are not fixtures (imported by module name, so the
tests run from any directory)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def commit_elsewhere(path: Path, code: str) -> None:
    """Run ``code`` (with ``realm`` open on ``path``, inside a write) in another process."""
    script = "from studio.core import Realm\n" + (
        f"with Realm.open({str(path)!r}) as realm, realm.write():\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
    )
    subprocess.run([sys.executable, "-c", script], check=True)
