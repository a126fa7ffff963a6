"""convert(): a genuine Realm Core file copied into a studio.core realm."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from realmfile_builder import (
    BACKLINK,
    LINK,
    LIST,
    NULLABLE,
    STRING,
    Builder,
    Col,
    col_key,
    two_tables,
)

from studio.core import ObjectId, Realm
from studio.realmfile import RealmFileError
from studio.realmfile.convert import convert

Write = Callable[[bytes], Path]


def test_links_lists_and_generated_primary_keys(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "family.realm"
    seen: list[tuple[int, int]] = []
    report = convert(
        corpus / "js__packages_realm-tools_samples_default.realm",
        out,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.objects == 11 and report.warnings == []
    assert report.generated_primary_keys == {"Child": "_id", "Parent": "_id"}
    assert seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)
    with Realm.open(out) as realm:
        parent = realm.object_schema("Parent")
        assert parent.primary_key == "_id"
        assert [p.type_string for p in parent.properties] == [
            "objectId",
            "string",
            "string",
            "Parent?",
            "Child[]",
        ]
        people = {p["name"]: p for p in realm.objects("Parent")}
        assert len(people) == 5 and len(realm.objects("Child")) == 6
        assert [c["name"] for c in people["Ben"]["children"]] == ["Frederick", "George", "Isabel"]
        assert people["Ben"]["marriedTo"]["name"] == "Dorothy"
        assert people["Adam"]["marriedTo"] is None
        assert all(isinstance(p["_id"], ObjectId) for p in people.values())


def test_primary_keys_kept_and_realm_core_tables(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "upgrade20.realm"
    report = convert(corpus / "rc__test_upgrade_database_20.realm", out)
    assert report.generated_primary_keys == {"origin": "_id"}
    assert "no SDK classes" in report.warnings[0]
    with Realm.open(out) as realm:
        assert realm.object_schema("foo").primary_key == "id"
        assert sorted(f["id"] for f in realm.objects("foo")) == [0, 2, 3, 15, 100, 7000]
        adam = realm.object_for_primary_key("bar", "adam")
        assert adam is not None
        links = sorted(
            (o["link1"]["id"] if o["link1"] else -1, o["link2"]["name"] if o["link2"] else "")
            for o in realm.objects("origin")
        )
        assert (-1, "adam") in links and (7000, "") in links and len(links) == 14


def test_dictionaries_sets_and_mixed_links(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "dict.realm"
    convert(corpus / "rc__test_upgrade_database_4_22.realm", out)
    with Realm.open(out) as realm:
        obj = realm.objects("table")[0]
        target = realm.object_for_primary_key("target", 47)
        assert dict(obj["dict"])["seven"] == "Morgan"
        assert dict(obj["dict"])["nine"] == target
        assert dict(obj["dict"])["eight"] == datetime(1970, 1, 1, 0, 0, 4, tzinfo=UTC)
        assert target in list(obj["set"]) and "Beatles" in list(obj["set"])


def test_every_type_and_nested_mixed(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.realm"
    report = convert(corpus / "rc__test_upgrade_database_1000_24.realm", out)
    assert report.objects == 10002
    assert any("stored as JSON text" in w for w in report.warnings)
    with Realm.open(out) as realm:
        table = realm.objects("table")
        assert len(table) == 10001
        first = realm.object_for_primary_key("table", ObjectId("66b9fa6b0a6276620c3a4aa1"))
        assert first is not None
        assert (first["int"], first["string"], first["decimal"]) == (65535, "white", Decimal(0))
        assert first["link"]["_id"] == 1
        last = realm.object_for_primary_key("table", ObjectId("66b9fa6b0a6276620c3a71b1"))
        assert last is not None and last["link"] is None
        assert json.loads(last["any"])["Points"] == [1.25, 4.5, 6.75]


def test_embedded_objects_stay_embedded(write_file: Write, tmp_path: Path) -> None:
    b = Builder()
    addr_key = col_key(0, LINK, NULLABLE, tag=0)
    list_key = col_key(1, LINK, LIST, tag=1)
    parent_cols = [Col("address", LINK, NULLABLE, target=1), Col("history", LINK, LIST, target=1)]
    parent_leaves = [b.ints([1, 0]), b.ints([b.ints([2, 1]), 0], refs=True)]
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
    src = write_file(b.finish(top))
    out = tmp_path / "embedded.realm"
    report = convert(src, out)
    assert report.generated_primary_keys == {"Parent": "_id"}
    with Realm.open(out) as realm:
        assert realm.object_schema("Child").embedded
        first = next(p for p in realm.objects("Parent") if p["address"] is not None)
        assert first["address"]["street"] == "Main St"
        assert [a["street"] for a in first["history"]] == ["Elm St", "Old Rd"]


def test_refuses_to_overwrite(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "exists.realm"
    out.write_bytes(b"")
    with pytest.raises(RealmFileError, match="already exists"):
        convert(corpus / "js__packages_realm_src_tests_realms_simple.realm", out)
