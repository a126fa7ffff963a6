"""The Dashboard tab (object name ``dashboard``): live charts of the server's counters.

Fed by the ``counters`` event the server publishes once a second on the admin
event stream (connections, sessions, uploads/downloads and bytes per second,
merge time p50/p99, active realms). Receiving an event only appends to the
series; the charts and numbers are redrawn by a timer at most
``REDRAW_MS`` apart, so a flood of events never turns into a flood of paints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from studio.ui.formatting import format_size
from studio.ui.server.charts import Series, SparkChart
from studio.ui.wording import plural

REDRAW_MS = 250
WINDOWS: tuple[tuple[str, float], ...] = (("1 min", 60.0), ("10 min", 600.0), ("1 h", 3600.0))
_BLUE, _GREEN, _ORANGE, _PURPLE = "#3d7edb", "#2e9d5b", "#e08a1e", "#8e5bd0"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _rate(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _bytes_rate(value: float) -> str:
    return f"{format_size(int(value))}/s"


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


@dataclass(frozen=True, slots=True)
class Metric:
    title: str
    keys: tuple[str, ...]  # counter fields; several draw several lines in one chart
    colours: tuple[str, ...]
    fmt: Callable[[float], str]
    labels: tuple[str, ...] = ()  # per key, for charts with several lines
    help: str = ""


METRICS: tuple[Metric, ...] = (
    Metric("Open connections", ("connections",), (_BLUE,), _count,
           help="Sync websockets open right now."),
    Metric("Bound sessions", ("sessions",), (_GREEN,), _count,
           help="Realm sessions bound on those connections (one per synced realm per client)."),
    Metric("Uploads per second", ("uploads_per_s",), (_ORANGE,), _rate,
           help="Changesets integrated from clients per second."),
    Metric("Downloads per second", ("downloads_per_s",), (_PURPLE,), _rate,
           help="Changesets sent to clients per second."),
    Metric("Bytes in per second", ("bytes_in_per_s",), (_BLUE,), _bytes_rate,
           help="Sync traffic received."),
    Metric("Bytes out per second", ("bytes_out_per_s",), (_GREEN,), _bytes_rate,
           help="Sync traffic sent."),
    Metric("Merge time p50 / p99", ("merge_ms_p50", "merge_ms_p99"), (_BLUE, _ORANGE), _ms,
           labels=("p50", "p99"),
           help="Time to integrate one upload (the server's recent uploads)."),
    Metric("Active realms", ("active_realms",), (_PURPLE,), _count,
           help="Realms with at least one bound session."),
)


class MetricCard(QFrame):
    """Numbers on the left (now, and min/avg/max over the window), the chart on the right."""

    def __init__(self, metric: Metric, series: Sequence[Series], now: Callable[[], float],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = metric
        self.series = list(series)
        key = metric.keys[0]
        self.setObjectName(f"card_{key}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setToolTip(metric.help)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 8, 10, 8)
        numbers = QVBoxLayout()
        numbers.setSpacing(2)
        title = QLabel(metric.title, self)
        title.setStyleSheet("QLabel { font-weight: bold; }")
        numbers.addWidget(title)
        self.value_label = QLabel("-", self)
        self.value_label.setObjectName(f"value_{key}")
        font = QFont(self.value_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.9)
        font.setBold(True)
        self.value_label.setFont(font)
        if len(metric.keys) > 1:  # "0.35 ms / 0.51 ms" must fit beside the chart
            font.setPointSizeF(font.pointSizeF() * 0.62)
            self.value_label.setFont(font)
        numbers.addWidget(self.value_label)
        self.stats_label = QLabel("", self)
        self.stats_label.setObjectName(f"stats_{key}")
        self.stats_label.setStyleSheet("QLabel { color: gray; }")
        numbers.addWidget(self.stats_label)
        numbers.addStretch(1)
        holder = QWidget(self)
        holder.setLayout(numbers)
        holder.setFixedWidth(190)
        row.addWidget(holder)
        self.chart = SparkChart([(s, QColor(c)) for s, c in zip(self.series, metric.colours,
                                                                  strict=True)],
                                now, metric.fmt, self)
        self.chart.setObjectName(f"chart_{key}")
        row.addWidget(self.chart, 1)

    def refresh(self, window_s: float, now: float) -> None:
        start = now - window_s
        fmt = self.spec.fmt
        lasts = [s.last for s in self.series]
        if all(v is None for v in lasts):
            self.value_label.setText("-")
            self.stats_label.setText("no data yet")
        elif len(self.series) == 1:
            self.value_label.setText(fmt(lasts[0] or 0.0))
            stats = self.series[0].stats(start)
            self.stats_label.setText(
                "" if stats is None else
                f"min {fmt(stats[0])} · avg {fmt(stats[1])}\nmax {fmt(stats[2])}")
        else:
            self.value_label.setText(" / ".join("-" if v is None else fmt(v) for v in lasts))
            parts = []
            for label, series in zip(self.spec.labels, self.series, strict=True):
                stats = series.stats(start)
                if stats is not None:
                    parts.append(f"{label} max {fmt(stats[2])}")
            self.stats_label.setText("\n".join(parts))
        self.chart.set_window(window_s)


class Dashboard(QWidget):
    """The live charts. Call :meth:`ingest` with batches of admin events."""

    def __init__(self, parent: QWidget | None = None, redraw_ms: int = REDRAW_MS,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.setObjectName("dashboard")
        self.clock = clock
        self.series: dict[str, Series] = {}
        self.latest: dict[str, Any] = {}
        self.counters_seen = 0
        self.sync_events_seen = 0
        self.ingest_seconds = 0.0  # time spent in ingest() and refresh(): the benchmark's share
        self.refresh_count = 0
        self._dirty = False
        self._last_refresh = 0.0
        self.window_s = WINDOWS[0][1]

        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        top = QHBoxLayout()
        top.addWidget(QLabel("Time window:", self))
        self.window_combo = QComboBox(self)
        self.window_combo.setObjectName("timeWindow")
        for text, seconds in WINDOWS:
            self.window_combo.addItem(text, seconds)
        self.window_combo.currentIndexChanged.connect(self._window_changed)
        top.addWidget(self.window_combo)
        top.addStretch(1)
        self.summary_label = QLabel("Waiting for the server's first counters…", self)
        self.summary_label.setObjectName("dashboardSummary")
        self.summary_label.setStyleSheet("QLabel { color: gray; }")
        top.addWidget(self.summary_label)
        outer.addLayout(top)

        grid = QGridLayout()
        grid.setSpacing(8)
        self.cards: dict[str, MetricCard] = {}
        for i, metric in enumerate(METRICS):
            series = [self.series.setdefault(k, Series()) for k in metric.keys]
            card = MetricCard(metric, series, self._chart_now, self)
            self.cards[metric.keys[0]] = card
            grid.addWidget(card, i // 2, i % 2)
        outer.addLayout(grid, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(redraw_ms)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    # -- input -----------------------------------------------------------------------------

    def ingest(self, events: list[dict[str, Any]]) -> None:
        """Take a batch of admin events; only ``counters`` feed the charts."""
        started = time.perf_counter()
        for event in events:
            kind = event.get("type")
            if kind == "counters":
                self._add_counters(event)
            elif kind in ("upload", "download"):
                self.sync_events_seen += 1
        self.ingest_seconds += time.perf_counter() - started

    def _add_counters(self, event: dict[str, Any]) -> None:
        # Samples are stamped with this machine's clock, which the charts' time axis uses
        # too: a server whose clock is off must not shift or hide its own chart.
        now = self.clock()
        for key, series in self.series.items():
            value = event.get(key)
            if isinstance(value, int | float):
                series.add(now, float(value))
        self.latest = event
        self.counters_seen += 1
        self._dirty = True

    def clear(self) -> None:
        for series in self.series.values():
            series.clear()
        self.latest = {}
        self._dirty = True

    # -- drawing ---------------------------------------------------------------------------

    def _chart_now(self) -> float:
        return self.clock()

    def _window_changed(self) -> None:
        self.window_s = float(self.window_combo.currentData())
        self.refresh()

    def set_window(self, seconds: float) -> None:
        index = self.window_combo.findData(seconds)
        if index < 0:
            raise ValueError(f"the time window is one of {[s for _t, s in WINDOWS]} seconds")
        self.window_combo.setCurrentIndex(index)

    def _tick(self) -> None:
        # New data is drawn at once (well, within REDRAW_MS); without new data the time
        # axis still moves, which once a second is enough for.
        now = self.clock()
        if self._dirty or now - self._last_refresh >= 1.0:
            self.refresh()

    def refresh(self) -> None:
        started = time.perf_counter()
        now = self.clock()
        self._dirty = False
        self._last_refresh = now
        self.refresh_count += 1
        if self.isVisible():
            for card in self.cards.values():
                card.refresh(self.window_s, now)
        latest = self.latest
        if latest:
            dropped = latest.get("dropped_events") or 0
            text = (f"{plural(latest.get('loaded_realms', 0), 'realm')} loaded · "
                    f"{plural(latest.get('uploads_total', 0), 'upload')}, "
                    f"{plural(latest.get('downloads_total', 0), 'download')} since start")
            if dropped:
                text += f" · {plural(dropped, 'event')} dropped (the Studio fell behind)"
            self.summary_label.setText(text)
        self.ingest_seconds += time.perf_counter() - started

    def value_text(self, key: str) -> str:
        """The number shown for a metric (e.g. ``uploads_per_s``), for tests and people."""
        for card in self.cards.values():
            if key in card.spec.keys:
                return card.value_label.text()
        raise KeyError(key)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()  # hidden tabs skip drawing; catch up at once when shown

    def stop(self) -> None:
        self.timer.stop()

