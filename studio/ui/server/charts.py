"""Small time-series charts drawn with QPainter.

QtCharts is not part of PySide6-Essentials, and pyqtgraph would bring numpy
along for a handful of lines with at most 3,600 points each; a chart here is a
filled line over a time window, a faint grid and the scale's maximum, which
QPainter does in well under a millisecond per chart.

A :class:`Series` keeps (time, value) samples for the longest window (1 h at
one sample a second). Drawing reduces the samples to at most one per pixel
column (the column's maximum, so a short spike stays visible in the 1 h view).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_WINDOW_S = 3600.0
MIN_SPAN_S = 5.0


class Series:
    """Samples of one quantity, oldest first, kept for ``keep_s`` seconds."""

    def __init__(self, keep_s: float = MAX_WINDOW_S) -> None:
        self.keep_s = keep_s
        # Plain lists (not deques): drawing slices them by time with bisect, which
        # needs cheap indexing; old samples are cut off in chunks.
        self.times: list[float] = []
        self.values: list[float] = []

    def add(self, t: float, value: float | None) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        if self.times and t < self.times[-1]:
            t = self.times[-1]  # clocks never go backwards on a chart
        self.times.append(t)
        self.values.append(float(value))
        if self.times[0] < t - self.keep_s * 1.1:  # trim in chunks of ~10 %
            cut = bisect.bisect_left(self.times, t - self.keep_s)
            del self.times[:cut]
            del self.values[:cut]

    def clear(self) -> None:
        self.times.clear()
        self.values.clear()

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def window(self, start: float) -> tuple[list[float], list[float]]:
        """The samples at or after ``start``."""
        first = bisect.bisect_left(self.times, start)
        return self.times[first:], self.values[first:]

    def stats(self, start: float) -> tuple[float, float, float] | None:
        """(min, average, max) of the samples after ``start``; None without samples."""
        _times, values = self.window(start)
        if not values:
            return None
        return min(values), sum(values) / len(values), max(values)


def nice_ceiling(value: float) -> float:
    """The scale's top: 1, 2 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        top: float = step * 10**exponent  # int ** int is Any to mypy (a negative power is a float)
        if top >= value * 0.999:
            return top
    return 10.0 ** (exponent + 1)


def downsample(times: Sequence[float], values: Sequence[float], start: float, span: float,
               columns: int) -> list[tuple[float, float]]:
    """At most one point per column: (x fraction 0..1, the column's maximum)."""
    if columns <= 0 or not times:
        return []
    if len(times) <= columns:
        return [((t - start) / span, v) for t, v in zip(times, values, strict=True)]
    out: list[tuple[float, float]] = []
    column, peak, peak_t = -1, 0.0, 0.0
    for t, v in zip(times, values, strict=True):
        c = min(columns - 1, int((t - start) / span * columns))
        if c != column:
            if column >= 0:
                out.append(((peak_t - start) / span, peak))
            column, peak, peak_t = c, v, t
        elif v > peak:
            peak, peak_t = v, t
    out.append(((peak_t - start) / span, peak))
    return out


class SparkChart(QWidget):
    """One or more series over the last ``window_s`` seconds ending at ``now()``."""

    def __init__(self, series: Sequence[tuple[Series, QColor]], now: Callable[[], float],
                 format_value: Callable[[float], str] = lambda v: f"{v:g}",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series = list(series)
        self.now = now
        self.window_s = 60.0
        self.format_value = format_value
        self.paint_count = 0
        self.paint_seconds = 0.0  # time spent painting (the dashboard benchmark's CPU share)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(70)

    def sizeHint(self) -> QSize:
        return QSize(320, 110)

    def set_window(self, seconds: float) -> None:
        self.window_s = seconds
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        started = time.perf_counter()
        self.paint_count += 1
        try:
            self._paint()
        finally:
            self.paint_seconds += time.perf_counter() - started

    def _paint(self) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
        grid = QColor(palette.color(QPalette.ColorRole.Mid))
        grid.setAlpha(90)
        painter.setPen(QPen(grid, 1))
        painter.drawRect(rect)
        plot = rect.adjusted(4, 16, -4, -4)
        for i in (1, 2, 3):
            y = plot.top() + plot.height() * i / 4
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))

        end = self.now()
        # Until the window has filled (the Studio just connected), span what there is,
        # so a few seconds of data are not a sliver at the right edge; the label says so.
        firsts = [s.times[0] for s, _c in self.series if s.times]
        span = self.window_s if not firsts else min(self.window_s,
                                                    max(MIN_SPAN_S, end - min(firsts)))
        start = end - span
        windows = [(s.window(start), colour) for s, colour in self.series]
        peak = max((max(v) for (_t, v), _c in windows if v), default=0.0)
        top = nice_ceiling(peak)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
        painter.setFont(small)
        muted = QColor(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.setPen(muted)
        painter.drawText(rect.adjusted(4, 1, -4, 0), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignTop, self.format_value(top))
        painter.drawText(rect.adjusted(4, 1, -4, 0), Qt.AlignmentFlag.AlignRight
                         | Qt.AlignmentFlag.AlignTop, _span_text(span))

        columns = max(1, int(plot.width()))
        for (times, values), colour in windows:
            points = downsample(times, values, start, span, columns)
            if not points:
                continue
            path = QPainterPath()
            xy = [QPointF(plot.left() + fx * plot.width(),
                          plot.bottom() - min(v / top, 1.0) * plot.height()) for fx, v in points]
            path.moveTo(xy[0])
            for p in xy[1:]:
                path.lineTo(p)
            fill = QPainterPath(path)
            fill.lineTo(QPointF(xy[-1].x(), plot.bottom()))
            fill.lineTo(QPointF(xy[0].x(), plot.bottom()))
            fill.closeSubpath()
            shade = QColor(colour)
            shade.setAlpha(45)
            painter.fillPath(fill, shade)
            painter.setPen(QPen(colour, 1.6))
            painter.drawPath(path)
        painter.end()


def _span_text(seconds: float) -> str:
    if seconds >= 3600:
        return f"last {seconds / 3600:g} h"
    if seconds >= 60:
        return f"last {seconds / 60:.3g} min"
    return f"last {seconds:.0f} s"
