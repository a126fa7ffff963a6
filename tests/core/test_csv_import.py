"""CSV import (studio.core.csv_import): typing, inference, batches, line numbers, round trips."""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core import ObjectId, Realm
from studio.core.csv_import import (
    BadValueError,
    CsvImportError,
    import_csv,
    import_csv_files,
    infer_column_type,
    infer_schema,
)
from studio.core.csv_values import ValueReader
from studio.core.export_files import csv_cell, export_realm

SCHEMA: list[dict[str, Any]] = [
    {"name": "Author", "primaryKey": "id", "properties": {"id": "int", "name": "string"}},
    {"name": "Note", "properties": {"text": "string"}},
    {"name": "Cover", "embedded": True, "properties": {"color": "string", "by": "Author?"}},
    {
        "name": "Book",
        "primaryKey": "isbn",
        "properties": {
            "isbn": "string",
            "title": "string",
            "pages": "int",
            "price": "decimal128?",
            "rating": "double?",
            "inPrint": "bool",
            "published": "date?",
            "blob": "data?",
            "oid": "objectId?",
            "uid": "uuid?",
            "extra": "mixed",
            "author": "Author?",
            "note": "Note?",
            "cover": "Cover?",
            "tags": "string<>",
            "authors": "Author[]",
            "counts": "int{}",
            "sequel": "Book?",
            "related": "Book<>",
        },
    },
]


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[Realm]:
    with Realm.open(tmp_path / "lib.realm", schema=SCHEMA, schema_version=1) as r:
        with r.write():
            r.create("Author", {"id": 1, "name": "Ann"})
            r.create("Author", {"id": 2, "name": "Bo"})
            r.create("Note", {"text": "keep"})
        yield r


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


BOOK_HEADER = "isbn,title,pages,inPrint\n"


# -- inference -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["1", "-2", "+30"], "int"),
        (["1", "2.5", "1e3"], "double"),
        (["007", "8"], "string"),  # leading zeros: an identifier, not a number
        (["true", "False", "TRUE"], "bool"),
        (["1", "0"], "int"),  # 1/0 are numbers unless the schema says bool
        (["2024-01-02", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.123+02:00"], "date"),
        (["2024-13-45"], "string"),
        (["1", "", "3"], "int?"),
        (["", " "], "string?"),
        (["x", ""], "string?"),
        (["nan", "inf"], "string"),  # words are never numbers in inference
        ([str(2**63), "1"], "double"),  # too big for int
        (["1", "true"], "string"),
    ],
)
def test_infer_column_type(cells: list[str], expected: str) -> None:
    assert infer_column_type(cells) == expected


def test_inference_reads_every_row(tmp_path: Path) -> None:
    rows = [str(i) for i in range(5000)] + ["five thousand"] + [str(i) for i in range(10)]
    path = write(tmp_path / "n.csv", "n,m\n" + "".join(f"{r},{i}\n" for i, r in enumerate(rows)))
    schema = infer_schema(path, "N")
    assert schema.get_property("n").type_string == "string"
    assert schema.get_property("m").type_string == "int"


def test_import_into_new_class_infers_types(realm: Realm, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv",
                 "name,age,height,member,joined,note\n"
                 "Ann,41,1.7,true,2020-01-02,\n"
                 "Bo,,1.8,false,2021-05-06T07:08:09Z,hi\n")
    result = import_csv(realm, "Person", path)
    assert result.created_class and result.rows == 2 and result.batches == 1
    types = {p.name: p.type_string for p in realm.object_schema("Person").properties}
    assert types == {"name": "string", "age": "int?", "height": "double", "member": "bool",
                     "joined": "date", "note": "string?"}
    people = list(realm.objects("Person"))
    assert people[0].to_dict() == {"name": "Ann", "age": 41, "height": 1.7, "member": True,
                                   "joined": datetime(2020, 1, 2, tzinfo=UTC), "note": None}
    assert people[1]["joined"] == datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert people[1]["age"] is None


def test_new_class_with_primary_key(realm: Realm, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "code,label\nx,1\ny,2\n")
    import_csv(realm, "Code", path, primary_key="code")
    assert realm.object_schema("Code").primary_key == "code"
    assert realm.object_for_primary_key("Code", "y")["label"] == 2  # type: ignore[index]
    with pytest.raises(CsvImportError, match="must be int or string"):
        import_csv(realm, "Other", write(tmp_path / "d.csv", "v\n1.5\n"), primary_key="v")


