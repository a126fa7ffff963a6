"""Leaf kinds and tree shapes that no corpus file holds, in files built node by
node (tests/realmfile/realmfile_builder.py)."""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from realmfile_builder import (
    BACKLINK,
    BINARY,
    BOOL,
    DECIMAL,
    DICTIONARY,
    DOUBLE,
    FLOAT,
    INDEXED,
    INT,
    LINK,
    LIST,
    MIXED,
    NULLABLE,
    OBJECT_ID,
    SET,
    STRING,
    TIMESTAMP,
    TYPED_LINK,
    UUID,
    Builder,
    Col,
    add_table,
    bid32,
    bid64,
    bid128,
    col_key,
    tagged,
    two_tables,
)

from studio.primitives.objectid import ObjectId
from studio.realmfile import CorruptRealmError, RealmFile

Write = Callable[[bytes], Path]


def one_table(
    write: Write,
    cols: Sequence[Col],
    count: int,
    leaves: Sequence[int],
    b: Builder,
    fmt: int = 24,
    **kwargs: object,
) -> RealmFile:
    cluster = b.cluster(count, leaves)
    table = add_table(b, 0, cols, cluster, **kwargs)  # type: ignore[arg-type]
    return RealmFile.open(write(b.finish(b.group(["class_T"], [table]), fmt)))


def values(rf: RealmFile, prop: str, cls: str = "T") -> list[object]:
    return [o[prop] for o in rf.objects(cls)]


def test_integers_of_every_width_and_nulls(write_file: Write) -> None:
    b = Builder()
    samples = {
        "w1": [0, 1, 1, 0],
        "w2": [0, 3, 2, 1],
        "w4": [15, 0, 7, 9],
        "w8": [-128, 127, 0, -1],
        "w16": [-30000, 30000, 5, 0],
        "w32": [-(2**31), 2**31 - 1, 0, 1],
        "w64": [-(2**63), 2**63 - 1, 2**40, -(2**40)],
    }
    cols = [Col(n, INT) for n in samples] + [
        Col("opt", INT, NULLABLE),
        Col("flag", BOOL),
        Col("maybe", BOOL, NULLABLE),
    ]
    leaves = [b.ints(v) for v in samples.values()]
    leaves += [b.int_null([None, 5, -7, None]), b.ints([1, 0, 1, 1]), b.ints([1, 3, 0, 3])]
    rf = one_table(write_file, cols, 4, leaves, b)
    for name, expected in samples.items():
        assert values(rf, name) == expected
    assert values(rf, "opt") == [None, 5, -7, None]
    assert values(rf, "flag") == [True, False, True, True]
    assert values(rf, "maybe") == [True, None, False, None]
    assert [p.type_string for p in rf.object_schema("T").properties][-3:] == [
        "int?",
        "bool",
        "bool?",
    ]


def test_floats_doubles_and_their_null_pattern(write_file: Write) -> None:
    b = Builder()
    cols = [Col("f", FLOAT, NULLABLE), Col("d", DOUBLE, NULLABLE), Col("req", DOUBLE)]
    float_bits = [struct.unpack("<I", struct.pack("<f", 1.5))[0], 0x7FC000AA, 0x7FC00000]
    double_bits = [
        struct.unpack("<Q", struct.pack("<d", -2.25))[0],
        0x7FF80000000000AA,
        0x7FF8000000000000,
    ]
    leaves = [
        b.floats(float_bits, False, raw_bits=True),
        b.floats(double_bits, True, raw_bits=True),
        b.floats([1e300, -0.0, 3.0], True),
    ]
    rf = one_table(write_file, cols, 3, leaves, b)
    f, d = values(rf, "f"), values(rf, "d")
    assert f[0] == 1.5 and f[1] is None and math.isnan(f[2])  # null vs a genuine NaN
    assert d[0] == -2.25 and d[1] is None and math.isnan(d[2])
    assert values(rf, "req") == [1e300, -0.0, 3.0]


def test_every_string_leaf_form(write_file: Write) -> None:
    b = Builder()
    short = ["a", None, "", "héllo"]
    medium = ["x" * 70, None, "", "ünïcødé " * 10]
    big = ["y" * 5000, None, "", "z"]
    cols = [
        Col("short", STRING, NULLABLE),
        Col("medium", STRING, NULLABLE),
        Col("big", STRING, NULLABLE),
        Col("enum", STRING, NULLABLE),
        Col("required", STRING),
    ]
    enum_keys = b.short_strings(["red", "green", None])
    leaves = [
        b.short_strings(short),
        b.medium_strings(medium),
        b.big_strings(big),
        b.ints([1, 0, 2, 1]),
        b.short_strings([None, None, None, None]),
    ]
    rf = one_table(write_file, cols, 4, leaves, b, enum_keys=[0, 0, 0, enum_keys, 0])
    assert values(rf, "short") == short
    assert values(rf, "medium") == medium
    assert values(rf, "big") == big
    assert values(rf, "enum") == ["green", "red", None, "green"]
    assert values(rf, "required") == ["", "", "", ""]  # a width-0 leaf of a required column


