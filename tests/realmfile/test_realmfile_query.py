"""Realm Query Language on genuine Realm Core files (issue 16): the Python evaluator of
:mod:`studio.realmfile.query` agrees with the SQL compiler of studio realms on the same
data (the file converted by ``studio.realmfile.convert``), and refuses what it does not
cover with the construct's position."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core import QueryError, Realm
from studio.realmfile.browse import CoreFileRealm
from studio.realmfile.convert import convert
from studio.realmfile.query import compile_query, sort_positions

UPGRADE_24 = "rc__test_upgrade_database_4_24.realm"
BIG_24 = "rc__test_upgrade_database_1000_24.realm"
QUERIES = [
    "int > 65550",
    "int BETWEEN {65540, 65560} AND optint != 65535",
    "optint == null OR bool == true",
    "string == 'white'",
    "string BEGINSWITH[c] 'WH'",
    "string CONTAINS 'lærke'",
    "string LIKE '*lu?'",
    "string IN {'blue', 'white'}",
    "NOT (string ENDSWITH 'e')",
    "date >= 2024-08-12@12:07:40",
    "double == 0 AND decimal < 1",
    "link != null",
    "TRUEPREDICATE",
    "int > 65540 SORT(int DESC) LIMIT(4)",
]


@pytest.fixture(scope="module")
def both(corpus: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[CoreFileRealm, Realm]:
    copy = tmp_path_factory.mktemp("converted") / "copy.realm"
    convert(corpus / UPGRADE_24, copy)
    return CoreFileRealm.open(corpus / UPGRADE_24), Realm.open(copy, read_only=True)


@pytest.mark.parametrize("query", QUERIES)
def test_the_evaluator_agrees_with_the_sql_compiler(both: tuple[CoreFileRealm, Realm],
                                                    query: str) -> None:
    core, studio = both
    objects = core.objects("table")
    positions = compile_query(query, "table", core.object_schema).run(objects)
    found = [objects[p]["_id"] for p in positions]
    expected = [o["_id"] for o in studio.objects("table").filtered(query)]
    if "SORT" in query:
        assert found == expected
    else:
        assert sorted(map(str, found)) == sorted(map(str, expected))
    assert found or query.startswith("NOT")  # every query here matches something


def test_a_scan_over_ten_thousand_objects(corpus: Path) -> None:
    core = CoreFileRealm.open(corpus / BIG_24)
    objects = core.objects("table")
    positions = compile_query("string == 'orange' AND int > 65600", "table",
                              core.object_schema).run(objects)
    expected = [i for i, o in enumerate(objects) if o["string"] == "orange" and o["int"] > 65600]
    assert positions == expected and len(expected) > 100
    by_int = sort_positions(objects, range(len(objects)), "optint", True)
    values = [objects[p]["optint"] for p in by_int]
    assert values[0] is None  # null first
    assert values[1:] == sorted(v for v in values if v is not None)


def test_cancelling_stops_the_scan(corpus: Path) -> None:
    core = CoreFileRealm.open(corpus / BIG_24)
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2
    positions = compile_query("TRUEPREDICATE", "table", core.object_schema).run(
        core.objects("table"), cancelled=cancelled)
    assert len(positions) == 2000  # two blocks of 1,000, then it stopped


@pytest.mark.parametrize(("query", "position", "words"), [
    ("nope > 1", 0, "table has no property 'nope'"),
    ("int > $0", 6, "query argument"),
    ("SUBQUERY(link, $x, $x.value > 1).@count > 0", 0, "SUBQUERY"),
    ("int + 1 > 2", 0, "arithmetic"),
    ("int >", 5, ""),
])
def test_what_it_does_not_cover_is_refused_with_its_position(
        both: tuple[CoreFileRealm, Realm], query: str, position: int, words: str) -> None:
    core, _studio = both
    with pytest.raises(QueryError) as caught:
        compile_query(query, "table", core.object_schema)
    assert caught.value.position == position
    assert words in caught.value.message
