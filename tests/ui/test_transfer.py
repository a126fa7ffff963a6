"""Export to JSON/CSV, CSV import with a cancellable progress dialog, schema additions,
model definitions."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path
from typing import Any

from studio.core import Realm, parse_schema
from studio.ui import codegen
from studio.ui.navigation import ViewSpec


def test_export_query_result_as_json_and_csv(demo_path: Path, open_browser: Any,
                                             tmp_path: Path) -> None:
    browser = open_browser(demo_path)
    browser.navigate(ViewSpec("class", "Book", query="pages > 500"))
    expected = len(browser.realm.objects("Book").filtered("pages > 500"))
    out = tmp_path / "books.json"
    assert browser.export_to(str(out), "json") == expected
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert len(rows) == expected and all(r["pages"] > 500 for r in rows)
    assert isinstance(rows[0]["authors"], list) and isinstance(rows[0]["price"], str)
    out_csv = tmp_path / "books.csv"
    assert browser.export_to(str(out_csv), "csv") == expected
    with out_csv.open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0][:3] == ["isbn", "title", "authors"]
    assert len(table) == expected + 1


def test_export_of_a_collection(people_path: Path, open_browser: Any, tmp_path: Path) -> None:
    browser = open_browser(people_path)
    owner = browser.realm.object_for_primary_key("Person", 1)
    browser.navigate(ViewSpec("collection", "Person", owner_key=owner._key, prop="scores"))
    out = tmp_path / "scores.json"
    assert browser.export_to(str(out), "json") == 2
    assert json.loads(out.read_text()) == [1, 2]


def test_cancelled_export_writes_nothing(demo_path: Path, open_browser: Any,
                                         tmp_path: Path) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Loan")
    out = tmp_path / "loans.json"
    assert browser.export_to(str(out), "json", cancel_after=1) is None
    assert not out.exists() and not (tmp_path / "loans.json.part").exists()
    assert "cancelled" in browser.message_bar.text


def test_import_csv_into_new_class_and_round_trip(demo_path: Path, open_browser: Any,
                                                  tmp_path: Path) -> None:
    source = tmp_path / "Visitor.csv"
    source.write_text("name,age,member\nAda,36,true\nBen,41,false\n", encoding="utf-8")
    browser = open_browser(demo_path)
    assert browser.import_csv_file(str(source)) == 2
    assert browser.current_spec == ViewSpec("class", "Visitor")
    assert browser.class_list.count_text("Visitor") == "2"
    assert browser.model.data(browser.model.index(1, browser.model.column_named("age"))) == "41"
    # export, then import back into the same class
    out = tmp_path / "again.csv"
    browser.export_to(str(out), "csv")
    assert browser.import_csv_file(str(out), "Visitor") == 2
    assert len(browser.realm.objects("Visitor")) == 4


def test_import_errors_are_messages(demo_path: Path, open_browser: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("isbn,title\n1,x\n", encoding="utf-8")
    browser = open_browser(demo_path)
    assert browser.import_csv_file(str(bad), "Book") is None
    assert browser.message_bar.level == "error"
    assert "required" in browser.message_bar.text


def test_cancelled_import_keeps_earlier_batches(demo_path: Path, open_browser: Any,
                                                tmp_path: Path) -> None:
    big = tmp_path / "Big.csv"
    big.write_text("n\n" + "".join(f"{i}\n" for i in range(5000)), encoding="utf-8")
    browser = open_browser(demo_path)
    assert browser.import_csv_file(str(big), cancel_after=1) is None
    kept = len(browser.realm.objects("Big"))
    assert 0 < kept < 5000  # the first batch committed before Cancel was seen
    assert f"{kept:,} rows were imported before" in browser.message_bar.text


def test_add_class_and_property_dialogs(people_path: Path, open_browser: Any) -> None:
    browser = open_browser(people_path)
    dialog = browser.show_add_class()
    dialog.name.setText("Cat")
    dialog.pk_type.setCurrentText("string")
    dialog.pk_name.setText("name")
    dialog.try_accept()
    assert not dialog.isVisible()
    assert browser.current_spec == ViewSpec("class", "Cat")
    assert "Cat" in browser.class_list.names()
    dialog = browser.show_add_property()
    dialog.name.setText("lives")
    dialog.type.setCurrentText("int")
    dialog.try_accept()
    assert browser.model.column_named("lives") >= 0
    dialog = browser.show_add_property()
    dialog.name.setText("friends")
    dialog.type.setCurrentText("link to object")
    dialog.target.setCurrentText("Person")
    dialog.collection.setCurrentText("list")
    dialog.try_accept()
    assert dialog.error.isHidden(), dialog.error.text()
    schema = browser.schema_of("Cat")
    assert schema.get_property("friends").type_string == "Person[]"
    dialog = browser.show_add_property()
    dialog.name.setText("lives")
    dialog.try_accept()
    assert "already has" in dialog.error.text()
    dialog.reject()
    dialog = browser.show_add_class()
    dialog.name.setText("Cat")
    dialog.try_accept()
    assert "exists already" in dialog.error.text()
    dialog.reject()
    browser.close()
    with Realm.open(people_path) as realm:  # the additions are in the file
        assert realm.object_schema("Cat").get_property("lives").type_string == "int?"


def test_export_models(demo_path: Path, open_browser: Any, tmp_path: Path) -> None:
    browser = open_browser(demo_path)
    for language, extension in codegen.EXTENSIONS.items():
        out = tmp_path / f"models.{extension}"
        assert browser.export_models(str(out), language)
        assert "Book" in out.read_text(encoding="utf-8")


def test_codegen_per_language(demo_realm: Realm) -> None:
    schema = demo_realm.schema
    python = codegen.generate(schema, "python")
    tree = ast.parse(python)  # valid Python
    namespace: dict[str, Any] = {"__name__": "generated_models"}
    exec(compile(tree, "models.py", "exec"), namespace)
    assert parse_schema(namespace["SCHEMA"]) == schema  # the same schema, exactly
    reopened = Realm.open(demo_realm.path + ".copy", schema=namespace["SCHEMA"])
    assert [s.name for s in reopened.schema] == [s.name for s in schema]
    reopened.close()
    swift = codegen.generate(schema, "swift")
    assert "class Book: Object {" in swift
    assert "class Edition: EmbeddedObject {" in swift
    assert "@Persisted(primaryKey: true) var isbn: String" in swift
    assert '@Persisted(originProperty: "authors") var books: LinkingObjects<Book>' in swift
    assert "@Persisted var tags: MutableSet<String>" in swift
    assert "@Persisted var loansPerMonth: Map<String, Int>" in swift
    kotlin = codegen.generate(schema, "kotlin")
    assert "class Book : RealmObject {" in kotlin
    assert "var authors: RealmList<Author> = realmListOf()" in kotlin
    assert "val loans: RealmResults<Loan> by backlinks(Loan::book)" in kotlin
    assert "var rating: Double? = null" in kotlin
    javascript = codegen.generate(schema, "javascript")
    assert "export class Book extends Realm.Object {" in javascript
    assert '"primaryKey": "isbn"' in javascript
    typescript = codegen.generate(schema, "typescript")
    assert "authors!: Realm.List<Author>;" in typescript
    assert "rating?: number | null;" in typescript
    assert "static schema: Realm.ObjectSchema" in typescript


def test_python_models_round_trip_every_kind_of_property(tmp_path: Path) -> None:
    schema = parse_schema([
        {"name": "Model", "primaryKey": "id", "properties": {  # a name the module uses
            "id": "int", "f": "float", "d": "double?", "s": {"type": "string", "indexed": True},
            "b": "bool", "data": "data?", "when": "date?", "oid": "objectId?", "u": "uuid",
            "dec": "decimal128", "m": "mixed", "fl": "float?[]", "ss": "string<>",
            "dd": "double{}", "link": "Model?", "links": "Model[]", "home": "Home?",
            "back": {"type": "linkingObjects", "objectType": "Model", "property": "links"},
        }},
        {"name": "Home", "embedded": True, "properties": {"street": "string"}},
    ])  # fmt: skip
    python = codegen.generate(schema, "python")
    assert "class Model_(Model):" in python and "__realm_name__ = 'Model'" in python
    namespace: dict[str, Any] = {"__name__": "generated_models_2"}
    exec(compile(python, "models.py", "exec"), namespace)
    assert parse_schema(namespace["SCHEMA"]) == schema
    odd = parse_schema([{"name": "X", "properties": {"two words": "int"}}])
    assert "SCHEMA: list[dict[str, Any]]" in codegen.generate(odd, "python")  # JSON form
