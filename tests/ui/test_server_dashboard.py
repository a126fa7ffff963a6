"""The Dashboard follows client activity within 2 s; the Sync events and Logs tails,
their filters, pause and CSV export; the Connections tab; the charts' arithmetic."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from PySide6.QtGui import QImage

from studio.ui.demo import CHAT_SCHEMA, ServerProcess, post
from studio.ui.server import ServerWindow
from studio.ui.server.charts import Series, downsample, nice_ceiling
from studio.ui.server.dashboard import Dashboard

pytest_plugins = ("test_server_support",)

from test_server_support import run, wait  # noqa: E402


def _device(client: Any, qtbot: Any, tmp_path: Path, realm_path: str, name: str) -> Any:
    app = client("admin", "ui-admin-pw")
    return run(qtbot, app.open_realm(app.current_user, realm_path,
                                     path=tmp_path / f"{name}.realm", schema=CHAT_SCHEMA))


def test_dashboard_numbers_follow_client_activity_within_two_seconds(
        admin_window: ServerWindow, client: Any, qtbot: Any, tmp_path: Path) -> None:
    dashboard = admin_window.dashboard
    assert dashboard.objectName() == "dashboard"
    wait(qtbot, lambda: dashboard.counters_seen >= 1)  # the stream is flowing
    before = {k: dashboard.value_text(k) for k in ("connections", "sessions", "uploads_per_s")}
    realm = _device(client, qtbot, tmp_path, "/shared/dash", "dash")
    started = time.monotonic()
    for i in range(5):
        post(realm, "dev", f"message {i}")
    # Connections, sessions and uploads per second all move within 2 s of the activity.
    wait(qtbot, lambda: dashboard.value_text("connections") != before["connections"]
         and dashboard.value_text("sessions") != before["sessions"]
         and dashboard.value_text("uploads_per_s") not in (before["uploads_per_s"], "0.0"),
         timeout=2.0 + 1.0)  # 2 s, plus the test's own spin-up slack on a loaded machine
    assert time.monotonic() - started <= 3.0
    assert float(dashboard.value_text("uploads_per_s")) > 0
    assert dashboard.cards["uploads_per_s"].chart.paint_count > 0
    # The time window changes what the charts span (and the label).
    dashboard.set_window(600.0)
    assert dashboard.window_s == 600.0
    assert dashboard.cards["connections"].chart.window_s == 600.0
    image = dashboard.grab().toImage()
    assert isinstance(image, QImage) and not image.isNull()


def test_sync_events_tail_filters_pauses_and_exports(admin_window: ServerWindow, client: Any,
                                                     qtbot: Any, tmp_path: Path) -> None:
    tab = admin_window.events_tab
    admin_window.show_tab("Sync events")
    realm = _device(client, qtbot, tmp_path, "/shared/tail-a", "a")
    other = _device(client, qtbot, tmp_path, "/shared/tail-b", "b")
    post(realm, "dev", "hello a")
    post(other, "dev", "hello b")
    wait(qtbot, lambda: {"/shared/tail-a", "/shared/tail-b"} <= {
        r.get("realm") for r in tab.model.kept if r.get("type") == "upload"})
    # A realm filter and the kind boxes narrow what is shown, not what is kept.
    tab.realm_filter.setText("tail-a")
    shown = tab.model.records
    assert shown and all(r["realm"] == "/shared/tail-a" for r in shown)
    tab.kind_boxes["session"].setChecked(False)
    assert all(r["type"] in ("upload", "download") for r in tab.model.records)
    assert len(tab.model.kept) > tab.model.rowCount()
    # Export writes what is shown, with the shown text.
    out = tmp_path / "events.csv"
    assert tab.export_csv(out) == tab.model.rowCount()
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0][:5] == ["Time", "Realm", "Client", "User", "Event"]
    assert len(rows) == tab.model.rowCount() + 1
    assert all(r[1] == "/shared/tail-a" for r in rows[1:])
    # Pause: new events wait; resume shows them.
    tab.pause_button.click()
    assert tab.paused and tab.pause_button.text() == "Resume"
    count = len(tab.model.kept)
    post(realm, "dev", "while paused")
    wait(qtbot, lambda: len(tab._held) > 0)
    assert len(tab.model.kept) == count
    assert "paused" in tab.count_label.text()
    tab.pause_button.click()
    assert not tab.paused and len(tab.model.kept) > count
    # Downloads name the user too (learned from the session's bind).
    downloads = [r for r in tab.model.kept if r["type"] == "download"]
    assert all(r.get("user") == "admin" for r in downloads if r.get("realm") == "/shared/tail-a")


def test_logs_tail_level_filter_and_connections_tab(admin_window: ServerWindow, client: Any,
                                                    qtbot: Any, tmp_path: Path) -> None:
    logs = admin_window.logs_tab
    _device(client, qtbot, tmp_path, "/shared/logs", "logs")  # binds: info lines
    wait(qtbot, lambda: any(r.get("event") == "session_bound" for r in logs.model.kept))
    assert logs.model.rowCount() > 0
    logs.level_combo.setCurrentText("error")
    assert all(r.get("level") == "error" for r in logs.model.records)
    logs.level_combo.setCurrentText("debug")
    logs.text_filter.setText("session_bound")
    assert logs.model.rowCount() >= 1
    assert all("session_bound" in r["event"] for r in logs.model.records)

    connections = admin_window.show_tab("Connections")
    assert connections is admin_window.connections_tab
    wait(qtbot, lambda: any("/shared/logs" in (c.get("realms") or [])
                            for c in admin_window.connections_tab.model.records))
    record = next(c for c in admin_window.connections_tab.model.records
                  if "/shared/logs" in (c.get("realms") or []))
    assert record["user"] == "admin" and record["address"]


def test_chart_arithmetic() -> None:
    assert nice_ceiling(0) == 1.0
    assert nice_ceiling(3.2) == 5.0
    assert nice_ceiling(0.7) == 1.0
    assert nice_ceiling(120) == 200.0
    points = downsample([0.0, 1.0, 2.0, 3.0], [1.0, 5.0, 2.0, 0.0], 0.0, 4.0, 2)
    assert [v for _x, v in points] == [5.0, 2.0]  # each column's maximum
    series = Series(keep_s=10)
    for t in range(30):
        series.add(float(t), float(t))
    assert series.times[0] >= 18 and series.last == 29.0
    assert series.stats(25.0) == (25.0, 27.0, 29.0)
    series.add(5.0, 1.0)  # a sample from the past lands at the end, not before it
    assert series.times[-1] == 29.0
    series.add(30.0, float("nan"))  # missing quantiles (no uploads yet) are skipped
    assert series.last == 1.0


def test_dashboard_draws_at_a_bounded_rate(qtbot: Any) -> None:
    now = [1000.0]
    dashboard = Dashboard(redraw_ms=250, clock=lambda: now[0])
    qtbot.addWidget(dashboard)
    dashboard.resize(1000, 700)
    dashboard.show()
    qtbot.waitExposed(dashboard)
    before = dashboard.refresh_count
    # A flood of 2,000 counters in one batch is one redraw, at the next tick.
    dashboard.ingest([{"type": "counters", "connections": i, "uploads_per_s": i * 1.5}
                      for i in range(2000)])
    assert dashboard.refresh_count == before
    qtbot.wait(300)
    assert dashboard.refresh_count - before <= 2
    assert dashboard.value_text("connections") == "1,999"
    assert dashboard.value_text("uploads_per_s") == "2,998"


def test_server_process_reports_a_failed_start(tmp_path: Path) -> None:
    # A data path that is a file: the server exits, and start() says why.
    data = tmp_path / "not-a-dir"
    data.write_text("x")
    proc = ServerProcess(data, "pw")
    try:
        proc.start(timeout=20)
    except RuntimeError as exc:
        assert "did not start" in str(exc)
    else:  # pragma: no cover - a server that starts on a file would be a bug elsewhere
        proc.stop()
        raise AssertionError("the server started on a file as data directory")


def test_tail_model_keeps_the_newest_rows_and_filters_incrementally(qtbot: Any) -> None:
    from studio.ui.server.tables import Column, TailModel

    model = TailModel([Column("n", "N")], max_rows=10)
    model.set_predicate(lambda r: r["n"] % 2 == 0)
    model.append([{"n": i} for i in range(8)])
    assert [r["n"] for r in model.records] == [0, 2, 4, 6]
    model.append([{"n": i} for i in range(8, 16)])  # 6..15 kept
    assert [r["n"] for r in model.kept] == list(range(6, 16))
    assert [r["n"] for r in model.records] == [6, 8, 10, 12, 14]
    assert model.index(0, 0).data() == "6"
    model.append([{"n": i} for i in range(100, 130)])  # more than the cap at once
    assert [r["n"] for r in model.kept] == list(range(120, 130))
    assert [r["n"] for r in model.records] == [120, 122, 124, 126, 128]
    model.set_predicate(None)
    assert model.rowCount() == 10