def test_binaries_small_big_and_chunked(write_file: Write) -> None:
    b = Builder()
    chunk_refs = [b.blob(b"part1-"), b.blob(b"part2")]
    chunked = b.ints(chunk_refs, refs=True, context=True)
    big = b.ints([b.blob(b"\x00\x01\x02"), 0, chunked], refs=True, context=True)
    cols = [Col("small", BINARY, NULLABLE), Col("big", BINARY, NULLABLE)]
    leaves = [b.small_blobs([b"\x00bin", None, b""], False), big]
    rf = one_table(write_file, cols, 3, leaves, b)
    assert values(rf, "small") == [b"\x00bin", None, b""]
    assert values(rf, "big") == [b"\x00\x01\x02", None, b"part1-part2"]


def test_timestamps_objectids_uuids(write_file: Write) -> None:
    b = Builder()
    oid = ObjectId("6001c033600510df3bbfd864")
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    cols = [
        Col("when", TIMESTAMP, NULLABLE),
        Col("oid", OBJECT_ID, NULLABLE),
        Col("uid", UUID, NULLABLE),
    ]
    stamps = [(1_600_000_000, 123_456_789), None, (-1, -500_000_000), (2**62, 0)]
    nine = [oid.binary if i % 3 == 0 else None for i in range(9)]
    leaves = [
        b.timestamps(stamps + [(0, 0)] * 5),
        b.fixed_bytes(nine, 12),
        b.fixed_bytes([uid.bytes, None] + [uid.bytes] * 7, 16),
    ]
    rf = one_table(write_file, cols, 9, leaves, b)
    when = values(rf, "when")
    assert when[0] == datetime(2020, 9, 13, 12, 26, 40, 123456, tzinfo=UTC)
    assert when[1] is None
    assert when[2] == datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)
    assert when[3] == datetime.max.replace(tzinfo=UTC)  # beyond datetime: clamped
    assert values(rf, "oid") == [oid, None, None, oid, None, None, oid, None, None]
    assert values(rf, "uid") == [uid, None] + [uid] * 7


def test_decimals_in_every_width(write_file: Write) -> None:
    b = Builder()
    cols = [Col(n, DECIMAL, NULLABLE) for n in ("w0null", "w0zero", "w4", "w8", "w16")]
    null128 = (0xAA, 0x7C00000000000000)
    leaves = [
        b.decimals([0, 0, 0, 0], 0),
        b.decimals([0, 0, 0, 0], 0, context=True),
        b.decimals([bid32(0, 15, -1), bid32(1, 1234567, 2), 0x7C000000, bid32(0, 0, 0)], 4),
        b.decimals(
            [bid64(0, 9999999999999999, 0), bid64(1, 25, -3), 0x7C00000000000000, bid64(0, 1, 300)],
            8,
        ),
        b.decimals(
            [bid128(0, 10**33 + 7, -10), null128, (0, 0x7C00000000000000), (0, 0xF800000000000000)],
            16,
        ),
    ]
    rf = one_table(write_file, cols, 4, leaves, b)
    assert values(rf, "w0null") == [None] * 4
    assert values(rf, "w0zero") == [Decimal(0)] * 4
    assert values(rf, "w4") == [Decimal("1.5"), Decimal("-1.234567E+8"), None, Decimal(0)]
    assert values(rf, "w8") == [
        Decimal("9999999999999999"),
        Decimal("-0.025"),
        None,
        Decimal("1E+300"),
    ]
    w16 = values(rf, "w16")
    assert w16[0] == Decimal(f"{10**33 + 7}E-10") and w16[1] is None
    assert isinstance(w16[2], Decimal) and w16[2].is_nan()
    assert w16[3] == Decimal("-Infinity")


