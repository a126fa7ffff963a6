"""Packaging, checked fast on the source tree: version, package data, desktop files.

The built artefacts (the wheel in fresh virtual environments, the PyInstaller bundle) are
checked in tests/test_packaging_wheel.py and tests/test_packaging_bundle.py.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import plistlib
import shutil
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import studio
from studio import resources
from studio.version import package_version

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- version ---------------------------------------------------------------------------------


def test_version_is_the_same_in_pyproject_the_package_and_the_metadata() -> None:
    assert studio.__version__ == PYPROJECT["project"]["version"]
    assert package_version() == PYPROJECT["project"]["version"]


def test_version_flag_prints_the_metadata_version() -> None:
    out = subprocess.run([sys.executable, "-m", "studio", "--version"], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == f"studio {package_version()}"


def test_version_falls_back_to_the_module_without_metadata(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from importlib.metadata import PackageNotFoundError

    import studio.version as version_module

    def missing(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(version_module, "version", missing)
    monkeypatch.setattr(version_module, "__version__", "9.9.9")
    assert version_module.package_version() == "9.9.9"


# -- package data ----------------------------------------------------------------------------


def _package_data_patterns() -> dict[str, list[str]]:
    return dict(PYPROJECT["tool"]["setuptools"]["package-data"])


def test_every_non_python_file_in_the_package_is_declared_package_data() -> None:
    """A file read at run time but missing from package-data would be absent from the wheel."""
    patterns = _package_data_patterns()
    undeclared = []
    for path in sorted((ROOT / "studio").rglob("*")):
        if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        # the innermost package that declares patterns owns the file
        relative = path.relative_to(ROOT)
        owners = [p for p in patterns if relative.is_relative_to(Path(*p.split(".")))]
        owner = max(owners, key=len)
        inside = path.relative_to(ROOT / Path(*owner.split("."))).as_posix()
        if not any(fnmatch.fnmatch(inside, glob) for glob in patterns[owner]):
            undeclared.append(relative.as_posix())
    assert undeclared == []


def test_no_module_reads_files_beside_the_package_by_path() -> None:
    """Run-time files are read with importlib.resources: a path built from __file__ and
    leaving the package breaks in a wheel and in a PyInstaller bundle."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "studio").rglob("*.py")
                 if "Path(__file__)" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_the_demo_schema_is_read_from_the_package() -> None:
    from studio.demo import load_demo_schema

    schema, version = load_demo_schema()
    assert version == json.loads(resources.read_text("demo_schema.json"))["schemaVersion"]
    assert {"Author", "Book", "Member"} <= {c["name"] for c in schema}


def test_the_icon_set_has_every_size_and_a_valid_svg() -> None:
    ET.fromstring(resources.icon_svg().read_bytes())  # well-formed XML
    for size in resources.ICON_SIZES:
        assert png_size(resources.icon_png(size).read_bytes()) == (size, size)
    with pytest.raises(ValueError, match="the sizes are 16"):
        resources.icon_png(100)


def test_the_windows_and_macos_icon_files_hold_the_pngs() -> None:
    ico = (ROOT / "packaging" / "windows" / "studio.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind, count) == (0, 1, 7)
    sides = []
    for i in range(count):
        width, _h, _c, _r, _p, _b, length, offset = struct.unpack(
            "<BBBBHHII", ico[6 + 16 * i: 22 + 16 * i])
        assert png_size(ico[offset:offset + length])[0] == (width or 256)
        sides.append(width or 256)
    assert sides == [16, 24, 32, 48, 64, 128, 256]
    icns = (ROOT / "packaging" / "macos" / "studio.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    kinds, at = [], 8
    while at < len(icns):
        kind, length = icns[at:at + 4], struct.unpack(">I", icns[at + 4:at + 8])[0]
        assert icns[at + 8:at + 16] == PNG_SIGNATURE
        kinds.append(kind)
        at += length
    assert kinds == [b"icp4", b"icp5", b"icp6", b"ic07", b"ic08", b"ic09"]


# -- desktop integration ---------------------------------------------------------------------


def test_the_desktop_file_launches_studio_on_realm_files() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(LINUX / "studio.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Studio"
    assert entry["Exec"] == "studio %f"
    assert entry["MimeType"] == "application/x-realm;"
    assert entry["Icon"] == "io.studio.Studio"
    assert entry["Categories"].endswith(";") and "Development" in entry["Categories"]
    if shutil.which("desktop-file-validate"):  # the reference validator, where installed
        subprocess.run(["desktop-file-validate", str(LINUX / "studio.desktop")], check=True)


def test_the_mime_type_matches_realm_files_by_name_and_core_files_by_header() -> None:
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(LINUX / "studio-realm.xml").getroot()
    mime = root.find("m:mime-type", ns)
    assert mime is not None and mime.get("type") == "application/x-realm"
    assert [g.get("pattern") for g in mime.findall("m:glob", ns)] == ["*.realm"]
    match = mime.find("m:magic/m:match", ns)
    assert match is not None
    # A genuine Realm Core file (shared/realm-corpus/README.md): "T-DB" at offset 16.
    assert (match.get("type"), match.get("offset"), match.get("value")) == ("string", "16",
                                                                            "T-DB")


def test_the_appstream_metainfo_names_the_desktop_file_and_the_mime_type() -> None:
    root = ET.parse(LINUX / "io.studio.Studio.metainfo.xml").getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.studio.Studio"
    for key in ("name", "summary", "metadata_license", "project_license"):
        assert (root.findtext(key) or "").strip(), key
    assert root.findtext("launchable") == "studio.desktop"
    assert root.findtext("provides/mediatype") == "application/x-realm"
    release = root.find("releases/release")
    assert release is not None and release.get("version") == studio.__version__
    if shutil.which("appstreamcli"):  # the reference validator, where installed
        subprocess.run(["appstreamcli", "validate", "--no-net",
                        str(LINUX / "io.studio.Studio.metainfo.xml")], check=True,
                       capture_output=True)


def test_macos_info_plist_declares_the_realm_document_type() -> None:
    info = plistlib.loads((ROOT / "packaging" / "macos" / "Info.plist").read_bytes())
    assert info["CFBundleIdentifier"] == "io.studio.Studio"
    assert info["CFBundleShortVersionString"] == studio.__version__
    (document,) = info["CFBundleDocumentTypes"]
    assert document["CFBundleTypeExtensions"] == ["realm"]
    assert document["LSItemContentTypes"] == ["io.studio.realm"]
    (uti,) = info["UTExportedTypeDeclarations"]
    assert uti["UTTypeIdentifier"] == "io.studio.realm"
    assert uti["UTTypeTagSpecification"]["public.filename-extension"] == ["realm"]


def test_the_windows_installer_associates_realm_files() -> None:
    script = (ROOT / "packaging" / "windows" / "studio.iss").read_text(encoding="utf-8")
    assert f'#define AppVersion "{studio.__version__}"' in script
    assert 'Subkey: "Software\\Classes\\.realm"' in script
    assert '"""{app}\\{#AppExe}"" ""%1"""' in script and '"studio.exe"' in script
    assert "ChangesAssociations=yes" in script
