"""The .NET SDK's ForMigrationsToCopyAndMigrate.realm (format 22), and the old
node headers that made it unreadable.

The file was first written in 2016 by a realm-core of v0.96.0 or older, whose
release builds copied a node's in-memory header to disk verbatim (capacity in
bytes 0-2, a zero byte 3) instead of the ``AAAA`` placeholder; upgrades to format
22 rewrote only the nodes they changed, so the file mixes both header kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from realmfile_builder import INT, LIST, NULL_TABLE, Builder, col_key

from studio.realmfile import CorruptRealmError, RealmFile

DOTNET = "dotnet__Tests_Realm.Tests_EmbeddedResources_ForMigrationsToCopyAndMigrate.realm"
Write = Callable[[bytes], Path]


def test_the_dotnet_migration_file_reads(corpus: Path) -> None:
    with RealmFile.open(corpus / DOTNET) as rf:
        assert rf.format_version == 22
        assert rf.class_names() == ["Dog", "Owner", "Person"]
        assert rf.class_names(include_internal=True) == ["metadata", "Dog", "Owner", "Person"]
        assert [o.to_dict() for o in rf.objects("metadata")] == [{"version": 99}]
        assert [(p.name, p.type_string) for p in rf.object_schema("Dog").properties] == [
            ("Name", "string?"),
            ("Color", "string?"),
            ("Vaccinated", "bool"),
        ]
        assert [(p.name, p.type_string) for p in rf.object_schema("Owner").properties] == [
            ("Name", "string?"),
            ("TopDog", "Dog?"),
            ("Dogs", "Dog[]"),
        ]
        person = rf.object_schema("Person")
        assert [(p.name, p.type_string) for p in person.properties] == [
            ("FirstName", "string?"),
            ("LastName", "string?"),
            ("Score", "float"),
            ("Latitude", "double"),
            ("Longitude", "double"),
            ("Birthday", "date"),
            ("Email", "string?"),
            ("IsInteresting", "bool"),
            ("TriggersSchema", "string?"),
            ("Friends", "Person[]"),
        ]
        assert (rf.count("Dog"), rf.count("Owner"), rf.count("Person")) == (0, 0, 1)
        (migratey,) = rf.objects("Person")
        assert migratey.to_dict() == {
            "FirstName": "Migratey",
            "LastName": "McMigrateface",
            "Score": 0.0,
            "Latitude": 0.0,
            "Longitude": 0.0,
            "Birthday": datetime(2016, 7, 18, 10, 23, 16, 548043, tzinfo=UTC),
            "Email": "",
            "IsInteresting": False,
            "TriggersSchema": "Needs migration",
            "Friends": [],
        }


def test_the_dotnet_file_mixes_both_header_kinds(corpus: Path) -> None:
    # The spec's column types of 'metadata' sit at offset 240 with a capacity
    # header (128 bytes, realm-core's initial capacity); the column keys that the
    # format-10 upgrade added carry 'AAAA'.
    data = (corpus / DOTNET).read_bytes()
    assert data[240:248] == bytes([0, 0, 0x80, 0, 0, 0, 0, 1])
    assert data[840:844] == b"AAAA"


def _one_list_file(b: Builder) -> tuple[bytes, int]:
    """A class T with one object whose int list is [7, 8, 9]; returns the list's leaf."""
    leaf = b.ints([7, 8, 9])
    lists = b.ints([leaf], refs=True)
    cluster = b.cluster(1, [lists])
    spec = b.spec(["l"], [INT], [LIST], [col_key(0, INT, LIST)])
    table = b.table(spec, cluster, 0, [NULL_TABLE], [0])
    return b.finish(b.group(["class_T"], [table])), leaf


def _with_header_bytes(data: bytes, ref: int, first4: bytes) -> bytes:
    patched = bytearray(data)
    patched[ref : ref + 4] = first4
    return bytes(patched)


def test_a_node_with_a_verbatim_in_memory_header_reads(write_file: Write) -> None:
    data, leaf = _one_list_file(Builder())
    # 128-byte allocation (the initial capacity of realm-core's Array::create)
    path = write_file(_with_header_bytes(data, leaf, bytes([0, 0, 0x80, 0])))
    with RealmFile.open(path) as rf:
        assert rf.objects("T")[0]["l"] == [7, 8, 9]
    # the smallest allocation that holds the header and three 1-byte elements
    path = write_file(_with_header_bytes(data, leaf, bytes([0, 0, 16, 0])))
    with RealmFile.open(path) as rf:
        assert rf.objects("T")[0]["l"] == [7, 8, 9]


@pytest.mark.parametrize(
    "first4",
    [
        bytes([0, 0, 0, 0]),  # zeroed bytes: no allocation has capacity 0
        bytes([0, 0, 8, 0]),  # too small for header + payload
        bytes([0, 0, 0x81, 0]),  # allocations are multiples of 8 bytes
        b"AAAB",  # neither 'A' nor the reserved zero in byte 3
    ],
)
def test_an_implausible_header_is_still_corruption(write_file: Write, first4: bytes) -> None:
    data, leaf = _one_list_file(Builder())
    path = write_file(_with_header_bytes(data, leaf, first4))
    expected = f"at offset {leaf} does not start with a node header"
    with RealmFile.open(path) as rf, pytest.raises(CorruptRealmError, match=expected):
        rf.objects("T")[0]["l"]