def test_mixed_values_of_every_kind(write_file: Write) -> None:
    b = Builder()
    oid = ObjectId("6001c033600510df3bbfd864")
    uid = uuid.UUID(int=7)
    nested_list = b.mixed([("int", 1), ("string", "two")])
    dict_keys = b.short_strings(["a", "b"])
    dict_values = b.mixed([("bool", True), ("list", nested_list)])
    nested_dict = b.ints([dict_keys, dict_values], refs=True)
    mixed = b.mixed(
        [
            None,
            ("int", 42),
            ("int", 2**40),
            ("int", -5),
            ("bool", False),
            ("float", 0.5),
            ("double", -1.25),
            ("string", "text"),
            ("binary", b"\x00\xff"),
            ("timestamp", (86400, 1000)),
            ("decimal", bid128(0, 125, -2)),
            ("oid", oid.binary),
            ("uuid", uid.bytes),
            ("typed", (0, 1)),
            ("dict", nested_dict),
            ("list", nested_list),
        ]
    )
    cols = [Col("any", MIXED, NULLABLE)]
    rf = one_table(write_file, cols, 16, [mixed], b)
    got = values(rf, "any")
    second = rf.objects("T")[1]
    assert got == [
        None,
        42,
        2**40,
        -5,
        False,
        0.5,
        -1.25,
        "text",
        b"\x00\xff",
        datetime(1970, 1, 2, 0, 0, 0, 1, tzinfo=UTC),
        Decimal("1.25"),
        oid,
        uid,
        second,
        {"a": True, "b": [1, "two"]},
        [1, "two"],
    ]
    assert rf.objects("T")[13].to_dict()["any"] == 1  # a link to an object without pk: its key


def test_collections_and_bplus_trees(write_file: Write) -> None:
    b = Builder()
    # A list of 7 ints split over three leaves under an inner node with explicit offsets,
    # and one under a compact inner node (elements per child).
    leaves_a = [b.ints([1, 2, 3]), b.ints([4, 5]), b.ints([6, 7])]
    list_a = b.bptree_inner(leaves_a, 7, offsets=[3, 5])
    list_b = b.bptree_inner([b.ints([9, 8]), b.ints([7])], 3, per_child=2)
    strings = b.short_strings(["a", "b", "c"])
    set_ref = b.bptree_inner([strings], 3, per_child=1000)
    dict_ref = b.ints([b.short_strings(["k1", "k2"]), b.mixed([("int", 10), None])], refs=True)
    bad_total = b.bptree_inner([b.ints([1])], 5)
    cols = [
        Col("ints", INT, LIST),
        Col("strs", STRING, SET),
        Col("dict", MIXED, DICTIONARY | NULLABLE, key_type=STRING),
        Col("bad", INT, LIST),
    ]
    leaves = [
        b.ints([list_a, list_b], refs=True),
        b.ints([set_ref, 0], refs=True),
        b.ints([dict_ref, 0], refs=True),
        b.ints([0, bad_total], refs=True),
    ]
    rf = one_table(write_file, cols, 2, leaves, b)
    first, second = rf.objects("T")
    assert first["ints"] == [1, 2, 3, 4, 5, 6, 7] and second["ints"] == [9, 8, 7]
    assert first["strs"] == ["a", "b", "c"] and second["strs"] == []
    assert first["dict"] == {"k1": 10, "k2": None} and second["dict"] == {}
    assert [p.type_string for p in rf.object_schema("T").properties] == [
        "int[]",
        "string<>",
        "mixed?{}",
        "int[]",
    ]
    assert first["bad"] == []
    with pytest.raises(CorruptRealmError, match="claims 5 elements but holds 1"):
        second["bad"]


def test_embedded_objects_nest_in_to_dict(write_file: Write) -> None:
    b = Builder()
    addr_key = col_key(0, LINK, NULLABLE, tag=0)
    list_key = col_key(1, LINK, LIST, tag=1)
    parent_cols = [Col("address", LINK, NULLABLE, target=1), Col("history", LINK, LIST, target=1)]
    history = b.ints([2, 1])  # keys of the link list (no +1 in lists)
    parent_leaves = [b.ints([1, 0]), b.ints([history, 0], refs=True)]  # key + 1; 0 = null
    child_cols = [
        Col("street", STRING),
        Col("", BACKLINK, target=0, origin=addr_key),
        Col("", BACKLINK, target=0, origin=list_key),
    ]
    child_leaves = [
        b.short_strings(["Main St", "Old Rd", "Elm St"]),
        b.ints([1, 0, 0]),
        b.ints([0, 1, 1]),
    ]
    top = two_tables(b, parent_cols, parent_leaves, 2, child_cols, child_leaves, 3, child_type=1)
    rf = RealmFile.open(write_file(b.finish(top)))
    assert rf.object_schema("Child").embedded and rf.is_embedded("Child")
    assert rf.table_type("Parent") == "top-level"
    first, second = rf.objects("Parent")
    assert first.to_dict() == {
        "address": {"street": "Main St"},
        "history": [{"street": "Elm St"}, {"street": "Old Rd"}],
    }
    assert second.to_dict() == {"address": None, "history": []}
    street = rf.objects("Child")[0]
    assert street.linking_objects("Parent", "address") == [first]
    assert rf.incoming_links("Child") == [("Parent", "address"), ("Parent", "history")]


