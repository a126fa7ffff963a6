"""Decoded values of known objects of the genuine files."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from studio.primitives.objectid import ObjectId
from studio.realmfile import RealmFile, RealmFileError, RealmObject, UnknownNameError

NESTED = {
    "Attributes": {"Height": 202, "Weight": 92},
    "Points": [1.25, 4.5, 6.75],
    "Seven": 7,
    "Six": 6,
}


@pytest.fixture(scope="module")
def all_types(corpus: Path) -> RealmFile:
    rf = RealmFile.open(corpus / "rc__test_upgrade_database_1000_24.realm")
    yield rf
    rf.close()


def test_first_object_has_a_value_of_every_column_type(all_types: RealmFile) -> None:
    first = all_types.objects("table")[0]
    target = all_types.objects("target")[0]
    assert first.to_dict() == {
        "_id": ObjectId("66b9fa6b0a6276620c3a4aa1"),
        "int": 65535,
        "optint": 65535,
        "bool": False,
        "string": "white",
        "binary": b"",
        "any": None,
        "date": datetime(2024, 8, 12, 12, 4, 59, tzinfo=UTC),
        "float": 0.0,
        "double": 0.0,
        "decimal": Decimal(0),
        "uuid": uuid.UUID(int=0),
        "link": 1,  # the target's primary key
    }
    assert first["link"] == target and isinstance(first["link"], RealmObject)
    assert first.link._id == 1  # attribute access follows the link
    assert first.key == 0


def test_values_follow_the_test_generator(all_types: RealmFile) -> None:
    objs = all_types.objects("table")
    colours = [
        "white",
        "yellow",
        "red",
        "orange",
        "green",
        "blue",
        "grey",
        "violet",
        "purple",
        "black",
    ]
    for i in (0, 1, 9, 10, 255, 256, 257, 5000, 9999):  # across cluster boundaries
        o = objs[i]
        assert o["int"] == 65535 + i
        assert o["optint"] == 65535 + i % 10
        assert o["string"] == colours[i % 10]
        assert o["_id"] == ObjectId(f"{0x66B9FA6B0A6276620C3A4AA1 + i:024x}")
        assert o["date"].timestamp() == datetime(2024, 8, 12, 12, 4, 59, tzinfo=UTC).timestamp() + i
        assert o.key == i


def test_last_object_has_a_long_string_and_nested_mixed(all_types: RealmFile) -> None:
    last = all_types.objects("table")[-1]
    assert last["int"] == 0 and last["optint"] is None
    text = last["string"]
    assert text.startswith("1. Jeg ved en lærkerede,\njeg siger ikke mer;")
    assert text.endswith("hvor lærkereden er.\n") and len(text) == 473
    assert last["any"] == NESTED
    assert last["link"] is None
    assert last["date"] == datetime(1970, 1, 1, tzinfo=UTC)
    assert last.to_dict()["any"] == NESTED
    assert sum(1 for o in all_types.objects("table") if o["any"] is not None) == 1


def test_primary_key_lookup_and_backlinks(all_types: RealmFile) -> None:
    oid = ObjectId("66b9fa6b0a6276620c3a4aa3")
    found = all_types.object_for_primary_key("table", oid)
    assert found is not None and found["string"] == "red"
    assert all_types.object_for_primary_key("table", "66b9fa6b0a6276620c3a4aa3") == found
    assert all_types.object_for_primary_key("table", ObjectId("000000000000000000000000")) is None
    target = all_types.object_for_primary_key("target", 1)
    assert target is not None
    incoming = target.linking_objects("table", "link")
    assert len(incoming) == 10000  # a backlink list long enough to be a B+tree
    assert incoming[0] == all_types.objects("table")[0]
    with pytest.raises(UnknownNameError):
        target.linking_objects("table", "nope")


def test_results_behave_like_a_sequence(all_types: RealmFile) -> None:
    objs = all_types.objects("table")
    assert len(objs) == 10001
    assert [o["int"] for o in objs[2:5]] == [65537, 65538, 65539]
    assert objs[-1] == objs[10000]
    with pytest.raises(IndexError):
        objs[10001]
    with pytest.raises(UnknownNameError, match="no property 'nope'"):
        objs[0]["nope"]
    with pytest.raises(AttributeError):
        objs[0].nope  # noqa: B018
    with pytest.raises(RealmFileError, match="read-only"):
        objs[0].int = 3
    assert "string" in objs[0] and objs[0].keys()[:2] == ["_id", "int"]
    assert repr(objs[0]) == "<table _id=ObjectId('66b9fa6b0a6276620c3a4aa1')>"


def test_links_and_link_lists(corpus: Path) -> None:
    with RealmFile.open(corpus / "js__packages_realm-tools_samples_default.realm") as rf:
        parents = {p["name"]: p for p in rf.objects("Parent")}
        assert [c["name"] for c in parents["Adam"]["children"]] == ["Eric", "Harriet"]
        assert parents["Ben"]["marriedTo"]["name"] == "Dorothy"
        assert [c["age"] for c in parents["Ben"].children] == [8, 15, 14]
        assert parents["Adam"].to_dict() == {
            "name": "Adam",
            "city": "Amsterdam",
            "marriedTo": None,
            "children": [0, 3],
        }
        eric = rf.objects("Child")[0]
        assert sorted(p["name"] for p in eric.linking_objects("Parent", "children")) == [
            "Adam",
            "Cindy",
        ]
    with RealmFile.open(
        corpus / "swift__examples_ios_objc_Migration_RealmTemplates_default-v2.realm"
    ) as rf:
        people = rf.objects("Person")
        assert [(p.fullName, p.age, [d.name for d in p.dogs]) for p in people] == [
            ("John Doe", 42, ["Marley", "Lassie"]),
            ("Jane Doe", 43, ["Toto"]),
            ("John Smith", 44, []),
        ]
    with RealmFile.open(corpus / "js__packages_realm_src_tests_realms_simple.realm") as rf:
        alice = rf.object_for_primary_key("Person", "Alice")
        assert alice is not None and alice["bestFriend"]["name"] == "Bob"
        assert alice.to_dict() == {"name": "Alice", "bestFriend": "Bob", "age": 11}


def test_format_20_hashed_keys_and_tombstones(corpus: Path) -> None:
    with RealmFile.open(corpus / "rc__test_upgrade_database_20.realm") as rf:
        bar = rf.objects("bar")
        # Format 20 derived object keys from a hash of the primary key.
        assert [b.key for b in bar][:2] == [477706491332307078, 1701952207782086761]
        assert sorted(b["name"] for b in bar) == ["adam", "bart", "carlo", "david", "frank", "gary"]
        assert [f["id"] for f in rf.objects("foo")] == [0, 2, 3, 15, 100, 7000]
        origins = rf.objects("origin")
        links = [
            (o["link1"]["id"] if o["link1"] else None, o["link2"]["name"] if o["link2"] else None)
            for o in origins
        ]
        assert links[:4] == [(0, None), (2, None), (3, None), (15, None)]
        assert links[7] == (None, "adam")
        # origin 4 and 11 link to objects that were deleted (tombstones): null
        assert links[4] == (None, None) and links[11] == (None, None)
        frank = rf.object_for_primary_key("bar", "frank")
        assert frank is not None
        assert [o.key for o in frank.linking_objects("origin", "link2")] == [12]


def test_compact_keys_with_the_test_build_shift(corpus: Path) -> None:
    # realm-core's _4_ files come from a build with 4-entry nodes (shift 2):
    # read with shift 8, the keys would jump 0..3, 256..259, ...
    with RealmFile.open(corpus / "rc__test_upgrade_database_4_24.realm") as rf:
        table = rf.objects("table")
        assert [o.key for o in table] == list(range(41))
        assert table[40]["any"] == NESTED
        assert rf._by_name["table"].tree.shift == 2
    with RealmFile.open(corpus / "rc__test_upgrade_database_4_23.realm") as rf:
        assert [o["id"] for o in rf.objects("table")] == list(range(40))
        assert all(o["link"]["id"] == 1 for o in rf.objects("table"))
    with RealmFile.open(corpus / "rc__test_upgrade_database_1000_24.realm") as rf:
        tree = rf._by_name["table"].tree
        tree.leaves()
        assert tree.shift == 8


def test_format_22_dictionary_and_mixed_set(corpus: Path) -> None:
    with RealmFile.open(corpus / "rc__test_upgrade_database_4_22.realm") as rf:
        obj = rf.objects("table")[0]
        target = rf.objects("target")[0]
        assert obj["dict"] == {
            "one": 1,
            "two": 2.0,
            "three": "John",
            "four": "Paul",
            "five": "George",
            "six": "Ringo",
            "seven": "Morgan",
            "eight": datetime(1970, 1, 1, 0, 0, 4, tzinfo=UTC),
            "nine": target,  # a typed link in a Mixed
        }
        assert obj.to_dict()["dict"]["nine"] == 47
        assert obj["set"] == [
            1,
            2.0,
            "Beatles",
            b"George\x00",
            "John",
            b"Paul\x00",
            "Ringo",
            target,
        ]
        assert obj.to_dict()["set"][-1] == 47


def test_sets_of_strings_binaries_and_mixed(corpus: Path) -> None:
    with RealmFile.open(corpus / "rc__test_upgrade_database_4_23.realm") as rf:
        obj = rf.objects("table_for_mixed")[0]
        strings = obj["stringSet"]
        # Sets keep their elements in the file's sort order (here signed-char order).
        assert strings[:10] == [
            None,
            "",
            "Æ",
            "æ",
            "ÿ",
            "ʄ",
            "\x00",
            "\x00\x00\x01",
            "\x00\x01",
            "\x01\x00",
        ]
        assert "Beatles" in strings and "John" in strings
        assert any(s is not None and len(s) > 100 for s in strings)
        binaries = obj["binarySet"]
        assert binaries[:3] == [None, b"George\x00", b"Paul\x00"]
        assert all(isinstance(b, bytes) for b in binaries[1:])
        mixed = obj["mixedSet"]
        assert mixed[:3] == [None, 1, 2.0] and "Beatles" in mixed
        assert mixed[-3:] == [
            datetime(1970, 1, 1, tzinfo=UTC),
            ObjectId("abcdefabcdefabcdefabcdef"),
            uuid.UUID(int=0),
        ]
        table2 = rf.objects("table2")
        assert [o["id"] for o in table2][:3] == [None, "", "\x00"]


def test_dates_strings_floats_and_empty_dictionary_class(corpus: Path) -> None:
    with RealmFile.open(corpus / "js__integration-tests_assets_bundled.realm") as rf:
        dates = [(d["currentDate"], d["nullDate"]) for d in rf.objects("Date")]
        assert dates == [
            (datetime(2016, 5, 6, 2, 1, 27, 955000, tzinfo=UTC), None),
            (datetime(1969, 3, 12, tzinfo=UTC), None),
        ]
    with RealmFile.open(corpus / "studio__asset_file_2024-03-26_154b6ff3.realm") as rf:
        dogs = [d.to_dict() for d in rf.objects("Dog")]
        assert dogs[0]["name"] == "Rex" and dogs[0]["age"] == 5
        assert dogs[0]["height"] == 3.14 and dogs[0]["weight"] == 17.0  # float32: shortest
        assert [d["hasTail"] for d in dogs] == [False, True]
        assert [o["name"] for o in rf.objects("Owner") if o["name"]] == ["owner1"]
        assert len(rf.objects("DogPrimaryKey")) == 0
    with RealmFile.open(corpus / "js__packages_realm-tools_samples_dict.realm") as rf:
        assert len(rf.objects("Dict")) == 0
        assert rf.objects("Dict")[:] == []


def test_closed_file_refuses_reads(corpus: Path) -> None:
    rf = RealmFile.open(corpus / "js__packages_realm-tools_samples_default.realm")
    child = rf.objects("Child")[0]
    rf.close()
    assert rf.closed
    with pytest.raises(RealmFileError, match="closed"):
        child["name"]
    with pytest.raises(RealmFileError, match="closed"):
        len(rf.objects("Child"))