def test_new_class_with_ragged_row_creates_nothing(realm: Realm, tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "a,b\n1,2\n3\n")
    with pytest.raises(CsvImportError, match="line 3: the row has 1 cells, the header has 2"):
        import_csv(realm, "Ragged", path)
    assert "Ragged" not in {s.name for s in realm.schema}


# -- typed by the schema -------------------------------------------------------------------


def test_import_typed_by_schema(realm: Realm, tmp_path: Path) -> None:
    oid, uid = ObjectId("6001c033600510df3bbfd864"), uuid.UUID(int=5)
    note_key = realm.objects("Note")[0]._key
    header = ("isbn,title,pages,price,rating,inPrint,published,blob,oid,uid,extra,author,note,"
              "cover,tags,authors,counts\n")
    row = (f'b1,"A, B",12,9.99,nan,yes,2024-01-02T03:04:05.5Z,AAH/,{oid},{uid},"""7""",2,'
           f'{note_key},"{{""color"":""red"",""by"":1}}","[""x"",""y"",""x""]","[2,1]",'
           '"{""a"":1}"\n')
    row2 = "b2,,0,,,false,,,,,,,,,,,\n"
    import_csv(realm, "Book", write(tmp_path / "b.csv", header + row + row2))
    book = realm.object_for_primary_key("Book", "b1")
    assert book is not None
    assert book["title"] == "A, B"
    assert book["price"] == Decimal("9.99")
    assert math.isnan(book["rating"])
    assert book["inPrint"] is True
    assert book["published"] == datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    assert book["blob"] == b"\x00\x01\xff"
    assert book["oid"] == oid and book["uid"] == uid
    assert book["extra"] == "7"
    assert book["author"]["name"] == "Bo"
    assert book["note"]["text"] == "keep"
    assert book["cover"]["color"] == "red" and book["cover"]["by"]["id"] == 1
    assert sorted(book["tags"]) == ["x", "y"]
    assert [a["id"] for a in book["authors"]] == [2, 1]
    assert dict(book["counts"].items()) == {"a": 1}
    empty = realm.object_for_primary_key("Book", "b2")
    assert empty is not None
    assert empty["title"] == ""  # a required string's empty cell is ""
    assert empty["price"] is None and empty["author"] is None and len(empty["tags"]) == 0


def test_mixed_cells(realm: Realm, tmp_path: Path) -> None:
    cells = ["7", '"7"', "true", "plain words", '{"class":"Author","primaryKey":1}', "", "1.5"]
    text = BOOK_HEADER.strip() + ",extra\n" + "".join(
        f'm{i},t,1,false,"{c.replace(chr(34), chr(34) * 2)}"\n' for i, c in enumerate(cells))
    import_csv(realm, "Book", write(tmp_path / "m.csv", text))
    values = [realm.object_for_primary_key("Book", f"m{i}")["extra"]  # type: ignore[index]
              for i in range(len(cells))]
    assert values[:4] == [7, "7", True, "plain words"]
    assert values[4]["name"] == "Ann"
    assert values[5] is None
    assert values[6] == 1.5


def test_links_resolve_in_any_order_within_a_file(realm: Realm, tmp_path: Path) -> None:
    text = (BOOK_HEADER.strip() + ",sequel,related\n"
            'x1,One,1,true,x2,"[""x3"",""x1""]"\n'
            'x2,Two,1,true,x3,[]\n'
            'x3,Three,1,true,x1,"[""x2""]"\n')
    import_csv(realm, "Book", write(tmp_path / "s.csv", text), batch_size=1)
    one = realm.object_for_primary_key("Book", "x1")
    assert one is not None
    assert one["sequel"]["isbn"] == "x2"
    assert one["sequel"]["sequel"]["sequel"]["isbn"] == "x1"
    assert sorted(b["isbn"] for b in one["related"]) == ["x1", "x3"]


