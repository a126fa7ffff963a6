"""Plain JSON / CSV export (studio.core.export_files): value renderings, shape, determinism."""

from __future__ import annotations

import csv
import io
import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from studio.core import ObjectId, Realm
from studio.core.export_files import (
    ExportError,
    csv_cell,
    export_object,
    export_realm,
    export_scalar,
    file_name,
    format_date,
    write_csv,
    write_json,
)

SCHEMA: list[dict[str, Any]] = [
    {"name": "Target", "primaryKey": "code", "properties": {"code": "string", "n": "int"}},
    {"name": "Loose", "properties": {"label": "string", "next": "Loose?"}},
    {
        "name": "Emb",
        "embedded": True,
        "properties": {"x": "int", "target": "Target?", "inner": "Emb?"},
    },
    {
        "name": "Thing",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "b": "bool",
            "i": "int?",
            "f": "float",
            "d": "double?",
            "s": "string",
            "os": "string?",
            "data": "data?",
            "date": "date?",
            "oid": "objectId?",
            "u": "uuid?",
            "dec": "decimal128?",
            "m": "mixed",
            "link": "Target?",
            "loose": "Loose?",
            "emb": "Emb?",
            "embs": "Emb[]",
            "ints": "int[]",
            "oints": "int?[]",
            "tags": "string<>",
            "targets": "Target<>",
            "scores": "double{}",
            "tmap": "Target{}",
            "mixes": "mixed{}",
            "parent": "Thing?",
            "children": {"type": "linkingObjects", "objectType": "Thing", "property": "parent"},
        },
    },
]

OID = ObjectId("6001c033600510df3bbfd864")
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime(2024, 2, 29, 13, 45, 7, 250000, tzinfo=UTC)


def fill(realm: Realm, reverse: bool = False) -> None:
    """The same objects; ``reverse`` creates them in the opposite order (other object keys)."""
    codes = ["a", "b", "c"]
    with realm.write():
        for code in reversed(codes) if reverse else codes:
            realm.create("Target", {"code": code, "n": ord(code)})
        loose = [realm.create("Loose", {"label": "first"}), realm.create("Loose", {"label": "2nd"})]
        loose[0]["next"] = loose[1]
        t = {c: realm.object_for_primary_key("Target", c) for c in codes}
        rows = [
            {
                "id": 1, "b": True, "i": None, "f": 1.5, "d": math.nan, "s": "héllo, \"world\"\n",
                "os": None, "data": b"\x00\x01\xff", "date": WHEN, "oid": OID, "u": UID,
                "dec": Decimal("12.3400"), "m": t["b"], "link": t["a"], "loose": loose[1],
                "emb": {"x": 1, "target": t["c"], "inner": {"x": 2}},
                "embs": [{"x": 3}, {"x": 4, "target": t["a"]}],
                "ints": [3, 1, 2], "oints": [None, 5], "tags": ["z", "a"],
                "targets": [t["c"], t["a"]] if reverse else [t["a"], t["c"]],
                "scores": {"y": 2.0, "x": -math.inf}, "tmap": {"k": t["b"]},
                "mixes": {"when": WHEN, "n": 7, "s": "7", "none": None},
            },
            {
                "id": 2, "b": False, "f": -0.0, "s": "", "d": 1e300, "m": Decimal("1.5"),
                "date": datetime(1, 1, 1, tzinfo=UTC),
            },
            {"id": 3, "b": False, "f": 0.1, "s": "x", "m": None},
        ]
        made = [realm.create("Thing", row) for row in (reversed(rows) if reverse else rows)]
        by_id = {obj["id"]: obj for obj in made}
        by_id[2]["parent"] = by_id[1]
        by_id[3]["parent"] = by_id[1]


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[Realm]:
    with Realm.open(tmp_path / "x.realm", schema=SCHEMA, schema_version=1) as r:
        fill(r)
        yield r


# -- single values -------------------------------------------------------------------------


def test_format_date_is_utc_with_z() -> None:
    assert format_date(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert format_date(datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)) == (
        "2024-01-02T03:04:05.120Z"
    )
    micro = datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=UTC)
    assert format_date(micro) == "2024-01-02T03:04:05.000007Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_date(datetime(2024, 1, 2, 1, 0, tzinfo=plus_two)) == "2024-01-01T23:00:00Z"
    assert format_date(datetime(2024, 1, 2)) == "2024-01-02T00:00:00Z"  # naive = UTC
    assert format_date(datetime(33, 1, 2, tzinfo=UTC)) == "0033-01-02T00:00:00Z"


