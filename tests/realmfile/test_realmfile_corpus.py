"""Every genuine file of the corpus opens (or fails with the right error), and
object counts and schemas match what realm-core reads (README of the corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.realmfile import (
    EncryptedRealmError,
    NotARealmFileError,
    RealmFile,
    RealmFileError,
    UnknownNameError,
    UnsupportedFormatError,
    is_realm_core_file,
)

FORMATS = {
    "dotnet__Tests_Realm.Tests_EmbeddedResources_ForMigrationsToCopyAndMigrate.realm": 22,
    "js__integration-tests_assets_bundled.realm": 23,
    "js__packages_realm-tools_samples_default.realm": 22,
    "js__packages_realm-tools_samples_dict.realm": 22,
    "js__packages_realm_src_tests_realms_simple.realm": 23,
    "rc__object-store_foo.realm": 22,
    "rc__test_upgrade_database_1000_24.realm": 24,
    "rc__test_upgrade_database_20.realm": 20,
    "rc__test_upgrade_database_4_22.realm": 22,
    "rc__test_upgrade_database_4_23.realm": 23,
    "rc__test_upgrade_database_4_24.realm": 24,
    "studio__asset_file_2020-09-22_88155599.realm": 20,
    "studio__asset_file_2022-11-22_f88607c8.realm": 23,
    "studio__asset_file_2024-03-26_154b6ff3.realm": 24,
    "swift__examples_ios_objc_Migration_RealmTemplates_default-v2.realm": 20,
    "swift__examples_ios_swift_Migration_RealmTemplates_default-v0.realm": 20,
}

# The corpus README's oracle: object counts per class as realm-core reads them.
STUDIO_COUNTS = {"Cat": 10, "Owner": 11, "Dog": 2, "DogPrimaryKey": 0}
COUNTS = {
    "studio__asset_file_2020-09-22_88155599.realm": STUDIO_COUNTS,
    "studio__asset_file_2022-11-22_f88607c8.realm": STUDIO_COUNTS,
    "studio__asset_file_2024-03-26_154b6ff3.realm": STUDIO_COUNTS,
    "rc__test_upgrade_database_1000_24.realm": {"table": 10001, "target": 1},
    "rc__test_upgrade_database_4_24.realm": {"table": 41, "target": 1},
    "rc__test_upgrade_database_4_23.realm": {
        "table": 40,
        "target": 1,
        "table_for_mixed": 1,
        "table2": 20,
    },
    "rc__test_upgrade_database_20.realm": {"foo": 6, "bar": 6, "origin": 14},
    "js__packages_realm-tools_samples_default.realm": {"Child": 6, "Parent": 5},
    "js__packages_realm_src_tests_realms_simple.realm": {"Person": 3},
    "swift__examples_ios_objc_Migration_RealmTemplates_default-v2.realm": {"Dog": 4, "Person": 3},
    "dotnet__Tests_Realm.Tests_EmbeddedResources_ForMigrationsToCopyAndMigrate.realm": {
        "Dog": 0,
        "Owner": 0,
        "Person": 1,
    },
}


def test_the_corpus_is_complete(corpus: Path) -> None:
    names = {p.name for p in corpus.glob("*.realm")}
    expected = set(FORMATS) | {
        "rc__0.98.0-alltypes-default-encrypted.realm",
        "studio__asset_file_2019-12-17_6dce36d5.realm",
        "swift__Realm_Tests_fileformat-pre-null.realm",
    }
    assert expected <= names


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_readable_file_opens_and_decodes(corpus: Path, name: str) -> None:
    with RealmFile.open(corpus / name) as rf:
        assert rf.format_version == FORMATS[name]
        for cls in rf.class_names(include_internal=True):
            objs = rf.objects(cls)
            decoded = [o.to_dict() for o in objs]
            assert len(decoded) == len(objs) == rf.count(cls)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_object_counts_match_realm_core(corpus: Path, name: str) -> None:
    with RealmFile.open(corpus / name) as rf:
        counts = {cls: len(rf.objects(cls)) for cls in COUNTS[name]}
        assert counts == COUNTS[name]
        # and iterating yields exactly that many objects
        assert {cls: sum(1 for _ in rf.objects(cls)) for cls in COUNTS[name]} == COUNTS[name]


def test_sdk_class_names_and_internal_tables(corpus: Path) -> None:
    with RealmFile.open(corpus / "studio__asset_file_2024-03-26_154b6ff3.realm") as rf:
        assert rf.class_names() == ["Cat", "Owner", "Dog", "DogPrimaryKey"]
        assert rf.class_names(include_internal=True) == [
            "metadata",
            "Cat",
            "Owner",
            "Dog",
            "DogPrimaryKey",
        ]
        assert [s.name for s in rf.schema] == ["Cat", "Owner", "Dog", "DogPrimaryKey"]
        assert rf.objects("metadata")[0]["version"] == 0  # reachable by its raw name
        with pytest.raises(UnknownNameError, match="no class 'class_Cat'"):
            rf.objects("class_Cat")


def test_realm_core_test_files_have_only_internal_tables(corpus: Path) -> None:
    # realm-core's own tests name tables without the SDKs' class_ prefix.
    with RealmFile.open(corpus / "rc__test_upgrade_database_1000_24.realm") as rf:
        assert rf.class_names() == []
        assert rf.schema == []
        assert rf.class_names(include_internal=True) == ["table", "target"]


def test_schema_of_the_studio_asset(corpus: Path) -> None:
    with RealmFile.open(corpus / "studio__asset_file_2024-03-26_154b6ff3.realm") as rf:
        cat = rf.object_schema("Cat")
        assert cat.primary_key is None and not cat.embedded
        assert [(p.name, p.type_string) for p in cat.properties] == [
            ("name", "string?"),
            ("age", "int"),
            ("height", "float"),
            ("weight", "double"),
            ("hasTail", "bool"),
            ("birthday", "date?"),
            ("owner", "Owner?"),
            ("scaredOfDog", "DogPrimaryKey?"),
        ]
        owner = rf.object_schema("Owner")
        assert [(p.name, p.type_string) for p in owner.properties] == [
            ("name", "string?"),
            ("dogs", "Dog[]"),
            ("cat", "Cat?"),
        ]
        dogs = owner.get("dogs")
        assert dogs is not None
        assert (dogs.type, dogs.collection, dogs.object_type) == ("object", "list", "Dog")
        dog_pk = rf.object_schema("DogPrimaryKey")
        assert dog_pk.primary_key == "id"
        pk_prop = dog_pk.get("id")
        assert pk_prop is not None and pk_prop.is_primary_key
        name_prop = rf.object_schema("Dog").get("name")
        assert name_prop is not None and name_prop.indexed
        assert sorted(rf.incoming_links("Owner")) == [
            ("Cat", "owner"),
            ("Dog", "owner"),
            ("DogPrimaryKey", "owner"),
        ]
        assert rf.incoming_links("Cat") == [("Owner", "cat")]
        assert rf.incoming_links("Dog") == [("Owner", "dogs")]


def test_schema_of_every_column_type(corpus: Path) -> None:
    with RealmFile.open(corpus / "rc__test_upgrade_database_1000_24.realm") as rf:
        schema = rf.object_schema("table")
        assert schema.primary_key == "_id"
        assert [(p.name, p.type_string) for p in schema.properties] == [
            ("_id", "objectId"),
            ("int", "int"),
            ("optint", "int?"),
            ("bool", "bool"),
            ("string", "string"),
            ("binary", "data"),
            ("any", "mixed?"),
            ("date", "date"),
            ("float", "float"),
            ("double", "double"),
            ("decimal", "decimal128"),
            ("uuid", "uuid"),
            ("link", "target?"),
        ]
    with RealmFile.open(corpus / "rc__test_upgrade_database_4_23.realm") as rf:
        mixed = rf.object_schema("table_for_mixed")
        assert [p.type_string for p in mixed.properties] == [
            "int?",
            "mixed?<>",
            "string?<>",
            "data?<>",
        ]
    with RealmFile.open(corpus / "js__packages_realm-tools_samples_dict.realm") as rf:
        assert [p.type_string for p in rf.object_schema("Dict").properties] == ["string", "int{}"]


def test_header_slot_selection(corpus: Path) -> None:
    # Bit 0 of the flags byte picks the second top ref and format byte; these files use it.
    for name, fmt in [
        ("js__packages_realm-tools_samples_dict.realm", 22),
        ("studio__asset_file_2020-09-22_88155599.realm", 20),
        ("studio__asset_file_2024-03-26_154b6ff3.realm", 24),
    ]:
        raw = (corpus / name).read_bytes()
        assert raw[23] & 1
        with RealmFile.open(corpus / name) as rf:
            assert rf.format_version == fmt


def test_encrypted_file_says_a_key_is_needed(corpus: Path) -> None:
    path = corpus / "rc__0.98.0-alltypes-default-encrypted.realm"
    with pytest.raises(
        EncryptedRealmError, match=r"encrypted.*not supported yet.*key would be needed"
    ):
        RealmFile.open(path)
    assert is_realm_core_file(path)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("studio__asset_file_2019-12-17_6dce36d5.realm", 10),
        ("swift__Realm_Tests_fileformat-pre-null.realm", 2),
    ],
)
def test_old_formats_name_the_format_and_how_to_upgrade(corpus: Path, name: str, fmt: int) -> None:
    with pytest.raises(UnsupportedFormatError) as info:
        RealmFile.open(corpus / name)
    message = str(info.value)
    assert f"format {fmt}" in message
    assert "Realm SDK of version 10 or newer upgrades it" in message
    assert info.value.format_version == fmt
    assert is_realm_core_file(corpus / name)


def test_files_that_are_not_realms(tmp_path: Path) -> None:
    empty = tmp_path / "empty.realm"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is a text file and certainly not a realm database\n" * 100)
    sqlite = tmp_path / "studio.realm"
    sqlite.write_bytes(b"SQLite format 3\x00" + bytes(4080))
    for path in (empty, text, sqlite):
        with pytest.raises(NotARealmFileError, match="not a Realm file"):
            RealmFile.open(path)
        assert not is_realm_core_file(path)
    with pytest.raises(RealmFileError, match="cannot read the file"):
        RealmFile.open(tmp_path / "missing.realm")
    assert not is_realm_core_file(tmp_path / "missing.realm")
