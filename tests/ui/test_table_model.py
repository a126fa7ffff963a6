"""The table model over Results, collections and backlinks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QTableView

from studio.core import Realm
from studio.ui.sources import BacklinkSource, CollectionSource, ResultsSource, diff_rows
from studio.ui.table_model import KindRole, ObjectTableModel, ValueRole


def model_for(realm: Realm, class_name: str, **kwargs: Any) -> ObjectTableModel:
    return ObjectTableModel(ResultsSource(realm.objects(class_name), realm=realm), **kwargs)


def cell(model: ObjectTableModel, row: int, name: str, role: int = Qt.ItemDataRole.DisplayRole
         ) -> Any:
    return model.data(model.index(row, model.column_named(name)), role)


def test_modeltester_on_every_demo_class(demo_realm: Realm, qtmodeltester: Any) -> None:
    for schema in demo_realm.schema:
        model = model_for(demo_realm, schema.name)
        qtmodeltester.check(model)
        model.close()


def test_modeltester_on_collections_and_backlinks(demo_realm: Realm, qtmodeltester: Any) -> None:
    book = demo_realm.objects("Book")[0]
    member = demo_realm.objects("Member")[0]
    for owner, prop in ((book, "authors"), (book, "tags"), (book, "loansPerMonth"),
                        (book, "reviews"), (member, "readingMinutes"), (member, "wishlist")):
        source = CollectionSource(owner, owner.object_schema.get_property(prop), realm=demo_realm)
        qtmodeltester.check(ObjectTableModel(source))
    source = BacklinkSource(book, book.object_schema.get_property("loans"), realm=demo_realm)
    qtmodeltester.check(ObjectTableModel(source))


def test_rows_are_exposed_a_page_at_a_time(people_realm: Realm) -> None:
    model = model_for(people_realm, "Person", page_size=16)
    assert model.total_rows == 50
    assert model.rowCount() == 16
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 32
    model.expose_all()
    assert model.rowCount() == 50
    assert not model.canFetchMore()
    assert cell(model, 49, "name") == "person 49"


def test_row_cache_is_bounded(people_realm: Realm) -> None:
    model = model_for(people_realm, "Person", page_size=4, max_pages=3)
    model.expose_all()
    for row in range(50):
        assert cell(model, row, "id") == str(row)
    assert model.cached_rows <= 12


def test_display_of_every_type(people_realm: Realm) -> None:
    with people_realm.write():
        p = people_realm.object_for_primary_key("Person", 1)
        assert p is not None
        p["photo"] = b"x" * 2048
        p["money"] = __import__("decimal").Decimal("12.50")
    model = model_for(people_realm, "Person")
    assert cell(model, 1, "alive") == "false"
    assert cell(model, 1, "alive", Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert cell(model, 2, "alive", Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert cell(model, 1, "photo") == "2.0 KB data"
    assert cell(model, 1, "money") == "12.50"
    assert cell(model, 0, "age") == "null"
    assert cell(model, 1, "friends") == "2 items: 2, 3"
    assert cell(model, 1, "friends", KindRole) == "collection"
    assert cell(model, 1, "tags") == "1 item: red"
    assert cell(model, 1, "notes") == "1 item: a: first"
    assert cell(model, 1, "owners") == "1 Dog"
    assert cell(model, 1, "owners", KindRole) == "backlinks"
    assert cell(model, 1, "age", ValueRole) == 1
    assert "int?" in cell(model, 1, "age", Qt.ItemDataRole.ToolTipRole)
    dogs = model_for(people_realm, "Dog")
    assert cell(dogs, 0, "owner") == "Person 0"
    assert cell(dogs, 0, "owner", KindRole) == "link"


def test_local_edit_updates_one_row_without_reset(people_realm: Realm, qtbot: Any) -> None:
    model = model_for(people_realm, "Person")
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    index = model.index(5, model.column_named("name"))
    with qtbot.waitSignal(model.dataChanged) as blocker:
        assert model.setData(index, "renamed")
    assert blocker.args[0].row() == 5
    assert model.data(index) == "renamed"
    assert not resets


def test_check_state_toggles_bool(people_realm: Realm) -> None:
    model = model_for(people_realm, "Person")
    index = model.index(1, model.column_named("alive"))
    assert model.flags(index) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.setData(index, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert model.data(index, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked


def test_primary_key_and_backlinks_are_read_only(people_realm: Realm) -> None:
    model = model_for(people_realm, "Person")
    assert not model.is_editable(model.index(0, model.column_named("id")))
    assert not model.is_editable(model.index(0, model.column_named("owners")))
    assert not model.is_editable(model.index(0, model.column_named("friends")))
    assert model.is_editable(model.index(0, model.column_named("age")))
    assert model.is_editable(model.index(0, model.column_named("dog"))) is False  # no pk


def test_read_only_source_is_not_editable(people_path: Path) -> None:
    realm = Realm.open(people_path, read_only=True)
    model = ObjectTableModel(ResultsSource(realm.objects("Person"), realm=realm, read_only=True))
    for column in range(model.columnCount()):
        assert not model.is_editable(model.index(0, column))
    assert not model.setData(model.index(0, model.column_named("name")), "x")
    realm.close()


def test_inserts_and_deletes_map_to_row_signals(people_realm: Realm, qtbot: Any) -> None:
    model = model_for(people_realm, "Person")
    model.expose_all()
    events: list[tuple[str, int, int]] = []
    model.rowsInserted.connect(lambda _p, a, b: events.append(("ins", a, b)))
    model.rowsRemoved.connect(lambda _p, a, b: events.append(("del", a, b)))
    model.modelReset.connect(lambda: events.append(("reset", 0, 0)))
    with people_realm.write():
        people_realm.create("Person", {"id": 100, "name": "new", "alive": True})
        people_realm.delete(people_realm.object_for_primary_key("Person", 3))
    assert ("del", 3, 3) in events
    assert ("ins", 49, 49) in events
    assert all(e[0] != "reset" for e in events)
    assert model.rowCount() == 50
    assert cell(model, 49, "name") == "new"
    assert cell(model, 3, "name") == "person 04"


def test_insert_beyond_exposed_rows_only_grows_the_total(people_realm: Realm) -> None:
    model = model_for(people_realm, "Person", page_size=10)
    with people_realm.write():
        people_realm.create("Person", {"id": 100, "name": "new", "alive": True})
    assert model.rowCount() == 10
    assert model.total_rows == 51


def test_sort_cycles_and_keeps_columns(people_realm: Realm, qtbot: Any) -> None:
    model = model_for(people_realm, "Person")
    name = model.column_named("name")
    with qtbot.waitSignal(model.sortChanged):
        model.sort(name, Qt.SortOrder.DescendingOrder)
    assert cell(model, 0, "name") == "person 49"
    assert model.sort_state() == (name, Qt.SortOrder.DescendingOrder)
    model.sort(name, Qt.SortOrder.AscendingOrder)
    assert cell(model, 0, "name") == "person 00"
    model.clear_sort()
    assert model.sort_state() is None
    assert not model.can_sort(model.column_named("friends"))
    # a sorted view stays live: an edit that moves a row moves it
    model.sort(name, Qt.SortOrder.AscendingOrder)
    model.start_listening()
    with people_realm.write():
        people_realm.object_for_primary_key("Person", 0)["name"] = "zz last"
    model.expose_all()
    assert cell(model, 49, "name") == "zz last"


def test_list_view_follows_list_edits(people_realm: Realm) -> None:
    owner = people_realm.object_for_primary_key("Person", 1)
    source = CollectionSource(owner, owner.object_schema.get_property("friends"),
                              realm=people_realm)
    model = ObjectTableModel(source)
    assert model.rowCount() == 2
    assert cell(model, 0, "name") == "person 02"
    events: list[tuple[str, int]] = []
    model.rowsInserted.connect(lambda _p, a, _b: events.append(("ins", a)))
    model.rowsRemoved.connect(lambda _p, a, _b: events.append(("del", a)))
    with people_realm.write():
        owner["friends"].insert(0, people_realm.object_for_primary_key("Person", 9))
    assert events == [("ins", 0)]
    assert cell(model, 0, "name") == "person 09"
    with people_realm.write():
        owner["friends"].move(0, 2)
    assert cell(model, 2, "name") == "person 09"
    assert model.rowCount() == 3


def test_primitive_list_elements_are_editable(people_realm: Realm) -> None:
    owner = people_realm.object_for_primary_key("Person", 4)
    source = CollectionSource(owner, owner.object_schema.get_property("scores"),
                              realm=people_realm)
    model = ObjectTableModel(source)
    assert [model.data(model.index(r, 0)) for r in range(2)] == ["4", "5"]
    assert model.setData(model.index(1, 0), 42)
    assert list(owner["scores"]) == [4, 42]
    assert model.data(model.index(1, 0)) == "42"


def test_dictionary_view_has_key_and_value_columns(people_realm: Realm) -> None:
    owner = people_realm.object_for_primary_key("Person", 1)
    source = CollectionSource(owner, owner.object_schema.get_property("notes"),
                              realm=people_realm)
    model = ObjectTableModel(source)
    assert [c.name for c in model.columns] == ["key", "value"]
    assert model.data(model.index(0, 0)) == "a"
    assert model.setData(model.index(0, 0), "b")  # rename the key
    assert dict(owner["notes"]) == {"b": "first"}


def test_backlinks_follow_new_links(people_realm: Realm) -> None:
    owner = people_realm.object_for_primary_key("Person", 0)
    model = ObjectTableModel(BacklinkSource(owner, owner.object_schema.get_property("owners"),
                                            realm=people_realm))
    assert model.rowCount() == 1
    with people_realm.write():
        people_realm.create("Dog", {"name": "rex", "owner": owner})
    assert model.rowCount() == 2
    assert cell(model, 1, "name") == "rex"


def test_linked_object_change_repaints_without_reset(people_realm: Realm, qtbot: Any) -> None:
    model = model_for(people_realm, "Dog")
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    with qtbot.waitSignal(model.dataChanged), people_realm.write():
        people_realm.object_for_primary_key("Person", 0)["name"] = "renamed"
    assert not resets


def test_diff_rows() -> None:
    changes = diff_rows(["a", "b", "c"], ["a", "c", "d"])
    assert changes.deletions == (1,)
    assert changes.insertions == (2,)
    assert changes.modifications == (0, 1)


def test_first_rows_before_listening_then_live(people_realm: Realm, qtbot: Any) -> None:
    """set_source(subscribe='later') paints from a window read, then listens."""
    model = ObjectTableModel()
    model.set_source(ResultsSource(people_realm.objects("Person"), realm=people_realm),
                     subscribe="later")
    assert not model.listening
    assert cell(model, 0, "name") == "person 00"
    qtbot.waitUntil(lambda: model.listening)
    view = QTableView()
    view.setModel(model)
    with qtbot.waitSignal(model.rowsInserted), people_realm.write():
        people_realm.create("Person", {"id": 500, "name": "late", "alive": True})


def test_commit_from_another_process_while_scrolled(people_path: Path, qtbot: Any) -> None:
    """A live update from another process keeps the selection and the scroll position."""
    from studio.core.watcher import RealmWatcher

    realm = Realm.open(people_path)
    model = ObjectTableModel(ResultsSource(realm.objects("Person"), realm=realm))
    model.expose_all()
    view = QTableView()
    view.setModel(model)
    view.resize(400, 200)
    view.show()
    view.scrollTo(model.index(40, 0))
    view.selectRow(40)
    scroll = view.verticalScrollBar().value()
    assert scroll > 0
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    script = textwrap.dedent(f"""
        from studio.core import Realm
        with Realm.open({str(people_path)!r}) as realm, realm.write():
            realm.object_for_primary_key("Person", 45)["name"] = "from elsewhere"
    """)
    watcher = RealmWatcher(realm)
    subprocess.run([sys.executable, "-c", script], check=True)
    with qtbot.waitSignal(model.dataChanged, timeout=2000):
        qtbot.waitUntil(watcher.poll, timeout=2000)
    assert cell(model, 45, "name") == "from elsewhere"
    assert view.verticalScrollBar().value() == scroll
    assert view.selectionModel().isRowSelected(40, QModelIndex())
    assert not resets
    realm.close()


def test_large_sources_listen_after_the_first_paint(people_realm: Realm, qtbot: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.ui import table_model

    monkeypatch.setattr(table_model, "LISTEN_AT_ONCE", 10)
    model = model_for(people_realm, "Person")  # 50 rows: "large" here
    model.set_source(ResultsSource(people_realm.objects("Person"), realm=people_realm))
    assert not model.listening
    qtbot.waitUntil(lambda: model.listening)


@pytest.mark.parametrize("page_size", [1, 7])
def test_small_pages(people_realm: Realm, page_size: int) -> None:
    model = model_for(people_realm, "Person", page_size=page_size, max_pages=2)
    model.expose_all()
    assert [cell(model, r, "id") for r in range(50)] == [str(r) for r in range(50)]


def test_model_over_a_realm_core_file(qtmodeltester: Any) -> None:
    """The same model shows a genuine Realm Core file's objects (read-only, no listener)."""
    from studio.realmfile import RealmFile

    corpus = Path(__file__).resolve().parents[2].parent / "shared" / "realm-corpus"
    with RealmFile.open(corpus / "studio__asset_file_2024-03-26_154b6ff3.realm") as rf:
        for schema in rf.schema:
            model = ObjectTableModel(ResultsSource(rf.objects(schema.name)))
            qtmodeltester.check(model)
            assert model.total_rows == rf.count(schema.name)
            for column in range(model.columnCount()):
                assert not model.is_editable(model.index(0, column))
        owners = ObjectTableModel(ResultsSource(rf.objects("Owner")))
        texts = [owners.data(owners.index(r, c)) for r in range(owners.rowCount())
                 for c in range(owners.columnCount())]
        assert all(isinstance(t, str) and not t.startswith("⚠") for t in texts)
