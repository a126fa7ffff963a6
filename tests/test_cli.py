"""The `studio` command line: run in-process through main(), and once as `python -m studio`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import COMMANDS, main
from studio.cli_support import ProgressBar
from studio.core import Realm
from studio.core.schema import COLLECTIONS, PRIMITIVE_TYPES
from studio.demo import build_demo_realm, load_demo_schema

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "realm-corpus"
GENUINE = CORPUS / "studio__asset_file_2024-03-26_154b6ff3.realm"
ENCRYPTED = CORPUS / "rc__0.98.0-alltypes-default-encrypted.realm"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.realm"
    assert main(["demo-realm", str(path)]) == 0
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("studio")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# -- help and routing ----------------------------------------------------------------------


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("studio ")
    code, _, err = run(capsys, "inspect")
    assert code == 2 and "REALM" in err
    code, _, err = run(capsys, "export", "x.realm", "--format", "xml", "--out", "o")
    assert code == 2 and "invalid choice" in err


def test_a_path_opens_the_studio_and_can_be_screenshot(
    capsys: pytest.CaptureFixture[str], demo: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "browser.png"
    code, _, err = run(capsys, str(demo), "--class", "Book", "--screenshot", str(shot))
    assert code == 0, err
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5000  # a real rendering, not an empty image


# -- demo-realm ----------------------------------------------------------------------------


def test_demo_realm_uses_every_type(demo: Path) -> None:
    with Realm.open(demo, read_only=True) as realm:
        kinds = {p.type for s in realm.schema for p in s.properties}
        collections = {(p.collection, p.type == "object")
                       for s in realm.schema for p in s.properties if p.collection}
        assert PRIMITIVE_TYPES - {"float"} <= kinds | {"float"}
        assert "float" in kinds and {"object", "linkingObjects"} <= kinds
        assert {c for c, _ in collections} >= set(COLLECTIONS)
        assert ("set", True) in collections and ("dictionary", True) in collections
        assert any(s.embedded for s in realm.schema)
        assert any(s.primary_key is None and not s.embedded for s in realm.schema)
        for schema in realm.schema:
            assert len(realm.objects(schema.name)) > 0, schema.name
        total = sum(len(realm.objects(s.name)) for s in realm.schema if not s.embedded)
        assert 300 <= total <= 1000
        mixed_types = {type(b["extra"]).__name__ for b in realm.objects("Book")}
        assert len(mixed_types) >= 10  # every kind of mixed value, links included


def test_demo_realm_is_deterministic(
    capsys: pytest.CaptureFixture[str], demo: Path, tmp_path: Path
) -> None:
    again = tmp_path / "sub" / "again.realm"  # parent directories are created
    code, out, _ = run(capsys, "demo-realm", str(again))
    assert code == 0 and "objects in 5 classes" in out
    for name, path in (("a", demo), ("b", again)):
        assert main(["export", str(path), "--format", "json", "--out", str(tmp_path / name)]) == 0
    capsys.readouterr()
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["Author.json", "Book.json", "Loan.json", "Member.json", "Shelf.json"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # Regenerating over an existing demo replaces it; no temporary files are left.
    assert main(["demo-realm", str(again)]) == 0
    assert sorted(p.name for p in again.parent.iterdir()) == ["again.realm"]


def test_demo_realm_refuses_to_overwrite_other_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("do not delete")
    code, _, err = run(capsys, "demo-realm", str(precious))
    assert code == 2
    assert_one_line_error(err, "refusing to overwrite")
    assert precious.read_text() == "do not delete"


def test_default_demo_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo-realm"]) == 0
    assert (tmp_path / "demo.realm").is_file()
    counts = build_demo_realm(tmp_path / "direct.realm")
    embedded = {c["name"] for c in load_demo_schema()[0] if c.get("embedded")}
    assert set(counts) - embedded == {"Author", "Book", "Loan", "Member", "Shelf"}


# -- inspect -------------------------------------------------------------------------------


def test_inspect_text(capsys: pytest.CaptureFixture[str], demo: Path) -> None:
    code, out, err = run(capsys, "inspect", str(demo))
    assert code == 0 and err == ""
    assert "studio realm, format studio-2; 8 classes, 582 objects" in out
    assert "Book  150 objects  (primary key isbn)" in out
    assert "Address  52 objects  (embedded)" in out
    assert "linkingObjects<Loan>" in out
    assert "decimal128" in out and "int?[]" in out and "Book{}" in out


def test_inspect_json_shape(capsys: pytest.CaptureFixture[str], demo: Path) -> None:
    code, out, _ = run(capsys, "inspect", "--json", str(demo))
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["format", "classes"]
    assert data["format"] == "studio-2"
    names = [c["name"] for c in data["classes"]]
    assert names == sorted(names)
    for cls in data["classes"]:
        assert list(cls) == ["name", "count", "primary_key", "embedded", "properties"]
        for prop in cls["properties"]:
            assert list(prop) == ["name", "type", "optional", "object_type"]
    book = next(c for c in data["classes"] if c["name"] == "Book")
    assert book["count"] == 150 and book["primary_key"] == "isbn" and not book["embedded"]
    props = {p["name"]: p for p in book["properties"]}
    assert props["rating"] == {"name": "rating", "type": "double?", "optional": True,
                               "object_type": None}
    assert props["authors"]["type"] == "Author[]" and props["authors"]["object_type"] == "Author"
    assert props["edition"]["type"] == "Edition?"
    assert props["tags"]["type"] == "string<>"
    assert props["extra"]["type"] == "mixed?"
    assert props["loans"]["type"] == "linkingObjects" and props["loans"]["object_type"] == "Loan"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"just some text, long enough to have sixteen bytes\n", "is not a realm file"),
        (b"", "is empty, not a realm file"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "is not a realm file"),
    ],
)
def test_inspect_rejects_non_realms(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "thing.realm"
    path.write_bytes(content)
    code, out, err = run(capsys, "inspect", str(path))
    assert code == 2 and out == ""
    assert_one_line_error(err, "studio inspect: error:", fragment)


def test_inspect_rejects_sqlite_that_is_not_a_realm(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    code, _, err = run(capsys, "inspect", str(path))
    assert code == 2
    assert_one_line_error(err, "not a studio realm")


def test_inspect_missing_file_and_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "inspect", str(tmp_path / "nope.realm"))
    assert code == 2
    assert_one_line_error(err, "no such file")
    assert not (tmp_path / "nope.realm").exists()  # inspecting never creates a realm
    code, _, err = run(capsys, "inspect", str(tmp_path))
    assert code == 2
    assert_one_line_error(err, "is a directory")


@pytest.mark.skipif(not GENUINE.exists(), reason="realm corpus not available")
def test_inspect_genuine_realm_core_file(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("studio.realmfile.inspect")
    code, out, _ = run(capsys, "inspect", "--json", str(GENUINE))
    assert code == 0
    data = json.loads(out)
    assert data["format"] == 24
    counts = {c["name"]: c["count"] for c in data["classes"]}
    assert counts == {"Cat": 10, "Dog": 2, "DogPrimaryKey": 0, "Owner": 11}
    for cls in data["classes"]:  # normalized to the studio shape
        for prop in cls["properties"]:
            assert list(prop) == ["name", "type", "optional", "object_type"]
    code, out, _ = run(capsys, "inspect", str(GENUINE))
    assert code == 0 and "Realm Core file, format 24" in out


@pytest.mark.skipif(not ENCRYPTED.exists(), reason="realm corpus not available")
def test_inspect_encrypted_file(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("studio.realmfile")
    code, _, err = run(capsys, "inspect", str(ENCRYPTED))
    assert code == 2
    assert_one_line_error(err, "encrypted")


def test_realm_core_file_without_the_reader(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "core.realm"
    fake.write_bytes(b"\x00" * 16 + b"T-DB\x18\x18\x00\x00" + b"\x00" * 64)
    monkeypatch.setitem(sys.modules, "studio.realmfile.inspect", None)
    monkeypatch.setitem(sys.modules, "studio.realmfile.convert", None)
    code, _, err = run(capsys, "inspect", str(fake))
    assert code == 2
    assert_one_line_error(err, "Realm Core file", "studio.realmfile.inspect", "does not have")
    code, _, err = run(capsys, "convert", str(fake), str(tmp_path / "out.realm"))
    assert code == 2
    assert_one_line_error(err, "studio.realmfile.convert")
    code, _, err = run(capsys, "export", str(fake), "--out", str(tmp_path / "x"))
    assert code == 2
    assert_one_line_error(err, "studio convert")


# -- export --------------------------------------------------------------------------------


def test_export_json_and_csv(
    capsys: pytest.CaptureFixture[str], demo: Path, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "export", str(demo), "--format", "json", "--out",
                       str(tmp_path / "j"))
    assert code == 0 and "Book.json  150 objects" in out
    books = json.loads((tmp_path / "j" / "Book.json").read_text(encoding="utf-8"))
    assert len(books) == 150
    first = books[0]
    assert isinstance(first["authors"][0], str) and len(first["authors"][0]) == 24  # objectId
    assert first["published"].endswith("Z")
    assert "loans" not in first  # linkingObjects are computed, not exported
    assert not (tmp_path / "j" / "Edition.json").exists()  # embedded: nested in Book
    shelves = json.loads((tmp_path / "j" / "Shelf.json").read_text(encoding="utf-8"))
    assert next(iter(shelves[0])) == "_key"
    code, _, _ = run(capsys, "export", str(demo), "--format", "csv", "--out", str(tmp_path / "c"))
    assert code == 0
    header = (tmp_path / "c" / "Loan.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "id,book,member,borrowed,due,returned,fee,renewals,channel"


def test_export_errors(capsys: pytest.CaptureFixture[str], demo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "export", str(demo), "--out", str(blocker))
    assert code == 2
    assert_one_line_error(err, "not a directory")
    code, _, err = run(capsys, "export", str(blocker), "--out", str(tmp_path / "o"))
    assert code == 2
    assert_one_line_error(err, "not a realm file")


# -- import-csv ----------------------------------------------------------------------------


def test_import_csv_into_a_new_realm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("name,age,joined\nAnn,41,2020-01-02\nBo,,2021-03-04T05:06:07Z\n")
    realm_path = tmp_path / "people.realm"
    code, out, err = run(capsys, "import-csv", str(realm_path), "Person", str(csv_path),
                         "--batch", "1", "--primary-key", "name")
    assert code == 0 and err == ""  # no progress bar when stderr is not a terminal
    assert "imported 2 rows into Person (new class) (2 write transactions)" in out
    assert f"created {realm_path}" in out
    with Realm.open(realm_path, read_only=True) as realm:
        person = realm.object_for_primary_key("Person", "Bo")
        assert person is not None and person["age"] is None
        types = [p.type_string for p in realm.object_schema("Person").properties]
        assert types == ["string", "int?", "date"]


def test_import_csv_bad_row(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    realm_path = tmp_path / "r.realm"
    Realm.open(realm_path, schema=[{"name": "T", "properties": {"n": "int"}}],
               schema_version=1).close()
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("n\n1\n2\n3\nfour\n5\n")
    code, out, err = run(capsys, "import-csv", str(realm_path), "T", str(csv_path),
                         "--batch", "2")
    assert code == 2 and out == ""
    assert_one_line_error(err, "studio import-csv: error: line 5: n: expected an integer",
                          "lines 4-5", "rolled back", "the 2 rows of the batches before it stay "
                          "committed")
    with Realm.open(realm_path, read_only=True) as realm:
        assert [t["n"] for t in realm.objects("T")] == [1, 2]


def test_failed_import_into_a_new_realm_leaves_no_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text("a,b\n1\n")
    realm_path = tmp_path / "new.realm"
    code, _, err = run(capsys, "import-csv", str(realm_path), "X", str(csv_path))
    assert code == 2
    assert_one_line_error(err, "line 2")
    assert not realm_path.exists()


def test_import_csv_argument_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    realm_path = str(tmp_path / "r.realm")
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("n\n1\n")
    cases = [
        (["import-csv", realm_path, "T", str(tmp_path / "missing.csv")], "no such file"),
        (["import-csv", realm_path, "T", str(csv_path), "--batch", "0"], "at least 1"),
        (["import-csv", realm_path, "T", str(csv_path), "U"], "pairs"),
        (["import-csv", realm_path, "T", str(csv_path), "U", str(csv_path), "--primary-key", "n"],
         "--primary-key applies to one file"),
        (["import-csv", str(tmp_path), "T", str(csv_path)], "is a directory"),
    ]
    for argv, fragment in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert_one_line_error(err, fragment)
    assert not Path(realm_path).exists()


def test_cli_csv_round_trip(capsys: pytest.CaptureFixture[str], demo: Path, tmp_path: Path) -> None:
    """export csv, import every file into a fresh realm, export again: the same files."""
    assert main(["export", str(demo), "--format", "csv", "--out", str(tmp_path / "a")]) == 0
    schema, version = load_demo_schema()
    fresh = tmp_path / "fresh.realm"
    Realm.open(fresh, schema=schema, schema_version=version).close()
    pairs: list[str] = []
    for path in sorted((tmp_path / "a").iterdir()):
        pairs += [path.stem, str(path)]
    assert main(["import-csv", str(fresh), *pairs]) == 0
    assert main(["export", str(fresh), "--format", "csv", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


# -- convert -------------------------------------------------------------------------------


def test_convert_refuses_studio_realms_and_existing_targets(
    capsys: pytest.CaptureFixture[str], demo: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "convert", str(demo), str(tmp_path / "x.realm"))
    assert code == 2
    assert_one_line_error(err, "already a studio realm")
    fake = tmp_path / "core.realm"
    fake.write_bytes(b"\x00" * 16 + b"T-DB\x18\x18\x00\x00" + b"\x00" * 64)
    code, _, err = run(capsys, "convert", str(fake), str(demo))
    assert code == 2
    assert_one_line_error(err, "already exists", "--force")


@pytest.mark.skipif(not GENUINE.exists(), reason="realm corpus not available")
def test_convert_genuine_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("studio.realmfile.convert")
    out_path = tmp_path / "converted.realm"
    code, out, _ = run(capsys, "convert", str(GENUINE), str(out_path))
    assert code == 0 and "wrote" in out
    code, out, _ = run(capsys, "inspect", "--json", str(out_path))
    counts = {c["name"]: c["count"] for c in json.loads(out)["classes"]}
    assert counts == {"Cat": 10, "Dog": 2, "DogPrimaryKey": 0, "Owner": 11}
    # No temporary file is left (a read-only open leaves SQLite's -wal and -shm files).
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("converted.realm")] == []
    code, _, _ = run(capsys, "convert", str(GENUINE), str(out_path), "--force")
    assert code == 0


# -- progress bar --------------------------------------------------------------------------


def test_progress_bar_rendering() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, "importing")
    bar.update(0.5, "10 rows", force=True)
    bar.update(1.0, "20 rows", force=True)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\rimporting [" + "#" * 15 + "-" * 15 + "]  50%  10 rows")
    assert "100%  20 rows" in text and text.endswith("\n")
    stream = io.StringIO()
    bar = ProgressBar(stream, "converting")
    report = bar.callback()
    report(3, 4)  # (done, total), as studio.realmfile.convert calls it
    assert " 75%  3/4" in stream.getvalue()
    report("Book", 1, 2)  # (label, done, total), as the export calls it
    report(0.25)
    report("ignored")
    bar.close()
    ProgressBar(io.StringIO(), "idle").close()  # nothing drawn: nothing written


# -- as a program --------------------------------------------------------------------------


def test_python_dash_m_studio(demo: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "studio", "inspect", "--json", str(demo)],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["format"] == "studio-2"
    junk = tmp_path / "junk.realm"
    junk.write_text("not a realm at all, not even close")
    done = subprocess.run([sys.executable, "-m", "studio", "inspect", str(junk)],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "is not a realm file" in done.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_path = tmp_path / "n.csv"
    csv_path.write_text("n\n" + "".join(f"{i}\n" for i in range(30)))
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["import-csv", str(tmp_path / "n.realm"), "N", str(csv_path), "--batch", "10"]) == 0
    drawn = terminal.getvalue()
    assert drawn.startswith("\rimporting [") and "100%  30 rows" in drawn and drawn.endswith("\n")
    assert "imported 30 rows" in capsys.readouterr().out
