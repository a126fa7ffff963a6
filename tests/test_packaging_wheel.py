"""The wheel and sdist as users install them (docs/packaging.md).

`python -m build` makes the sdist and, from it, the wheel (so a file missing from either
fails here). The wheel goes into two brand-new virtual environments: one with the GUI
extra, where `studio --version`, `studio demo --screenshot` and the browser's screenshot
must work, and one without, where the library (core, sync, server) must import and
PySide6 must be absent. Nothing runs from the source tree: PYTHONPATH is dropped and the
commands run in a temporary folder. About 70 s, most of it installing PySide6 (pip's cache
and the configured indexes make it a copy, not a download, after the first time).
"""

from __future__ import annotations

import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
from packaging_checks import assert_is_a_screenshot, copy_source, run

import studio

# the builds and installs take minutes on a loaded 2-core machine: more than the suite's 300 s
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

RESOURCES = {"studio/resources/demo_schema.json", "studio/resources/icons/studio.svg",
             *(f"studio/resources/icons/studio-{s}.png" for s in (16, 32, 48, 64, 128, 256,
                                                                  512))}


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("build")
    source = copy_source(work / "src")
    out = work / "dist"
    run([sys.executable, "-m", "build", "--outdir", out, source], cwd=work, timeout=600)
    (wheel,) = out.glob("studio-*.whl")
    (sdist,) = out.glob("studio-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def new_venv(folder: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    return folder / "bin" / "python"


def test_the_wheel_and_sdist_carry_the_run_time_files(dists: dict[str, Path]) -> None:
    assert dists["wheel"].name == f"studio-{studio.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"studio-{studio.__version__}.dist-info/METADATA").decode()
    assert names >= RESOURCES
    assert "studio/py.typed" in names
    assert "Provides-Extra: gui" in metadata and "Provides-Extra: package" in metadata
    with tarfile.open(dists["sdist"]) as sdist:
        inside = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert inside >= RESOURCES | {"pyproject.toml", "README.md"}


def test_the_wheel_with_the_gui_extra_runs_the_studio(dists: dict[str, Path], tmp_path: Path
                                                      ) -> None:
    python = new_venv(tmp_path / "venv")
    run([python, "-m", "pip", "install", "--quiet", f"{dists['wheel']}[gui]"], cwd=tmp_path,
        timeout=900)
    studio_exe = python.parent / "studio"
    # the installed copy, not this checkout
    where = run([python, "-c", "import studio, sys; print(studio.__file__)"], cwd=tmp_path)
    assert where.stdout.strip().startswith(str(tmp_path / "venv"))
    version = run([studio_exe, "--version"], cwd=tmp_path)
    assert version.stdout.strip() == f"studio {studio.__version__}"
    run([studio_exe, "demo", "--screenshot", tmp_path / "demo.png", "--wait", "2"],
        cwd=tmp_path, timeout=180)
    assert_is_a_screenshot(tmp_path / "demo.png")
    run([studio_exe, "demo-realm", tmp_path / "library.realm"], cwd=tmp_path)
    run([studio_exe, tmp_path / "library.realm", "--class", "Book", "--screenshot",
         tmp_path / "book.png"], cwd=tmp_path, timeout=120)
    assert_is_a_screenshot(tmp_path / "book.png")
    icon = run([python, "-c", "from studio.ui.app import ensure_application; "
                "print(sorted(s.width() for s in ensure_application().windowIcon()"
                ".availableSizes()))"], cwd=tmp_path)
    assert icon.stdout.strip() == "[16, 24, 32, 48, 64, 128, 256, 512]"


def test_the_wheel_without_the_gui_extra_is_a_headless_library(dists: dict[str, Path],
                                                               tmp_path: Path) -> None:
    python = new_venv(tmp_path / "venv")
    run([python, "-m", "pip", "install", "--quiet", dists["wheel"]], cwd=tmp_path, timeout=600)
    run([python, "-c", "import studio.core, studio.sync, studio.server, studio.realmfile"],
        cwd=tmp_path)
    absent = run([python, "-c", "import importlib.util as u; "
                  "print(u.find_spec('PySide6'), u.find_spec('qasync'))"], cwd=tmp_path)
    assert absent.stdout.strip() == "None None"
    studio_exe = python.parent / "studio"
    assert run([studio_exe, "--version"], cwd=tmp_path).stdout.strip() == (
        f"studio {studio.__version__}")
    # the demo schema is package data: the command-line tools find it without a GUI
    run([studio_exe, "demo-realm", tmp_path / "library.realm"], cwd=tmp_path)
    inspected = run([studio_exe, "inspect", tmp_path / "library.realm", "--json"],
                    cwd=tmp_path)
    assert '"Book"' in inspected.stdout
