"""Full-text search (``prop TEXT '...'``) on ``"indexed": "full-text"`` properties:
table-driven cases over raw rows, then the FTS5 table kept by every write path of the
store (create, update, delete) and by migrations (adding and removing the index)."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rql_fixtures import RawRealm

from studio.core import Realm
from studio.core.errors import QueryError, SchemaError
from studio.core.replay import apply_instructions
from studio.core.schema import parse_schema
from studio.primitives import instructions as ins

SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Doc",
        "properties": {
            "title": "string",
            "body": {"type": "string?", "indexed": "full-text"},
            "owner": "Doc?",
            "notes": "string[]",
        },
    },
]

Case = tuple[str, tuple[Any, ...], list[str]]


@pytest.fixture(scope="module")
def docs() -> RawRealm:
    db = RawRealm(SCHEMA)
    db.add("Doc", "d1", title="d1", body="The quick brown fox jumps")
    db.add("Doc", "d2", title="d2", body="Café au lait, s'il vous plaît")
    db.add("Doc", "d3", title="d3", body="QUICKSILVER and Quick-witted foxes")
    db.add("Doc", "d4", title="d4", body=None)
    db.add("Doc", "d5", title="d5", body="brown bread")
    return db


CASES: list[Case] = [
    ("body TEXT 'quick'", (), ["d1", "d3"]),
    ("body TEXT 'QUICK'", (), ["d1", "d3"]),
    ("body text 'quick'", (), ["d1", "d3"]),
    ("body TEXT 'quick brown'", (), ["d1"]),
    ("body TEXT '  quick   brown '", (), ["d1"]),
    ("body TEXT 'quick*'", (), ["d1", "d3"]),
    ("body TEXT 'quicks*'", (), ["d3"]),
    ("body TEXT 'fox'", (), ["d1"]),
    ("body TEXT 'fox*'", (), ["d1", "d3"]),
    ("body TEXT 'brown -fox'", (), ["d5"]),
    ("body TEXT 'brown -fox -bread'", (), []),
    ("body TEXT '-brown'", (), ["d2", "d3"]),
    ("body TEXT 'cafe'", (), ["d2"]),
    ("body TEXT 'CAFÉ'", (), ["d2"]),
    ("body TEXT 'plait'", (), ["d2"]),
    ("body TEXT 'vous s il'", (), ["d2"]),
    ("body TEXT 'witted'", (), ["d3"]),
    ("body TEXT '\"quick\"'", (), ["d1", "d3"]),
    ("body TEXT 'nothing'", (), []),
    ("body TEXT $0", ("lait",), ["d2"]),
    ("NOT body TEXT 'quick'", (), ["d2", "d4", "d5"]),
    ("body TEXT 'brown' AND title != 'd1'", (), ["d5"]),
    ("body TEXT 'brown' OR body TEXT 'cafe'", (), ["d1", "d2", "d5"]),
    ("body TEXT 'brown' SORT(title DESC)", (), ["d5", "d1"]),
    ("body TEXT 'quick' LIMIT(1)", (), ["d1"]),
    ("title == 'd1' AND body TEXT 'jumps'", (), ["d1"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0] + (f" {c[1]!r}" if c[1] else ""))
def test_text_search(docs: RawRealm, case: Case) -> None:
    query, args, expected = case
    assert docs.query("Doc", query, *args) == expected


ERRORS: list[tuple[str, tuple[Any, ...], str]] = [
    ("title TEXT 'x'", (), 'declare Doc.title with "indexed": "full-text"'),
    ("owner.body TEXT 'x'", (), "TEXT needs a full-text indexed property of the queried"),
    ("ANY notes TEXT 'x'", (), "TEXT needs a full-text indexed property of the queried"),
    ("body TEXT 'foo-bar'", (), "has a separator inside"),
    ("body TEXT 'a -a'", (), "cannot include and exclude the same word 'a'"),
    ("body TEXT '-Cafe cafÉ'", (), "cannot include and exclude the same word"),
    ("body TEXT ''", (), "TEXT needs at least one word"),
    ("body TEXT ' - * '", (), "TEXT needs at least one word"),
    ("body TEXT 5", (), "TEXT needs a string of words"),
    ("body TEXT $0", (None,), "TEXT needs a string of words"),
    ("body TEXT title", (), "TEXT needs a string of words"),
    ("'x' TEXT body", (), "TEXT needs a string of words"),
]


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c[0])
def test_text_search_errors(docs: RawRealm, case: tuple[str, tuple[Any, ...], str]) -> None:
    query, args, message = case
    with pytest.raises(QueryError) as info:
        docs.query("Doc", query, *args)
    assert message in str(info.value)


def test_schema_accepts_full_text_on_strings_only() -> None:
    (cls,) = parse_schema(SCHEMA)
    body = cls.get("body")
    assert body is not None and body.fulltext and not body.indexed
    assert body.to_json()["indexed"] == "full-text"
    assert parse_schema([cls.to_json()])[0] == cls
    with pytest.raises(SchemaError, match="only a string property can be full-text indexed"):
        parse_schema([{"name": "T", "properties": {"n": {"type": "int", "indexed": "full-text"}}}])
    with pytest.raises(SchemaError, match="only a string property can be full-text indexed"):
        parse_schema([{"name": "T", "properties": {
            "s": {"type": "list", "objectType": "string", "indexed": "full-text"}}}])
    with pytest.raises(SchemaError, match="'indexed' must be true, false or \"full-text\""):
        parse_schema([{"name": "T", "properties": {"s": {"type": "string", "indexed": "fts"}}}])


def _titles(realm: Realm, query: str) -> list[str]:
    return sorted(obj["title"] for obj in realm.objects("Doc").filtered(query))


def test_the_store_keeps_the_index_on_create_update_and_delete(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "docs.realm", schema=SCHEMA[:1])
    with realm.write():
        first = realm.create("Doc", {"title": "a", "body": "red apple"})
        realm.create("Doc", {"title": "b", "body": "green apple"})
        realm.create("Doc", {"title": "c"})
    live = realm.objects("Doc").filtered("body TEXT 'apple'")
    assert _titles(realm, "body TEXT 'apple'") == ["a", "b"]
    assert len(live) == 2
    with realm.write():
        first["body"] = "red cherry"
    assert _titles(realm, "body TEXT 'apple'") == ["b"]
    assert _titles(realm, "body TEXT 'cherry'") == ["a"]
    assert len(live) == 1
    with realm.write():
        realm.delete(realm.objects("Doc").filtered("title == 'b'"))
    assert _titles(realm, "body TEXT 'apple'") == []
    assert _titles(realm, "body TEXT '-cherry'") == []
    realm.close()
    reopened = Realm.open(tmp_path / "docs.realm", schema=SCHEMA[:1])
    assert _titles(reopened, "body TEXT 'cher*'") == ["a"]
    reopened.close()


def test_migrations_add_and_remove_the_index(tmp_path: Path) -> None:
    path = tmp_path / "grow.realm"
    plain = [{"name": "Doc", "properties": {"title": "string", "body": "string?"}}]
    realm = Realm.open(path, schema=plain)
    with realm.write():
        realm.create("Doc", {"title": "a", "body": "hello world"})
        realm.create("Doc", {"title": "b", "body": "goodbye"})
    with pytest.raises(QueryError, match="full-text"):
        realm.objects("Doc").filtered("body TEXT 'hello'")
    realm.close()
    indexed = [{"name": "Doc", "properties": {
        "title": "string", "body": {"type": "string?", "indexed": "full-text"}}}]
    realm = Realm.open(path, schema=indexed)
    assert _titles(realm, "body TEXT 'world'") == ["a"]  # existing rows are indexed
    with realm.write():
        realm.create("Doc", {"title": "c", "body": "world peace"})
    assert _titles(realm, "body TEXT 'world'") == ["a", "c"]
    realm.close()
    realm = Realm.open(path, schema=plain)
    with pytest.raises(QueryError, match="full-text"):
        realm.objects("Doc").filtered("body TEXT 'world'")
    with realm.write():
        realm.create("Doc", {"title": "d", "body": "world"})  # no trigger left behind
    tables = {name for (name,) in realm_tables(path)}
    assert not any(name.startswith("fts:") for name in tables)
    realm.close()


def realm_tables(path: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')").fetchall()
    finally:
        conn.close()


# -- against a reference of Realm's tokenisation rules ----------------------------------------

_VOCABULARY = ["apple", "Apple", "APPLES", "äpple", "Äpfel", "pie", "pié", "p1e", "x2", "über",
               "uber", "a", "b"]
_SEPARATORS = [" ", ", ", "-", "'", "_", ". ", "  "]


def _reference_tokens(text: str) -> list[str]:
    return [_reference_fold(t) for t in re.findall(r"[^\W_]+", text)]


def _reference_fold(token: str) -> str:
    decomposed = unicodedata.normalize("NFD", token.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _reference_match(text: str | None, words: list[tuple[str, str]]) -> bool:
    """Realm: every included word occurs (a prefix word as a prefix of a token), no
    excluded word occurs; null never matches."""
    if text is None:
        return False
    tokens = _reference_tokens(text)
    for flag, word in words:
        folded = _reference_fold(word)
        if flag == "-":
            if folded in tokens:
                return False
        elif flag == "*":
            if not any(t.startswith(folded) for t in tokens):
                return False
        elif folded not in tokens:
            return False
    return True


texts = st.one_of(st.none(), st.lists(
    st.tuples(st.sampled_from(_VOCABULARY), st.sampled_from(_SEPARATORS)), max_size=5,
).map(lambda parts: "".join(w + s for w, s in parts)))
search_words = st.lists(
    st.tuples(st.sampled_from(["", "-", "*"]), st.sampled_from(_VOCABULARY)), min_size=1,
    max_size=3,
).filter(lambda ws: not (
    {_reference_fold(w) for f, w in ws if f == "-"}
    & {_reference_fold(w) for f, w in ws if f != "-"}
))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.lists(texts, max_size=6), updates=st.lists(
    st.tuples(st.integers(0, 5), texts), max_size=3), delete=st.integers(0, 6),
    words=search_words)
def test_text_search_matches_the_reference(initial: list[str | None],
                                           updates: list[tuple[int, str | None]],
                                           delete: int, words: list[tuple[str, str]]) -> None:
    db = RawRealm(SCHEMA)
    bodies: dict[int, str | None] = {}
    for i, body in enumerate(initial):
        bodies[db.add("Doc", str(i), title=str(i), body=body)._key] = body
    keys = list(bodies)
    for index, body in updates:  # the triggers follow updates and deletes
        if index < len(keys):
            db.conn.execute('UPDATE "class_Doc" SET body = ? WHERE "@key" = ?',
                            (body, keys[index]))
            bodies[keys[index]] = body
    if delete < len(keys):
        db.conn.execute('DELETE FROM "class_Doc" WHERE "@key" = ?', (keys[delete],))
        del bodies[keys[delete]]
    search = " ".join(("-" + w) if f == "-" else (w + "*") if f == "*" else w for f, w in words)
    plan = db.plan("Doc").filtered("body TEXT $0", [search])
    expected = [k for k, body in bodies.items() if _reference_match(body, words)]
    assert db.keys_of(plan) == expected, (search, bodies)


def test_a_replayed_declaration_keeps_the_local_full_text_index(tmp_path: Path) -> None:
    # Sync carries "indexed" as a bool only: the server's AddProperty for a property
    # this realm declares full-text must not drop the local index.
    realm = Realm.open(tmp_path / "synced.realm", schema=SCHEMA[:1])
    with realm.write():
        realm.create("Doc", {"title": "a", "body": "hello world"})
    with realm.write():
        apply_instructions(realm, [ins.AddProperty("Doc", "body", "string?", False)])
    assert _titles(realm, "body TEXT 'hello'") == ["a"]
    realm.close()
