"""The desktop app as `make package` builds it (packaging/studio.spec, PyInstaller).

Builds the one-folder app into a temporary folder, then starts the built program (never
the source tree: PYTHONPATH is dropped) for `--version`, `demo-realm`, a `--screenshot` of
a realm, and `studio demo --screenshot`, whose server subprocess and its spawned workers are
the same frozen program (packaging/studio_app.py). About 60 s on the 2-core CI machine.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import sys
from pathlib import Path

import pytest
from packaging_checks import ROOT, assert_is_a_screenshot, clean_env, run

import studio

# the builds and installs take minutes on a loaded 2-core machine: more than the suite's 300 s
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("pyinstaller")
    # PyInstaller bundles the studio this interpreter imports: this checkout (PYTHONPATH or
    # the editable install of `make test`), so the environment is kept as it is.
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", work / "dist", "--workpath", work / "build",
         ROOT / "packaging" / "studio.spec"], cwd=work, env=dict(os.environ), timeout=900)
    folder = work / "dist" / "studio"
    assert (folder / "studio").is_file() and os.access(folder / "studio", os.X_OK)
    return folder


def test_the_bundle_carries_the_resources_and_the_metadata(bundle: Path) -> None:
    internal = bundle / "_internal"
    assert (internal / "studio" / "resources" / "demo_schema.json").is_file()
    for size in (16, 256, 512):
        assert (internal / "studio" / "resources" / "icons" / f"studio-{size}.png").is_file()
    # `studio --version` reads the metadata (a .dist-info, or .egg-info for a checkout put on
    # PYTHONPATH); without it the version would silently fall back to studio.__version__
    (metadata,) = [p for p in internal.glob("studio*-info") if p.is_dir()]
    assert {"METADATA", "PKG-INFO"} & {p.name for p in metadata.iterdir()}
    assert not list(internal.glob("**/tkinter")), "tkinter is excluded from the bundle"


def test_the_built_app_opens_a_realm_and_paints_it(bundle: Path, tmp_path: Path) -> None:
    program = bundle / "studio"
    version = run([program, "--version"], cwd=tmp_path)
    assert version.stdout.strip() == f"studio {studio.__version__}"
    run([program, "demo-realm", tmp_path / "library.realm"], cwd=tmp_path)
    run([program, tmp_path / "library.realm", "--class", "Book", "--screenshot",
         tmp_path / "book.png"], cwd=tmp_path, timeout=120)
    assert_is_a_screenshot(tmp_path / "book.png")


def test_the_built_app_runs_the_demo_with_its_server(bundle: Path, tmp_path: Path) -> None:
    run([bundle / "studio", "demo", "--screenshot", tmp_path / "demo.png", "--wait", "2"],
        cwd=tmp_path, timeout=180)
    assert_is_a_screenshot(tmp_path / "demo.png")


def test_the_desktop_integration_installs_and_claims_realm_files(bundle: Path, tmp_path: Path
                                                                 ) -> None:
    """install.sh for a user whose data folder is empty: then a file manager (here Qt's
    QMimeDatabase, which reads the same shared-mime-info files) sees .realm files, and
    Realm Core files by their header, as application/x-realm, the Studio's type."""
    home, data = tmp_path / "home", tmp_path / "home" / "data"
    env = {**clean_env(HOME=str(home), XDG_DATA_HOME=str(data)), "XDG_DATA_DIRS": "/usr/share"}
    run(["sh", ROOT / "packaging" / "linux" / "install.sh", bundle], cwd=tmp_path, env=env)
    assert (home / ".local" / "bin" / "studio").resolve() == (bundle / "studio").resolve()
    assert (data / "applications" / "studio.desktop").is_file()
    assert (data / "metainfo" / "io.studio.Studio.metainfo.xml").is_file()
    for size in (16, 48, 256, 512):
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "io.studio.Studio.png"
                ).is_file()
    ours = tmp_path / "library.realm"
    run([bundle / "studio", "demo-realm", ours], cwd=tmp_path)
    core = tmp_path / "renamed-core-file"  # a Realm Core header: top refs, then "T-DB"
    core.write_bytes(struct.pack("<QQ", 0x1408, 0x1308) + b"T-DB" + bytes([22, 22, 0, 0]))
    other_sqlite = tmp_path / "cache.sqlite"
    sqlite3.connect(other_sqlite).execute("create table t (x)").connection.close()
    script = ("import sys\nfrom PySide6.QtCore import QMimeDatabase\n"
              "db = QMimeDatabase()\n"
              "print(' '.join(db.mimeTypeForFile(p).name() for p in sys.argv[1:]))\n")
    # the test's own interpreter has PySide6; the environment points it at the new folder
    kinds = run([sys.executable, "-c", script, ours, core, other_sqlite], cwd=tmp_path, env=env)
    assert kinds.stdout.split() == ["application/x-realm", "application/x-realm",
                                    "application/vnd.sqlite3"]
