"""studio.realmfile.browse: a Realm Core file as a read-only, Realm-like view (what the
Studio browses and exports), without Qt."""

from __future__ import annotations

import io
import json
from contextlib import closing
from pathlib import Path

import pytest

from studio.core.errors import QueryError
from studio.core.export_files import export_object, export_value, write_csv, write_json
from studio.realmfile import EncryptedRealmError, RealmFileError
from studio.realmfile.browse import (
    READ_ONLY_NOTE,
    CoreFileRealm,
    CoreObject,
    format_label,
    is_core_file,
)

FAMILY = "js__packages_realm-tools_samples_default.realm"
BIG = "rc__test_upgrade_database_1000_24.realm"
ENCRYPTED = "rc__0.98.0-alltypes-default-encrypted.realm"


def test_classes_backlink_columns_and_system_tables(corpus: Path) -> None:
    with closing(CoreFileRealm.open(corpus / FAMILY)) as realm:
        assert realm.class_names == ["metadata", "Child", "Parent"]
        assert realm.system_names == frozenset({"metadata"})
        assert [s.name for s in realm.plain_schema] == ["Child", "Parent"]
        parent = realm.object_schema("Parent")
        assert [p.name for p in parent.properties] == [
            "name", "city", "marriedTo", "children", "@links.Parent.marriedTo"]
        backlink = parent.properties[-1]
        assert backlink.is_backlink and backlink.object_type == "Parent"
        assert backlink.origin_property == "marriedTo"
        # the stored schema has no computed columns
        assert all(not p.is_backlink for s in realm.plain_schema for p in s.properties)
        assert realm.count("Child") == len(realm.objects("Child")) == 6
        assert format_label(realm.format_version) == (
            f"Realm Core file, format {realm.format_version}, read-only")


def test_objects_links_backlinks_and_lookups(corpus: Path) -> None:
    with closing(CoreFileRealm.open(corpus / FAMILY)) as realm:
        eric = realm.objects("Child")[0]
        assert isinstance(eric, CoreObject) and eric._key == 0 and eric["name"] == "Eric"
        parents = eric["@links.Parent.children"]
        assert [p["name"] for p in parents] == ["Adam", "Cindy"]
        assert all(isinstance(p, CoreObject) for p in parents)
        children = parents[0]["children"]
        assert all(isinstance(c, CoreObject) for c in children) and children[0] == eric
        dorothy = realm.object_for_key("Parent", 3)
        assert dorothy is not None and dorothy["name"] == "Dorothy"
        assert realm.index_of_key("Parent", 99) is None
        assert realm.object_for_key("Parent", 99) is None
        assert [o["name"] for o in realm.objects("Child")[1:3]] == ["Frederick", "George"]


def test_writes_are_refused_with_a_note_and_queries_scan(corpus: Path) -> None:
    with closing(CoreFileRealm.open(corpus / FAMILY)) as realm:
        assert realm.read_only and not realm.refresh()
        realm.add_listener(lambda *_a: None).remove()
        with pytest.raises(RealmFileError, match="read-only") as refused:
            realm.write()
        assert str(refused.value).startswith(READ_ONLY_NOTE)
        with pytest.raises(RealmFileError, match="read-only"):
            realm.objects("Child")[0]["name"] = "x"
        with pytest.raises(QueryError) as query:
            realm.objects("Child").filtered("age > $0", 1)
        assert "query arguments" in str(query.value)
        adults = realm.objects("Child").filtered("age > 1")
        assert [o["age"] for o in adults] == [o["age"] for o in realm.objects("Child")
                                              if o["age"] > 1]
    assert realm.is_closed


def test_is_core_file_and_what_cannot_be_opened(corpus: Path, tmp_path: Path) -> None:
    assert is_core_file(corpus / FAMILY)
    assert is_core_file(corpus / ENCRYPTED)  # recognised, then refused with the reason
    with pytest.raises(EncryptedRealmError, match="encrypted"):
        CoreFileRealm.open(corpus / ENCRYPTED)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert not is_core_file(other) and not is_core_file(tmp_path / "missing.realm")


def test_export_through_the_core_export_path(corpus: Path) -> None:
    with closing(CoreFileRealm.open(corpus / FAMILY)) as realm:
        parents = realm.objects("Parent")
        # links as the target's object key (no primary key); backlinks left out
        assert export_object(parents[1]) == {"_key": 1, "name": "Ben", "city": "Belfast",
                                             "marriedTo": 3, "children": [1, 2, 4]}
        out = io.StringIO()
        assert write_csv(parents, parents.object_schema, out) == 5
        lines = out.getvalue().splitlines()
        assert lines[0] == "_key,name,city,marriedTo,children" and lines[5] == "4,Jack,Cairo,2,[5]"
        out = io.StringIO()
        assert write_json(parents, out) == 5
        assert json.loads(out.getvalue())[1]["children"] == [1, 2, 4]


def test_nested_collections_in_mixed_values_export_as_json(corpus: Path) -> None:
    with closing(CoreFileRealm.open(corpus / BIG)) as realm:
        obj = realm.objects("table")[10000]
        any_prop = next(p for p in obj.object_schema.properties if p.name == "any")
        nested = {"Attributes": {"Height": 202, "Weight": 92}, "Points": [1.25, 4.5, 6.75],
                  "Seven": 7, "Six": 6}
        assert export_value(any_prop, obj["any"]) == nested
        row = export_object(obj)
        assert row["_id"] == "66b9fa6b0a6276620c3a71b1" and row["any"] == nested
        out = io.StringIO()
        write_csv([obj], obj.object_schema, out)
        assert ('"{""Attributes"":{""Height"":202,""Weight"":92},""Points"":[1.25,4.5,6.75],'
                '""Seven"":7,""Six"":6}"') in out.getvalue()