def test_files_imported_together_may_link_in_cycles(tmp_path: Path) -> None:
    schema = [
        {"name": "A", "primaryKey": "id", "properties": {"id": "int", "b": "B?"}},
        {"name": "B", "properties": {"name": "string", "a": "A?", "peer": "B?"}},
    ]
    a_csv = write(tmp_path / "A.csv", "id,b\n1,2\n2,1\n")
    b_csv = write(tmp_path / "B.csv", "_key,name,a,peer\n1,first,2,2\n2,second,1,1\n")
    with Realm.open(tmp_path / "c.realm", schema=schema, schema_version=1) as r:
        results = import_csv_files(r, [("A", a_csv), ("B", b_csv)])
        assert [res.rows for res in results] == [2, 2]
        first = r.objects("B")[0]
        assert first["name"] == "first"
        assert first["a"]["id"] == 2 and first["peer"]["name"] == "second"
        assert r.object_for_primary_key("A", 1)["b"]["name"] == "second"  # type: ignore[index]


def test_update_upserts(realm: Realm, tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,name\n1,Anna\n3,Cy\n")
    with pytest.raises(CsvImportError, match=r"line 2: .*already exists"):
        import_csv(realm, "Author", path)
    import_csv(realm, "Author", path, update=True)
    assert [(a["id"], a["name"]) for a in realm.objects("Author").sorted("id")] == [
        (1, "Anna"), (2, "Bo"), (3, "Cy")]


# -- errors, line numbers, batches ---------------------------------------------------------


def test_bad_row_rolls_back_its_batch_only(realm: Realm, tmp_path: Path) -> None:
    # Line numbers are lines of the file: the quoted cell of row 2 spans two lines.
    rows = ['b1,one,1,true', 'b2,"two\nlines",2,true', 'b3,three,3,true', 'b4,four,4,true',
            'b5,five,oops,true', 'b6,six,6,true']
    path = write(tmp_path / "bad.csv", BOOK_HEADER + "\n".join(rows) + "\n")
    with pytest.raises(CsvImportError) as info:
        import_csv(realm, "Book", path, batch_size=3)
    err = info.value
    assert err.line == 7
    assert err.committed_rows == 3
    message = str(err)
    assert message.startswith("line 7: pages: expected an integer, got 'oops'")
    assert "lines 6-7" in message and "rolled back" in message
    assert "the 3 rows of the batches before it stay committed" in message
    assert sorted(b["isbn"] for b in realm.objects("Book")) == ["b1", "b2", "b3"]
    assert realm.object_for_primary_key("Book", "b2")["title"] == "two\nlines"  # type: ignore[index]


def test_bad_row_in_first_batch_imports_nothing(realm: Realm, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", BOOK_HEADER + "b1,one,1,true\nb2,two,2,maybe\n")
    with pytest.raises(CsvImportError) as info:
        import_csv(realm, "Book", path)
    assert info.value.line == 3 and info.value.committed_rows == 0
    assert "inPrint: expected true or false" in str(info.value)
    assert "nothing was imported" in str(info.value)
    assert len(realm.objects("Book")) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("isbn,title,pages,inPrint,colour\n", "column 'colour' is not a property of Book"),
        ("isbn,title\n", "no column for the required properties of Book: pages, inPrint"),
        ("isbn,title,title\n", "column 'title' appears twice"),
        ("", "is empty"),
        (BOOK_HEADER + "b1,t,1\n", "line 2: the row has 3 cells, the header has 4"),
        (BOOK_HEADER + "b1,t,1,true,\n", "the row has 5 cells"),
        (BOOK_HEADER + "b1,t,1e3,true\n", "pages: expected an integer"),
        ("isbn,title,pages,inPrint,author\nb1,t,1,true,99\n", "author: there is no Author with"),
        ("isbn,title,pages,inPrint,tags\nb1,t,1,true,x\n", "tags: expected a set"),
        ("isbn,title,pages,inPrint,published\nb1,t,1,true,yesterday\n", "ISO 8601"),
        ("isbn,title,pages,inPrint,blob\nb1,t,1,true,%%%\n", "base64"),
        ("isbn,title,pages,inPrint,oid\nb1,t,1,true,xyz\n", "ObjectId"),
        ("isbn,title,pages,inPrint,price\nb1,t,1,true,1.2.3\n", "decimal"),
        ("isbn,title,pages,inPrint,cover\nb1,t,1,true,[1]\n", "embedded object"),
        ('isbn,title,pages,inPrint,extra\nb1,t,1,true,"[1]"\n', "mixed value cannot be"),
    ],
)
def test_bad_files_and_cells(realm: Realm, tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CsvImportError, match=message.replace("(", r"\(")):
        import_csv(realm, "Book", write(tmp_path / "x.csv", text))
    assert len(realm.objects("Book")) == 0


