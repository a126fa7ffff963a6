"""Helpers of the packaging tests: a clean environment, and "is this PNG a picture"."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What is not part of the project's source: build products, caches, virtual environments.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                    "__pycache__", ".*_cache", ".hypothesis", "*.realm*", "tmp")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without PYTHONPATH (and friends): what runs must be the installed
    copy, never the source tree this test sits in."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def run(args: Sequence[str | Path], cwd: Path, timeout: float = 300,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure the assertion shows its output."""
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} exited {done.returncode}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
    return done


def copy_source(target: Path) -> Path:
    """The project's source files, copied, so a build leaves nothing in the work tree."""
    shutil.copytree(ROOT, target, ignore=NOT_SOURCE)
    return target


def picture_facts(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct colours sampled on a grid) of a PNG file."""
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable image"
    step = max(1, min(image.width(), image.height()) // 40)
    colours = {image.pixel(x, y) for x in range(0, image.width(), step)
               for y in range(0, image.height(), step)}
    return image.width(), image.height(), len(colours)


def assert_is_a_screenshot(path: Path) -> None:
    width, height, colours = picture_facts(path)
    assert (width, height) == (1280, 800)  # studio.ui.app.SCREENSHOT_SIZE
    assert colours >= 8, f"{path}: only {colours} colours, the window did not paint"
