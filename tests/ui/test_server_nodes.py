"""The Nodes tab of the server window: the server processes serving the store.
Two real server processes share one PostgreSQL store; the window is logged in to
the second and lists both, marking the one it is connected to. A server on its
own (SQLite) lists itself alone."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage

from studio.ui.demo import ServerProcess
from studio.ui.server import ServerWindow
from studio.ui.server.link import LinkState

pytest_plugins = ("test_server_support",)

# The tests' PostgreSQL (tests/server/pg_support.py), whichever directory runs first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from pg_support import PostgresForTests, postgres  # noqa: E402, F401 (the fixture)
from test_server_support import (  # noqa: E402
    ADMIN_PASSWORD,
    log_in,
    make_window,
    wait,
)


@pytest.fixture
def two_processes(postgres: PostgresForTests, tmp_path: Path) -> Iterator[list[ServerProcess]]:  # noqa: F811
    store = postgres.dsn(postgres.new_database())
    started: list[ServerProcess] = []
    try:
        for n in range(2):
            proc = ServerProcess(tmp_path / f"node{n}", ADMIN_PASSWORD, "--store", store,
                                 "--scrypt-n", "1024")
            proc.start()
            started.append(proc)
        yield started
    finally:
        for proc in started:
            proc.stop()


def test_nodes_tab_lists_every_process_of_the_store(
        qtbot: Any, qloop: Any, two_processes: list[ServerProcess], tmp_path: Path) -> None:
    first, second = two_processes
    window: ServerWindow = make_window(qtbot, second.url, tmp_path)
    assert log_in(qtbot, window, second.url)
    wait(qtbot, lambda: window.state is LinkState.CONNECTED)
    tab = window.show_tab("Nodes")
    assert tab is window.nodes_tab
    wait(qtbot, lambda: len(window.nodes_tab.model.records) == 2)
    records = window.nodes_tab.model.records
    assert sorted(r["address"] for r in records) == sorted([first.url, second.url])
    assert [r["address"] for r in records if r["this"]] == [second.url]
    assert all(r["alive"] for r in records)
    assert window.nodes_tab.count_label.text().startswith("2 server processes")
    image = window.nodes_tab.grab().toImage()
    assert isinstance(image, QImage) and not image.isNull()


def test_nodes_tab_of_a_server_on_its_own(admin_window: ServerWindow, qtbot: Any) -> None:
    admin_window.show_tab("Nodes")
    wait(qtbot, lambda: len(admin_window.nodes_tab.model.records) == 1)
    (record,) = admin_window.nodes_tab.model.records
    assert record["this"] and record["alive"] and record["node"] == "standalone"
    assert admin_window.nodes_tab.count_label.text().startswith("1 server process;")
