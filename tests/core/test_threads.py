"""A realm belongs to the thread that opened it."""

from __future__ import annotations

import threading
from pathlib import Path

from studio.core import Realm, RealmError, WrongThreadError

SCHEMA = [{"name": "Item", "primaryKey": "_id", "properties": {"_id": "int", "name": "string"}}]


def on_thread(fn: object) -> BaseException | None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    return errors[0] if errors else None


def test_using_a_realm_from_another_thread_is_a_clear_realm_error(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "a.realm", schema=SCHEMA)
    with realm.write():
        item = realm.create("Item", {"_id": 1, "name": "x"})
    for use in (
        lambda: len(realm.objects("Item")),
        lambda: realm.write().__enter__(),
        lambda: item.name,
    ):
        error = on_thread(use)
        assert isinstance(error, WrongThreadError) and isinstance(error, RealmError)
        assert "opened on another thread" in str(error) and "Realm.open" in str(error)
    # The owning thread is unaffected, and another thread may open its own.
    assert realm.objects("Item")[0].name == "x"
    assert on_thread(lambda: Realm.open(tmp_path / "a.realm").close()) is None
    realm.close()
