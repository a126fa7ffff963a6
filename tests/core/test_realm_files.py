"""Opening files: non-realm files, genuine Realm Core files, closing and closed realms."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from studio.core import ClosedRealmError, FileFormatError, Realm, RealmError

SCHEMA: list[dict[str, Any]] = [
    {"name": "Thing", "primaryKey": "id", "properties": {"id": "int", "tags": "string[]"}},
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _realm_core_header(version: int = 24) -> bytes:
    # two u64 top refs, "T-DB", two format bytes, reserved, flags
    return (4096).to_bytes(8, "little") + bytes(8) + b"T-DB" + bytes([version, version, 0, 0])


# -- files that are not studio realms -------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"hello, this is a text file\n" * 10, bytes(range(256)) * 4, b"\x00" * 100,
     b"SQLite format 2\x00" + bytes(100), b"{\"json\": true}"],
    ids=["text", "binary", "zeros", "almost-sqlite", "json"],
)
@pytest.mark.parametrize("read_only", [False, True])
def test_non_realm_file_is_a_clear_error(tmp_path: Path, content: bytes, read_only: bool) -> None:
    path = tmp_path / "not.realm"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match="not a realm file"):
        Realm.open(path, read_only=read_only)
    with pytest.raises(FileFormatError):
        Realm.open(path, schema=SCHEMA)
    assert path.read_bytes() == content  # untouched
    assert not Path(str(path) + "-wal").exists()


def test_other_sqlite_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(FileFormatError, match="SQLite database but not a studio realm"):
        Realm.open(path, schema=SCHEMA)
    conn = sqlite3.connect(path)
    try:  # nothing was added to it
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    finally:
        conn.close()
    assert tables == ["users"]


def test_realm_of_unknown_format_version(tmp_path: Path) -> None:
    path = tmp_path / "future.realm"
    Realm.open(path, schema=SCHEMA).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE _studio_meta SET value = 'studio-99' WHERE key = 'format'")
    conn.commit()
    conn.close()
    with pytest.raises(FileFormatError, match="studio-99"):
        Realm.open(path)


def test_missing_file_read_only_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.realm"
    with pytest.raises(FileFormatError, match="does not exist"):
        Realm.open(path, read_only=True)
    assert not path.exists()


def test_missing_or_empty_file_becomes_a_new_realm(tmp_path: Path) -> None:
    empty = tmp_path / "empty.realm"
    empty.touch()
    for path in (empty, tmp_path / "new.realm"):
        with Realm.open(path, schema=SCHEMA) as realm:
            assert [c.name for c in realm.schema] == ["Thing"]
            with realm.write():
                realm.create("Thing", {"id": 1})
        with Realm.open(path) as again:
            assert len(again.objects("Thing")) == 1


# -- genuine Realm Core files -------------------------------------------------------------


def _assert_realm_core_error(error: RealmError, path: Path) -> None:
    message = str(error)
    assert "Realm Core" in message
    assert "studio inspect" in message and "studio convert" in message
    assert str(path) in message


@pytest.mark.parametrize("read_only", [False, True])
def test_fake_realm_core_file(tmp_path: Path, read_only: bool) -> None:
    path = tmp_path / "core.realm"
    content = _realm_core_header() + bytes(4096)
    path.write_bytes(content)
    with pytest.raises(FileFormatError) as info:
        Realm.open(path, read_only=read_only)
    _assert_realm_core_error(info.value, path)
    with pytest.raises(FileFormatError, match="Realm Core"):
        Realm.open(path, schema=SCHEMA, schema_version=3)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core.realm"]


def _corpus_files(corpus: Path) -> list[Path]:
    files = sorted(corpus.glob("*.realm"))
    assert files, f"no Realm Core files in {corpus}"
    return files


def test_realm_corpus_files_are_recognised(corpus_dir: Path, tmp_path: Path) -> None:
    recognised = 0
    for original in _corpus_files(corpus_dir):
        copy = tmp_path / original.name
        shutil.copyfile(original, copy)
        before = _digest(copy)
        with pytest.raises(FileFormatError) as info:
            Realm.open(copy)
        with pytest.raises(FileFormatError):
            Realm.open(original, read_only=True)
        assert _digest(copy) == before and _digest(original) == before
        if copy.read_bytes()[16:20] == b"T-DB":
            _assert_realm_core_error(info.value, copy)
            recognised += 1
        else:  # the encrypted file: its header is ciphertext
            assert "not a realm file" in str(info.value)
    assert recognised >= 15


# -- closing -------------------------------------------------------------------------------


def test_context_manager_closes(tmp_path: Path) -> None:
    path = tmp_path / "cm.realm"
    with Realm.open(path, schema=SCHEMA) as realm:
        assert isinstance(realm, Realm) and not realm.is_closed
        with realm.write():
            realm.create("Thing", {"id": 1, "tags": ["a"]})
    assert realm.is_closed
    with pytest.raises(RuntimeError), Realm.open(path) as again:
        raise RuntimeError("leaving by an exception also closes")
    assert again.is_closed
    with Realm.open(path) as third:
        assert [t for t in third.objects("Thing")[0].tags] == ["a"]


def test_close_is_idempotent_and_everything_after_is_an_error(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "c.realm", schema=SCHEMA)
    with realm.write():
        thing = realm.create("Thing", {"id": 1, "tags": ["a"]})
    results = realm.objects("Thing")
    assert len(results) == 1  # cached keys
    tags = thing.tags
    realm.close()
    realm.close()
    assert realm.is_closed and "closed" in repr(realm)
    assert not thing.is_valid
    for action in (
        lambda: realm.objects("Thing"),
        lambda: realm.object_for_primary_key("Thing", 1),
        lambda: realm.write().__enter__(),
        lambda: realm.refresh(),
        lambda: thing.id,
        lambda: len(results),
        lambda: results[0],
        lambda: list(results),
        lambda: len(tags),
        lambda: list(tags),
    ):
        with pytest.raises(ClosedRealmError, match="closed"):
            action()


def test_close_inside_a_write_discards_it(tmp_path: Path) -> None:
    path = tmp_path / "w.realm"
    realm = Realm.open(path, schema=SCHEMA)
    with pytest.raises(ClosedRealmError), realm.write():
        realm.create("Thing", {"id": 1})
        realm.close()
    assert realm.is_closed
    with Realm.open(path) as again:
        assert len(again.objects("Thing")) == 0


def test_many_instances_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "many.realm"
    realms = [Realm.open(path, schema=SCHEMA) for _ in range(5)]
    try:
        for i, realm in enumerate(realms):
            with realm.write():
                realm.create("Thing", {"id": i})
        for realm in realms:
            realm.refresh()
            assert len(realm.objects("Thing")) == 5
    finally:
        for realm in realms:
            realm.close()