def test_export_scalar_renderings() -> None:
    assert export_scalar(b"\x00\x01\xff") == "AAH/"
    assert export_scalar(OID) == "6001c033600510df3bbfd864"
    assert export_scalar(UID) == "12345678-1234-5678-1234-567812345678"
    assert export_scalar(Decimal("1.50")) == "1.50"
    assert export_scalar(math.nan) == "NaN"
    assert export_scalar(math.inf) == "Infinity"
    assert export_scalar(-math.inf) == "-Infinity"
    assert export_scalar(2.5) == 2.5
    assert export_scalar(True) is True
    assert export_scalar(None) is None
    with pytest.raises(ExportError):
        export_scalar(object())


def test_file_name_replaces_separators() -> None:
    assert file_name("Person", "json") == "Person.json"
    assert file_name("a/b\\c", "csv") == "a_b_c.csv"


# -- objects and files ---------------------------------------------------------------------


def test_export_object_plain_values(realm: Realm) -> None:
    thing = export_object(realm.object_for_primary_key("Thing", 1))  # type: ignore[arg-type]
    assert list(thing) == [p.name for p in realm.object_schema("Thing").properties
                           if p.name != "children"]  # schema order, no backlinks
    assert thing["date"] == "2024-02-29T13:45:07.250Z"
    assert thing["data"] == "AAH/"
    assert thing["d"] == "NaN"
    assert thing["dec"] == "12.3400"
    assert thing["link"] == "a"  # a link is the target's primary key
    assert thing["m"] == {"class": "Target", "primaryKey": "b"}  # a mixed link names its class
    loose_key = realm.objects("Loose")[1]._key
    assert thing["loose"] == loose_key  # no primary key: the object key
    assert thing["emb"] == {"x": 1, "target": "c", "inner": {"x": 2, "target": None, "inner": None}}
    assert thing["embs"][1] == {"x": 4, "target": "a", "inner": None}
    assert thing["ints"] == [3, 1, 2]
    assert thing["oints"] == [None, 5]
    assert thing["tags"] == ["a", "z"]
    assert thing["targets"] == ["a", "c"]
    assert thing["scores"] == {"x": "-Infinity", "y": 2.0}
    assert thing["tmap"] == {"k": "b"}
    assert thing["mixes"] == {"n": 7, "none": None, "s": "7", "when": "2024-02-29T13:45:07.250Z"}
    loose = export_object(realm.objects("Loose")[0])
    assert list(loose) == ["_key", "label", "next"]
    assert loose["next"] == loose_key


