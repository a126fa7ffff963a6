"""-0.0 keeps its sign, and files of the studio-1 layout (float and double columns with
REAL affinity, which stored -0.0 as 0.0) are upgraded when opened for writing.

data/studio-1-floats.realm was written by a studio that wrote studio-1 (see
data/make_studio1_floats.py): a synced realm with double, float, optional double,
mixed, list, set and dictionary of floats, a full-text property, and a deleted object
that held the highest key.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from studio.core import Realm
from studio.core.errors import FileFormatError

FIXTURE = Path(__file__).parent / "data" / "studio-1-floats.realm"
# What the fixture's writer stored: -0.0 (index 1) was already 0.0 in REAL columns.
OLD_VALUES = [0.0, 0.0, 1.5, 3.0, math.nan, math.inf, -math.inf, 1e300, -2.25]


def sign(x: float) -> float:
    return math.copysign(1.0, x)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and sign(a) == sign(b))
    return type(a) is type(b) and a == b


def declared_types(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return {
            name: sql
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'fts:%' AND name NOT LIKE '\\_%' ESCAPE '\\' "
                "AND name != 'sqlite_sequence'"
            )
        }
    finally:
        conn.close()


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "old.realm"
    shutil.copyfile(FIXTURE, path)
    return path


def test_negative_zero_keeps_its_sign_everywhere(tmp_path: Path) -> None:
    schema = [{"name": "T", "primaryKey": "id", "properties": {
        "id": "int", "d": "double", "f": "float", "o": "double?", "m": "mixed",
        "l": "double[]", "s": "float<>", "dd": "double{}"}}]  # fmt: skip
    path = tmp_path / "z.realm"
    with Realm.open(path, schema=schema) as realm, realm.write():
        realm.create("T", {"id": 1, "d": -0.0, "f": -0.0, "o": -0.0, "m": -0.0,
                           "l": [-0.0, 0.0], "s": [-0.0], "dd": {"k": -0.0}})  # fmt: skip
        realm.create_many("T", [{"id": 2, "d": -0.0, "f": 0.0}])
    with Realm.open(path) as realm:
        one = realm.object_for_primary_key("T", 1)
        assert one is not None
        assert [sign(one[p]) for p in ("d", "f", "o", "m")] == [-1.0] * 4
        assert [sign(v) for v in one.l] == [-1.0, 1.0]
        assert sign(next(iter(one.s))) == -1.0 and sign(one.dd["k"]) == -1.0
        two = realm.object_for_primary_key("T", 2)
        assert two is not None and sign(two.d) == -1.0 and sign(two.f) == 1.0
        # Queries: -0.0 == 0.0, as in Realm; ordering puts both among the zeros.
        assert len(realm.objects("T").filtered("d == 0")) == 2
        assert len(realm.objects("T").filtered("d == $0", -0.0)) == 2
        assert len(realm.objects("T").filtered("d < 0")) == 0
        assert len(realm.objects("T").filtered("f >= 0.0")) == 2
        with realm.write():
            realm.create("T", {"id": 3, "d": -1.0, "f": 1.0})
        assert [o.id for o in realm.objects("T").sorted(["d", "id"])] == [3, 1, 2]


QUERIES = [
    "d == 0", "d == -2.25", "d < 0", "d > 1e299", "d != 3", "f <= 1.5", "maybe == null",
    "maybe > 0", "any == 0", "any < 0", "ANY series == 1.0", "ALL series >= 0",
    "ANY levels == 3", "named['v'] > 1", "d BETWEEN {-3, 2}", "d IN {0, 3}",
]  # fmt: skip


def answers(realm: Realm) -> dict[str, list[int]]:
    found = {q: [o.id for o in realm.objects("Reading").filtered(q)] for q in QUERIES}
    found["sorted"] = [o.id for o in realm.objects("Reading").sorted(["d", "id"])]
    found["sorted desc"] = [o.id for o in realm.objects("Reading").sorted("f", reverse=True)]
    return found


def test_a_studio_1_file_is_upgraded_and_keeps_its_values(old_file: Path) -> None:
    assert " REAL" in declared_types(old_file)["class_Reading"]
    with Realm.open(old_file, read_only=True) as realm:
        before = answers(realm)
    with Realm.open(old_file) as realm:
        assert answers(realm) == before
        assert realm.storage_format == "studio-2"
        history_before = len(realm.history())
        readings = realm.objects("Reading").sorted("id")
        assert [r.id for r in readings] == list(range(9))
        for r, old in zip(readings, OLD_VALUES, strict=True):
            assert same(r.d, old) and same(r.f, old) and same(r.any, old if r.id != 1 else -0.0)
            assert type(r.d) is float and type(r.f) is float
            assert same(r.maybe, old if r.id % 2 else None)
            assert all(same(a, b) for a, b in zip(r.series, [old, 1.0, 0.0], strict=True))
            assert same(r.named["v"], old) and same(r.named["z"], 0.0)
        # New writes keep -0.0.
        with realm.write():
            new = realm.create("Reading", {"id": 50, "d": -0.0, "f": -0.0, "maybe": -0.0,
                                           "label": "a new reading", "series": [-0.0],
                                           "levels": [-0.0], "named": {"z": -0.0}})  # fmt: skip
            readings[0].d = -0.0
        # The key of the deleted object (10) is not reused.
        assert new._key == 11
        assert realm.objects("Reading").filtered("label TEXT 'new'")[0].id == 50
        assert len(realm.objects("Reading").filtered("label TEXT 'number'")) == 9
        assert [r.id for r in realm.objects("Reading").filtered("d == 0")] == [0, 1, 50]
        assert len(realm.history()) == history_before + 1  # the upgrade itself records nothing
    with Realm.open(old_file) as realm:
        new = realm.object_for_primary_key("Reading", 50)
        assert new is not None
        values = [new.d, new.f, new.maybe, new.series[0], next(iter(new.levels)), new.named["z"]]
        assert [sign(v) for v in values] == [-1.0] * 6
        first = realm.object_for_primary_key("Reading", 0)
        assert first is not None and sign(first.d) == -1.0
    tables = declared_types(old_file)
    assert not any(" REAL" in sql for sql in tables.values()), tables


def test_the_upgrade_happens_once_and_not_read_only(old_file: Path) -> None:
    with Realm.open(old_file, read_only=True) as realm:
        assert realm.storage_format == "studio-1"  # read as it is, not changed
        assert same(realm.object_for_primary_key("Reading", 3).d, 3.0)  # type: ignore[union-attr]
    assert " REAL" in declared_types(old_file)["class_Reading"]
    with Realm.open(old_file) as realm:
        assert realm.storage_format == "studio-2"
    layout = declared_types(old_file)
    with Realm.open(old_file) as realm:
        assert realm.storage_format == "studio-2"
    assert declared_types(old_file) == layout


def test_a_newer_format_is_refused_with_what_this_version_reads(old_file: Path) -> None:
    conn = sqlite3.connect(old_file)
    conn.execute("UPDATE _studio_meta SET value = 'studio-9' WHERE key = 'format'")
    conn.commit()
    conn.close()
    with pytest.raises(FileFormatError, match=r"format 'studio-9'.*reads 'studio-2'"):
        Realm.open(old_file)