def test_not_utf8_names_its_line(realm: Realm, tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", BOOK_HEADER + "b1,ok,1,true\nb2,caf\xe9,2,true\n", "latin-1")
    with pytest.raises(CsvImportError, match="line 3: not UTF-8 text") as info:
        import_csv(realm, "Book", path, batch_size=1)
    assert info.value.committed_rows == 1
    assert "stay committed" in str(info.value)


def test_bare_carriage_return_is_a_csv_error(realm: Realm, tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", BOOK_HEADER + "b1,a,1,true\nb2,a\rb,1,true\n")
    with pytest.raises(CsvImportError, match="line 3: not valid CSV: a carriage return"):
        import_csv(realm, "Book", path)
    assert len(realm.objects("Book")) == 0


def test_cells_larger_than_the_csv_module_default(realm: Realm, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 800  # 200 KiB: base64 text above csv's 128 KiB default
    text = BOOK_HEADER.strip() + ",blob\n" + f"b1,t,1,true,{base64.b64encode(blob).decode()}\n"
    import_csv(realm, "Book", write(tmp_path / "big.csv", text))
    assert realm.object_for_primary_key("Book", "b1")["blob"] == blob  # type: ignore[index]


def test_byte_order_mark_and_crlf(realm: Realm, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + BOOK_HEADER.replace("\n", "\r\n").encode()
                     + b"b1,caf\xc3\xa9,1,TRUE\r\n\r\nb2,x,2,0\r\n")
    assert import_csv(realm, "Book", path).rows == 2
    assert realm.object_for_primary_key("Book", "b1")["title"] == "café"  # type: ignore[index]


def test_bad_link_fails_its_row_in_the_first_pass(realm: Realm, tmp_path: Path) -> None:
    """A link is checked with its row, so a row is never left without its links."""
    text = BOOK_HEADER.strip() + ",sequel\nb1,t,1,true,b2\nb2,t,1,true,nope\nb3,t,1,true,\n"
    with pytest.raises(CsvImportError) as info:
        import_csv(realm, "Book", write(tmp_path / "s.csv", text), batch_size=2)
    message = str(info.value)
    assert message.startswith("line 3: sequel: there is no Book with primary key 'nope'")
    assert "nothing was imported" in message
    assert len(realm.objects("Book")) == 0


def test_second_pass_failure_says_what_was_kept(
    realm: Realm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only a change by someone else between the passes fails the second pass; simulate one.
    original = ValueReader.cell

    def flaky(self: ValueReader, prop: Any, text: str) -> Any:
        if not self.checking and text == "b1":
            raise BadValueError("gone meanwhile")
        return original(self, prop, text)

    monkeypatch.setattr(ValueReader, "cell", flaky)
    text = BOOK_HEADER.strip() + ",sequel\nb1,t,1,true,b2\nb2,t,1,true,b1\n"
    with pytest.raises(CsvImportError) as info:
        import_csv(realm, "Book", write(tmp_path / "s.csv", text), batch_size=1)
    message = str(info.value)
    assert message.startswith("line 3: sequel: gone meanwhile")
    assert "all 2 rows were imported" in message and "from line 3 of s.csv on" in message
    assert realm.object_for_primary_key("Book", "b1")["sequel"]["isbn"] == "b2"  # type: ignore[index]
    assert realm.object_for_primary_key("Book", "b2")["sequel"] is None  # type: ignore[index]


def test_key_column_maps_to_new_object_keys(realm: Realm, tmp_path: Path) -> None:
    """A keyless class's exported _key values are not the new realm's keys; links follow."""
    notes = write(tmp_path / "Note.csv", "_key,text\n50,fifty\n60,sixty\n")
    books = write(tmp_path / "Book.csv", BOOK_HEADER.strip() + ",note\nb1,t,1,true,60\n")
    import_csv_files(realm, [("Book", books), ("Note", notes)])
    book = realm.object_for_primary_key("Book", "b1")
    assert book is not None and book["note"]["text"] == "sixty"
    with pytest.raises(CsvImportError, match="there is no Note with _key 70"):
        import_csv_files(realm, [
            ("Book", write(tmp_path / "B2.csv", BOOK_HEADER.strip() + ",note\nb2,t,1,true,70\n")),
            ("Note", write(tmp_path / "N2.csv", "_key,text\n1,one\n")),
        ])


def test_embedded_class_and_wrong_primary_key(realm: Realm, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "color\nred\n")
    with pytest.raises(CsvImportError, match="embedded class"):
        import_csv(realm, "Cover", path)
    with pytest.raises(CsvImportError, match="only applies to a new class"):
        import_csv(realm, "Author", write(tmp_path / "a.csv", "id,name\n5,E\n"), primary_key="name")
    with pytest.raises(CsvImportError, match="no such file"):
        import_csv(realm, "Author", tmp_path / "missing.csv")
    with pytest.raises(CsvImportError, match="batch size"):
        import_csv(realm, "Author", path, batch_size=0)


def test_new_class_failing_later_keeps_class_and_earlier_batches(tmp_path: Path) -> None:
    path = write(tmp_path / "k.csv", "k,v\n1,a\n2,b\n1,c\n")
    with Realm.open(tmp_path / "k.realm") as r:
        with pytest.raises(CsvImportError) as info:
            import_csv(r, "K", path, primary_key="k", batch_size=2)
        assert info.value.line == 4 and info.value.committed_rows == 2
        assert len(r.objects("K")) == 2


def test_progress_reports_bytes(realm: Realm, tmp_path: Path) -> None:
    rows = "".join(f"b{i},t,{i},true\n" for i in range(25))
    path = write(tmp_path / "p.csv", BOOK_HEADER + rows)
    calls: list[tuple[int, int, int]] = []
    import_csv(realm, "Book", path, batch_size=10, progress=lambda *a: calls.append(a))
    size = path.stat().st_size
    assert [c[0] for c in calls] == [10, 20, 25, 25]
    assert all(c[2] == size for c in calls)
    assert calls[-1][1] == size
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)


# -- round trips ---------------------------------------------------------------------------


def test_csv_round_trip_of_every_type(tmp_path: Path) -> None:
    """export csv -> import into a fresh realm -> the same objects (compared as JSON export)."""
    from studio.demo import build_demo_realm, load_demo_schema

    source = tmp_path / "demo.realm"
    build_demo_realm(source)
    schema, version = load_demo_schema()
    with Realm.open(source, read_only=True) as r:
        csv_files = export_realm(r, tmp_path / "csv", "csv")
        export_realm(r, tmp_path / "json1", "json")
    with Realm.open(tmp_path / "fresh.realm", schema=schema, schema_version=version) as fresh:
        # Reverse order on purpose: links point at files that come later.
        import_csv_files(fresh, [(f.stem, f) for f in reversed(csv_files)], batch_size=50)
        export_realm(fresh, tmp_path / "json2", "json")
        export_realm(fresh, tmp_path / "csv2", "csv")
    for name in ("Author", "Book", "Loan", "Member", "Shelf"):
        assert (tmp_path / "json1" / f"{name}.json").read_bytes() == (
            tmp_path / "json2" / f"{name}.json").read_bytes(), name
        assert (tmp_path / "csv" / f"{name}.csv").read_bytes() == (
            tmp_path / "csv2" / f"{name}.csv").read_bytes(), name


_SCALARS = {
    "bool": st.booleans(),
    "int": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "double": st.floats(allow_nan=False),
    "string": st.text(),
    "data": st.binary(max_size=40),
    "date": st.datetimes(timezones=st.just(UTC)),
    "objectId": st.binary(min_size=12, max_size=12).map(ObjectId),
    "uuid": st.uuids(),
    "decimal128": st.decimals(allow_nan=False, allow_infinity=False, places=4),
    "mixed": st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text()),
}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_cell_text_round_trips(realm: Realm, data: st.DataObject) -> None:
    """Every value's CSV cell reads back as the same value (strings: required, so "" stays "")."""
    from studio.core.schema import parse_property

    reader = ValueReader(realm)
    for type_name, strategy in _SCALARS.items():
        value = data.draw(strategy, label=type_name)
        for suffix in ("", "[]", "{}"):
            spec = type_name + suffix
            prop = parse_property("p", spec)
            original: Any = value if not suffix else ([value] if suffix == "[]" else {"k": value})
            text = csv_cell(prop, original)
            assert reader.cell(prop, text) == original, (spec, text)
            json.dumps(text)  # always text
