"""Counters for ``/metrics`` (Prometheus text format 0.0.4) and for the admin
event stream's once-a-second ``counters``.

Written by hand rather than with prometheus_client: a handful of counters,
gauges and two summaries are all the server needs, and this keeps the
runtime dependencies at aiohttp, websockets and msgpack.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from typing import Final

_QUANTILES: Final = (0.5, 0.9, 0.99)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Counter:
    kind = "counter"

    def __init__(self, name: str, help: str, label: str | None = None) -> None:
        self.name = name
        self.help = help
        self.label = label
        self.value = 0.0
        self.by_label: dict[str, float] = {}

    def inc(self, amount: float = 1.0, label: str | None = None) -> None:
        self.value += amount
        if label is not None:
            self.by_label[label] = self.by_label.get(label, 0.0) + amount

    def samples(self) -> Iterator[str]:
        if self.label is None:
            yield f"{self.name} {_fmt(self.value)}"
            return
        for label, value in sorted(self.by_label.items()):
            yield f'{self.name}{{{self.label}="{_escape(label)}"}} {_fmt(value)}'


class Gauge:
    kind = "gauge"

    def __init__(self, name: str, help: str, read: Callable[[], float]) -> None:
        self.name = name
        self.help = help
        self.read = read

    def samples(self) -> Iterator[str]:
        yield f"{self.name} {_fmt(float(self.read()))}"


class Summary:
    """Count and sum since start, quantiles over the last ``window`` observations."""

    kind = "summary"

    def __init__(self, name: str, help: str, window: int = 4096) -> None:
        self.name = name
        self.help = help
        self.count = 0
        self.sum = 0.0
        self.recent: deque[float] = deque(maxlen=window)

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.recent.append(value)

    def quantile(self, q: float) -> float:
        if not self.recent:
            return math.nan
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def samples(self) -> Iterator[str]:
        for q in _QUANTILES:
            yield f'{self.name}{{quantile="{q}"}} {_fmt(self.quantile(q))}'
        yield f"{self.name}_sum {_fmt(self.sum)}"
        yield f"{self.name}_count {self.count}"


Metric = Counter | Gauge | Summary


class Metrics:
    """The server's metrics. Gauges read live state through callbacks."""

    def __init__(
        self,
        connections: Callable[[], float],
        sessions: Callable[[], float],
        realms: Callable[[], float],
        subscribers: Callable[[], float],
        outbound_bytes: Callable[[], float] = lambda: 0,
    ) -> None:
        self.uploads = Counter("studio_uploads_total", "Changesets integrated from uploads.")
        self.downloads = Counter("studio_downloads_total", "Changesets sent in downloads.")
        self.bytes_in = Counter("studio_bytes_in_total", "Bytes received on /sync.")
        self.bytes_out = Counter("studio_bytes_out_total", "Bytes sent on /sync.")
        self.connections_total = Counter(
            "studio_connections_total", "Sync connections accepted since start."
        )
        self.errors = Counter(
            "studio_errors_total", "Protocol errors sent to clients, by code.", label="code"
        )
        self.logins = Counter("studio_logins_total", "Login attempts, by result.", label="result")
        self.merge = Summary("studio_merge_seconds", "Time to integrate one upload message.")
        self.commit = Summary("studio_commit_seconds", "Time to store one group commit durably.")
        self._all: list[Metric] = [
            Gauge("studio_connections", "Open sync connections.", connections),
            Gauge("studio_sessions", "Bound sync sessions.", sessions),
            Gauge("studio_realms", "Realms loaded in memory.", realms),
            Gauge("studio_admin_subscribers", "Open admin event streams.", subscribers),
            Gauge(
                "studio_outbound_bytes",
                "Bytes queued for sync clients, all connections together "
                "(bounded by --max-server-outbound-bytes).",
                outbound_bytes,
            ),
            self.connections_total,
            self.uploads,
            self.downloads,
            self.bytes_in,
            self.bytes_out,
            self.errors,
            self.logins,
            self.merge,
            self.commit,
        ]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._all:
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"
