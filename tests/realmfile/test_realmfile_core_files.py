"""Genuine Realm Core files whose contents realm-core's own tests state
(core_files/README.md): asymmetric and embedded tables and a format-22 Mixed
dictionary and set with data, read and compared value by value."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from studio.primitives.objectid import ObjectId
from studio.realmfile import RealmFile, RealmObject

FILES = Path(__file__).parent / "core_files"


def test_an_asymmetric_table_of_a_genuine_file() -> None:
    # test_upgrade_database.cpp, Upgrade_RecoverAsymmetricTables: "This file has a table
    # that is marked as asymmetric, but has 3 objects in it" ('persistent' keeps its 3).
    with RealmFile.open(FILES / "downgrade_asymmetric.realm") as rf:
        assert rf.format_version == 22
        assert rf.table_type("ephemeral") == "asymmetric"
        assert rf.table_type("persistent") == "top-level"
        assert not rf.is_embedded("ephemeral")
        assert (rf.count("ephemeral"), rf.count("persistent")) == (3, 3)
        assert rf.object_schema("ephemeral").primary_key == "_id"
        assert [o["_id"] for o in rf.objects("ephemeral")] == [1, 2, 3]
        assert [o["_id"] for o in rf.objects("persistent")] == ["uno", "dos", "tres"]


def test_an_embedded_table_of_a_genuine_file() -> None:
    # test_sync_subscriptions.cpp, Sync_SubscriptionStoreInternalSchemaMigration: one
    # subscription set, version 1, state Complete (stored as 3: SubscriptionStateForStorage
    # in subscriptions.cpp), holding one subscription 62742ab959d7f2e48f59f75d on TopLevel.
    with RealmFile.open(FILES / "test_flx_metadata_tables_v1.realm") as rf:
        assert rf.format_version == 22
        assert rf.table_type("flx_subscriptions") == "embedded"
        assert rf.is_embedded("flx_subscriptions")
        (sub_set,) = rf.objects("flx_subscription_sets")
        assert (sub_set["version"], sub_set["state"]) == (1, 3)
        (sub,) = sub_set["subscriptions"]
        assert isinstance(sub, RealmObject)
        assert sub["id"] == ObjectId("62742ab959d7f2e48f59f75d")
        assert sub["object_class"] == "TopLevel"
        assert sub["query"] == "TRUEPREDICATE" and sub["name"] is None
        # The id's timestamp part (0x62742ab9) is the creation second.
        created = sub["created_at"]
        assert created.replace(microsecond=0) == datetime(2022, 5, 5, 19, 51, 21, tzinfo=UTC)
        assert int(created.timestamp()) == 0x62742AB9
        assert rf.count("TopLevel") == 0


def test_a_format_22_mixed_dictionary_and_set_with_data() -> None:
    # test_upgrade_database.cpp, Upgrade_Database_22: the dictionary holds dict_values plus
    # "nine" -> the target object with primary key 47; the set holds set_values plus that
    # link. BinaryData("Paul") has N = 5 bytes: the string literal's NUL is part of it
    # (binary_data.hpp). Timestamp(4, 5) is 4 s and 5 ns (datetime keeps microseconds).
    with RealmFile.open(FILES / "test_upgrade_database_1000_22.realm") as rf:
        assert rf.format_version == 22
        (obj,) = rf.objects("table")
        assert obj["id"] == 1
        values = dict(obj["dict"])
        target = values.pop("nine")
        assert isinstance(target, RealmObject) and target["id"] == 47
        assert values == {
            "one": 1,
            "two": 2.0,
            "three": "John",
            "four": "Paul",
            "five": "George",
            "six": "Ringo",
            "seven": "Morgan",
            "eight": datetime(1970, 1, 1, 0, 0, 4, tzinfo=UTC),
        }
        assert type(values["one"]) is int and type(values["two"]) is float
        members = obj["set"]
        links = [m for m in members if isinstance(m, RealmObject)]
        assert [link["id"] for link in links] == [47]
        plain = [m for m in members if not isinstance(m, RealmObject)]
        assert sorted(plain, key=repr) == sorted(
            [1, 2.0, "John", "Ringo", b"Paul\x00", b"George\x00", "Beatles"], key=repr
        )
        # Format 22 ordered strings and binaries together, by their bytes.
        assert plain == [1, 2.0, "Beatles", b"George\x00", "John", b"Paul\x00", "Ringo"]
        # Both collections link to the target: realm-core counts 2 backlinks.
        assert sorted(rf.incoming_links("target")) == [("table", "dict"), ("table", "set")]
