"""The server goes away: the indicator says "Reconnecting" with a countdown, the window
keeps responding, and when the server is back (same port, same data) it recovers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer

from studio.ui.server.link import LinkState

pytest_plugins = ("test_server_support",)

from test_server_support import free_port, log_in, make_window, start_server, wait  # noqa: E402


def test_stopping_the_server_shows_reconnecting_and_restarting_recovers(
        qtbot: Any, qloop: Any, tmp_path: Path) -> None:
    proc = start_server(tmp_path / "data", port=free_port())
    try:
        window = make_window(qtbot, proc.url, tmp_path)
        assert log_in(qtbot, window, proc.url)
        wait(qtbot, lambda: window.state is LinkState.CONNECTED)
        wait(qtbot, lambda: window.dashboard.counters_seen >= 1)
        assert window.retry_button.isHidden()

        proc.stop()
        # Watch the UI's responsiveness while it reconnects: a 20 ms timer must keep firing.
        # (Only meanwhile: stopping and starting the server block this test's own thread.)
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(tick)
        timer.start()
        wait(qtbot, lambda: window.state is LinkState.RECONNECTING, timeout=5)
        assert "Reconnecting" in window.indicator.text()
        assert window.retry_button.isVisible()
        qtbot.wait(1500)  # a few failed attempts with backoff
        assert window.link is not None and window.link.attempts >= 1
        assert "Cannot reach" in window.link.detail or "closed" in window.link.detail
        # Tabs stay usable while the server is away: a click is answered with a message.
        window.show_tab("Realms")
        window.realms_tab.new_path.setText("/shared/while-down")
        window.realms_tab.create_button.click()
        wait(qtbot, lambda: window.realms_tab.message_bar.level == "error")
        assert "Cannot reach" in window.realms_tab.message_bar.text

        timer.stop()
        # The UI never froze: no gap between ticks came near a second.
        assert len(gaps) > 20 and max(gaps) < 0.5, max(gaps)

        counters = window.dashboard.counters_seen
        proc.start()
        window.retry_button.click()  # or wait for the backoff (at most 8 s)
        wait(qtbot, lambda: window.state is LinkState.CONNECTED, timeout=15)
        assert "Connected" in window.indicator.text()
        assert window.retry_button.isHidden()
        wait(qtbot, lambda: window.dashboard.counters_seen > counters, timeout=5)
    finally:
        proc.stop()