def test_export_realm_json_files(realm: Realm, tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = export_realm(realm, out, "json")
    # One file per top-level class, none for the embedded class, sorted by class name.
    assert [f.name for f in files] == ["Loose.json", "Target.json", "Thing.json"]
    things = json.loads((out / "Thing.json").read_text(encoding="utf-8"))
    assert [t["id"] for t in things] == [1, 2, 3]
    assert things[1]["parent"] == 1
    assert things[1]["date"] == "0001-01-01T00:00:00Z"
    assert things[1]["f"] == -0.0 and things[1]["d"] == 1e300
    targets = json.loads((out / "Target.json").read_text(encoding="utf-8"))
    assert targets == [{"code": "a", "n": 97}, {"code": "b", "n": 98}, {"code": "c", "n": 99}]
    text = (out / "Thing.json").read_text(encoding="utf-8")
    assert "héllo" in text  # UTF-8, not \u escapes
    assert text.startswith("[\n{") and text.endswith("}\n]\n")
    assert not list(out.glob("*.part"))


def test_export_is_deterministic_across_realms(tmp_path: Path) -> None:
    """The same objects created in another order (other object keys) export identically,
    and exporting twice gives byte-identical files."""
    outputs = []
    for index, reverse in enumerate((False, True, False)):
        with Realm.open(tmp_path / f"r{index}.realm", schema=SCHEMA, schema_version=1) as r:
            fill(r, reverse=reverse)
            for fmt in ("json", "csv"):
                export_realm(r, tmp_path / f"out{index}" / fmt, fmt)
        outputs.append({
            str(p.relative_to(tmp_path / f"out{index}")): p.read_bytes()
            for p in sorted((tmp_path / f"out{index}").rglob("*.*"))
        })
    assert len(outputs[0]) == 6
    # Loose has no primary key: it exports object keys, which differ with the order.
    for name in outputs[0]:
        if "Loose" not in name:
            assert outputs[0][name] == outputs[1][name], name
        assert outputs[0][name] == outputs[2][name], name


def test_export_realm_csv(realm: Realm, tmp_path: Path) -> None:
    export_realm(realm, tmp_path, "csv")
    with (tmp_path / "Thing.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, first, second = rows[0], dict(zip(rows[0], rows[1], strict=True)), rows[2]
    assert header[0] == "id" and "children" not in header
    assert first["b"] == "true"
    assert first["i"] == ""  # null is an empty cell
    assert first["f"] == "1.5"
    assert first["d"] == "nan"
    assert first["s"] == "héllo, \"world\"\n"  # quoted by the csv module, read back intact
    assert first["date"] == "2024-02-29T13:45:07.250Z"
    assert first["link"] == "a"
    assert first["m"] == '{"class":"Target","primaryKey":"b"}'
    assert json.loads(first["emb"]) == {
        "x": 1, "target": "c", "inner": {"x": 2, "target": None, "inner": None}
    }
    assert json.loads(first["tags"]) == ["a", "z"]
    assert json.loads(first["scores"]) == {"x": "-Infinity", "y": 2.0}
    assert second[header.index("m")] == '"1.5"'  # mixed is JSON text: a decimal's string
    with (tmp_path / "Loose.csv").open(encoding="utf-8", newline="") as fh:
        loose = list(csv.reader(fh))
    assert loose[0] == ["_key", "label", "next"]


def test_csv_cell_mixed_keeps_types_apart(realm: Realm) -> None:
    prop = realm.object_schema("Thing").get_property("m")
    assert csv_cell(prop, 7) == "7"
    assert csv_cell(prop, "7") == '"7"'
    assert csv_cell(prop, True) == "true"
    assert csv_cell(prop, None) == ""


def test_write_json_and_csv_of_chosen_objects(realm: Realm) -> None:
    """The Studio exports a query's result: any iterable of objects, in its order."""
    chosen = list(realm.objects("Target").sorted("code", reverse=True))[:2]
    seen: list[tuple[str, int, int]] = []
    out = io.StringIO()
    count = write_json(chosen, out, class_name="Target", total=2,
                       progress=lambda *a: seen.append(a))
    assert count == 2
    assert json.loads(out.getvalue()) == [{"code": "c", "n": 99}, {"code": "b", "n": 98}]
    assert seen[-1] == ("Target", 2, 2)
    out = io.StringIO()
    write_csv(chosen, realm.object_schema("Target"), out)
    assert out.getvalue() == "code,n\nc,99\nb,98\n"
    out = io.StringIO()
    write_json([], out)
    assert out.getvalue() == "[]\n"


def test_export_errors(realm: Realm, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format"):
        export_realm(realm, tmp_path, "xml")
    with pytest.raises(ExportError, match="no class 'Nope'"):
        export_realm(realm, tmp_path, "json", classes=["Nope"])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="not a directory"):
        export_realm(realm, blocker, "json")


def test_export_selected_classes_and_empty_class(tmp_path: Path) -> None:
    with Realm.open(tmp_path / "e.realm", schema=SCHEMA, schema_version=1) as r:
        files = export_realm(r, tmp_path / "o", "json", classes=["Target"])
        assert [f.name for f in files] == ["Target.json"]
        assert files[0].read_text() == "[]\n"
        files = export_realm(r, tmp_path / "o", "csv", classes=["Target"])
        assert files[0].read_text() == "code,n\n"


class _Plain:
    """An object that is not a studio realm's: only what ExportObject asks for."""

    def __init__(self, schema: Any, key: int, values: dict[str, Any]) -> None:
        self.object_schema = schema
        self._key = key
        self.values = values

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def test_any_object_of_the_protocol_exports_like_a_realm_object(realm: Realm) -> None:
    from studio.core.schema import parse_schema

    (loose,) = parse_schema([{"name": "Loose", "properties": {
        "label": "string", "next": "Loose?", "m": "mixed", "tags": "mixed{}"}}])
    target = _Plain(loose, 7, {"label": "t", "next": None, "m": None, "tags": {}})
    # A Realm Core file (format 24) nests lists and dictionaries in mixed values.
    nested = {"b": [1, "x", target], "a": {"when": datetime(2024, 1, 2, tzinfo=UTC)}}
    obj = _Plain(loose, 3, {"label": "s", "next": target, "m": nested,
                            "tags": {"z": 1.5, "y": [True, None]}})
    assert export_object(obj) == {
        "_key": 3,
        "label": "s",
        "next": 7,
        "m": {"b": [1, "x", {"class": "Loose", "_key": 7}],
              "a": {"when": "2024-01-02T00:00:00Z"}},
        "tags": {"y": [True, None], "z": 1.5},
    }
    out = io.StringIO()
    assert write_csv([obj, target], loose, out) == 2
    assert out.getvalue().splitlines() == [
        "_key,label,next,m,tags",
        '3,s,7,"{""b"":[1,""x"",{""class"":""Loose"",""_key"":7}],'
        '""a"":{""when"":""2024-01-02T00:00:00Z""}}","{""y"":[true,null],""z"":1.5}"',
        "7,t,,,{}",
    ]
    # The studio realm's objects go through the same path and read the same.
    with realm.write():
        made = realm.create("Loose", {"label": "s"})
    assert export_object(made) == {"_key": made._key, "label": "s", "next": None}