def test_typed_links_link_dictionaries_and_primary_keys(write_file: Write) -> None:
    b = Builder()
    parent_cols = [
        Col("typed", TYPED_LINK, NULLABLE),
        Col("byName", LINK, DICTIONARY | NULLABLE, target=1, key_type=STRING),
    ]
    typed = b.ints([2, 2, 0, 0])  # (table key + 1, object key + 1) pairs
    dict_ref = b.ints([b.short_strings(["x"]), b.mixed([("link", 0)])], refs=True)
    parent_leaves = [typed, b.ints([dict_ref, 0], refs=True)]
    child_cols = [Col("name", STRING, INDEXED)]
    top = two_tables(
        b,
        parent_cols,
        parent_leaves,
        2,
        child_cols,
        [b.short_strings(["kid0", "kid1"])],
        2,
        child_pk=0,
    )
    rf = RealmFile.open(write_file(b.finish(top)))
    first, second = rf.objects("Parent")
    kid1 = rf.object_for_primary_key("Child", "kid1")
    assert first["typed"] == kid1 and second["typed"] is None
    assert first["byName"] == {"x": rf.objects("Child")[0]}
    assert first.to_dict() == {"typed": "kid1", "byName": {"x": "kid0"}}
    assert [p.type_string for p in rf.object_schema("Parent").properties] == ["mixed?", "Child?{}"]


def test_cluster_inner_nodes_with_explicit_keys(write_file: Write) -> None:
    b = Builder()
    # Two clusters whose keys are explicit (hashed-looking) under an inner node with
    # key offsets; keys inside a cluster are relative to its offset.
    leaf_a = b.cluster([0, 5, 900], [b.ints([10, 11, 12])])
    leaf_b = b.cluster([0, 77], [b.ints([20, 21])])
    root = b.cluster_inner([leaf_a, leaf_b], depth=1, size=5, offsets=[1000, 2**40])
    table = add_table(b, 0, [Col("v", INT)], root)
    rf = RealmFile.open(write_file(b.finish(b.group(["class_T"], [table]), streaming=True)))
    objs = rf.objects("T")
    assert [o.key for o in objs] == [1000, 1005, 1900, 2**40, 2**40 + 77]
    assert [o["v"] for o in objs] == [10, 11, 12, 20, 21]
    assert objs[3]["v"] == 20 and len(objs) == 5


def test_compact_inner_nodes_with_release_shift(write_file: Write) -> None:
    b = Builder()
    leaf_a = b.cluster(256, [b.ints(list(range(256)))])
    leaf_b = b.cluster(3, [b.ints([7, 8, 9])])
    root = b.cluster_inner([leaf_a, leaf_b], depth=1, size=259)
    table = add_table(b, 0, [Col("v", INT)], root)
    rf = RealmFile.open(write_file(b.finish(b.group(["class_T"], [table]), slot=1)))
    objs = rf.objects("T")
    assert [o.key for o in objs][254:] == [254, 255, 256, 257, 258]
    assert objs[258]["v"] == 9


def test_deleted_table_slots_and_asymmetric_tables(write_file: Write) -> None:
    b = Builder()
    table = add_table(b, 2, [Col("v", INT)], b.cluster(1, [b.ints([3])]), table_type=2)
    top = b.group(["metadata_gone", None, "class_Log"], [0, 3, table])
    rf = RealmFile.open(write_file(b.finish(top)))
    assert rf.class_names(include_internal=True) == ["Log"]
    assert rf.table_type("Log") == "asymmetric"
    assert values(rf, "v", "Log") == [3]


def test_a_never_committed_file_has_no_classes(write_file: Write) -> None:
    data = bytes(16) + b"T-DB" + bytes(4)  # top ref 0, format 0: created, never committed
    with RealmFile.open(write_file(data + bytes(4072))) as rf:
        assert rf.class_names(include_internal=True) == [] and rf.schema == []


def test_a_file_shorter_than_its_logical_size_is_truncated(write_file: Write) -> None:
    b = Builder()
    table = add_table(b, 0, [Col("v", INT)], b.cluster(1, [b.ints([3])]))
    top = b.ints(
        [b.short_strings(["class_T"]), b.ints([table], refs=True), tagged(1 << 20)], refs=True
    )
    with pytest.raises(CorruptRealmError, match="truncated: it should be at least 1048576 bytes"):
        RealmFile.open(write_file(b.finish(top)))
