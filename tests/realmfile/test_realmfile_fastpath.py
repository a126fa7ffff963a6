"""The fast paths of the reader -- per-cluster finished columns (ClusterCells),
links resolved once per column leaf, bulk leaf decoding and the fast value
constructors -- give exactly what the careful paths give, and stay safe when
caches are evicted, the file is closed, or a leaf is damaged."""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from realmfile_builder import BINARY, INT, LINK, NULLABLE, STRING, Builder, Col, two_tables

from studio.primitives.objectid import ObjectId
from studio.realmfile import (
    CorruptRealmError,
    RealmFile,
    RealmFileError,
    RealmObject,
    fastvalues,
    reader,
)

Write = Callable[[bytes], Path]
FILES = [
    "rc__test_upgrade_database_1000_24.realm",
    "rc__test_upgrade_database_4_24.realm",  # shift-2 build: many 4-object clusters
    "rc__test_upgrade_database_20.realm",  # hashed keys, tombstones
    "js__packages_realm-tools_samples_default.realm",
]


def everything(rf: RealmFile) -> dict[str, list[dict[str, Any]]]:
    return {
        cls: [obj.to_dict() for obj in rf.objects(cls)]
        for cls in rf.class_names(include_internal=True)
    }


@pytest.mark.parametrize("name", FILES)
def test_tiny_caches_read_the_same_as_the_default(
    name: str, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RealmFile.open(corpus / name) as rf:
        expected = everything(rf)
        # Random access agrees with iteration.
        for cls, rows in expected.items():
            objs = rf.objects(cls)
            for i in range(0, len(objs), max(1, len(objs) // 7)):
                assert objs[i].to_dict() == rows[i]
    monkeypatch.setattr(reader, "_CACHE_SIZE", 1)
    monkeypatch.setattr(reader, "_MAX_CLUSTERS", 2)
    with RealmFile.open(corpus / name) as rf:
        assert everything(rf) == expected
        assert len(rf._clusters) <= 2


def test_objects_outlive_the_eviction_of_their_cluster(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "_CACHE_SIZE", 20)  # a cluster and a half of this class
    with RealmFile.open(corpus / "rc__test_upgrade_database_1000_24.realm") as rf:
        objs = rf.objects("table")
        first = objs[0]
        before = first.to_dict()
        old_cells = first._cells
        assert old_cells  # finished columns are cached for the cluster
        for obj in objs[300:900]:
            obj.to_dict()  # decodes other clusters: the first one is evicted
        assert not old_cells  # emptied, so `first` cannot read through it
        assert first.to_dict() == before
        assert first._cells is not old_cells  # it picked up the current cluster
        assert rf._decoded <= 20


def test_a_closed_file_refuses_values_already_decoded(corpus: Path) -> None:
    rf = RealmFile.open(corpus / "rc__test_upgrade_database_1000_24.realm")
    objs = list(rf.objects("table"))
    assert objs[3]["string"] == "orange"
    link = objs[3]["link"]
    rf.close()
    for read in (
        lambda: objs[3]["string"],
        lambda: objs[4]["int"],
        lambda: objs[3].to_dict(),
        lambda: link["_id"],
    ):
        with pytest.raises(RealmFileError, match="closed"):
            read()


def test_links_resolve_once_per_target_and_dangling_ones_read_as_null(
    write_file: Write,
) -> None:
    b = Builder()
    parent_cols = [Col("to", LINK, NULLABLE, target=1), Col("n", INT)]
    # key + 1 per object: child 1, child 1, null, child 0, child 98 (absent)
    parent_leaves = [b.ints([2, 2, 0, 1, 99]), b.ints([0, 1, 2, 3, 4])]
    child_cols = [Col("name", STRING)]
    top = two_tables(b, parent_cols, parent_leaves, 5, child_cols, [b.short_strings(["a", "b"])], 2)
    with RealmFile.open(write_file(b.finish(top))) as rf:
        objs = list(rf.objects("Parent"))
        targets = [o["to"] for o in objs]
        assert [t["name"] if t is not None else None for t in targets] == [
            "b",
            "b",
            None,
            "a",
            None,
        ]
        assert targets[0] is targets[1]  # one object per distinct target
        assert all(isinstance(t, RealmObject) for t in targets if t is not None)
        assert objs[0].to_dict() == {"to": 1, "n": 0}  # no pk: the key


def test_a_link_that_fails_to_resolve_stays_with_its_row(
    write_file: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = Builder()
    parent_cols = [Col("to", LINK, NULLABLE, target=1)]
    names = [b.short_strings(["a", "b"])]
    top = two_tables(b, parent_cols, [b.ints([1, 2, 1])], 3, [Col("name", STRING)], names, 2)
    with RealmFile.open(write_file(b.finish(top))) as rf:
        real = rf._object

        def flaky(table_key: int | None, key: int) -> RealmObject | None:
            if key == 1:
                raise CorruptRealmError("damaged target")
            return real(table_key, key)

        monkeypatch.setattr(rf, "_object", flaky)
        first, second, third = rf.objects("Parent")
        assert first["to"]["name"] == "a"  # the column is not cached as finished...
        with pytest.raises(CorruptRealmError, match="damaged target"):
            second["to"]  # ...so only the row that hits the damage fails
        assert third["to"]["name"] == "a"


def test_leaf_offsets_are_checked_once_per_leaf(write_file: Write) -> None:
    b = Builder()
    decreasing = b.ints([b.ints([2, 1, 3]), b.blob(b"abc")], refs=True)
    past_end = b.ints([b.ints([1, 2, 9]), b.blob(b"abc")], refs=True)
    empty = b.small_blobs([b"", b"", None], False)
    cols = [Col("dec", BINARY), Col("past", BINARY), Col("empty", BINARY, NULLABLE)]
    top = two_tables(b, cols, [decreasing, past_end, empty], 3, [], [], 0)
    with RealmFile.open(write_file(b.finish(top))) as rf:
        obj = rf.objects("Parent")[0]
        with pytest.raises(CorruptRealmError, match="element 1 has an offset outside its blob"):
            obj["dec"]
        with pytest.raises(CorruptRealmError, match="element 2 has an offset outside its blob"):
            obj["past"]
        assert [o["empty"] for o in rf.objects("Parent")] == [b"", b"", None]


def test_short_strings_decode_each_distinct_slot_once_and_check_it(write_file: Write) -> None:
    b = Builder()
    words = ["red", None, "red", "", "blue", None, "red"]
    good = b.short_strings(words)
    bad = b.short_strings(["ok", "ok", "bad", "", "ok", "ok", "ok"])
    b.data[bad + 8 + 2 * 4 + 3] = 9  # slot 2's length byte: width 4 - 1 - 9 < -1
    cols = [Col("good", STRING, NULLABLE), Col("bad", STRING)]
    top = two_tables(b, cols, [good, bad], 7, [], [], 0)
    with RealmFile.open(write_file(b.finish(top))) as rf:
        objs = list(rf.objects("Parent"))
        assert [o["good"] for o in objs] == words
        assert objs[0]["good"] is objs[2]["good"]  # one str per distinct slot
        with pytest.raises(CorruptRealmError, match="bad length byte") as info:
            objs[0]["bad"]
        assert info.value.offset == bad + 8 + 2 * 4 + 3


def test_fast_value_constructors_match_the_public_ones() -> None:
    raws16 = [bytes(16), bytes(range(16)), b"\xff" * 16]
    raws12 = [bytes(12), bytes(range(12)), b"\xff" * 12]
    for make in (fastvalues.make_uuids, fastvalues._uuids_slow):
        made = make(raws16)
        expected = [uuid.UUID(bytes=r) for r in raws16]
        assert made == expected
        assert [(str(u), hash(u), u.is_safe, u.version) for u in made] == [
            (str(u), hash(u), u.is_safe, u.version) for u in expected
        ]
        assert pickle.loads(pickle.dumps(made)) == expected
    for make_ids in (fastvalues.make_object_ids, fastvalues._object_ids_slow):
        ids = make_ids(raws12)
        expected_ids = [ObjectId(r) for r in raws12]
        assert ids == expected_ids
        assert [(str(o), hash(o), o.binary) for o in ids] == [
            (str(o), hash(o), o.binary) for o in expected_ids
        ]
        assert pickle.loads(pickle.dumps(ids)) == expected_ids
    with pytest.raises(TypeError):
        fastvalues.make_uuids(raws16)[0].int = 5  # still immutable


def test_bulk_timestamps_match_one_by_one() -> None:
    seconds: list[int | None] = [0, 1_600_000_000, None, -1, 2**62, -(2**62), 86_399]
    nanos = [0, 123_456_789, 0, -500_000_000, 0, 0, 999_999_999]
    expected = [
        None if s is None else fastvalues.timestamp_value(s, n)
        for s, n in zip(seconds, nanos, strict=True)
    ]
    assert fastvalues.timestamps(seconds, nanos) == expected
    positive = [0, 5, 999]
    assert fastvalues.timestamps([1, 2, 3], positive) == [
        fastvalues.timestamp_value(s, n) for s, n in zip([1, 2, 3], positive, strict=True)
    ]
