"""Stage timestamps of the sync hot path, for benchmarks (off by default).

The sans-I/O protocol objects read no clock; the drivers that do I/O (the
client's :class:`~studio.sync.client.connection.AppConnection`, the server's
connection) call :func:`mark` at their edges: a frame received, a download
integrated, an upload queued, a frame sent. While no timeline is installed,
:func:`mark` is one global lookup and a return.

Each mark records the wall clock (``time.perf_counter``: CLOCK_MONOTONIC on
Linux, so marks of the server process and of the clients line up) and the
CPU time of the calling thread (``time.thread_time``): on a loaded machine
the wall gap between two marks includes waiting for a core, the CPU gap does
not.

A process installs a timeline with :func:`install` (in memory, for the
clients of a benchmark) or by starting with ``STUDIO_SYNC_TIMELINE=<file>``
in its environment (the server process: each mark is a line appended to the
file).
"""

from __future__ import annotations

import os
import time
from typing import IO, NamedTuple


class Mark(NamedTuple):
    stage: str
    key: int
    """Which client file the mark is about (0: unknown)."""
    wall: float
    cpu: float


class Timeline:
    """Marks in memory; with ``sink``, also one line per mark to a file."""

    def __init__(self, sink: IO[str] | None = None) -> None:
        self.marks: list[Mark] = []
        self._sink = sink

    def mark(self, stage: str, key: int = 0) -> None:
        m = Mark(stage, key, time.perf_counter(), time.thread_time())
        if self._sink is not None:
            self._sink.write(f"{m.stage} {m.key} {m.wall!r} {m.cpu!r}\n")
            self._sink.flush()
        else:
            self.marks.append(m)


_current: Timeline | None = None


def install(timeline: Timeline | None) -> None:
    """Record marks into ``timeline`` from now on (None: stop)."""
    global _current
    _current = timeline


def mark(stage: str, key: int = 0) -> None:
    """Record that ``stage`` was reached now (nothing while no timeline is installed)."""
    timeline = _current
    if timeline is not None:
        timeline.mark(stage, key)


def read_marks(path: str) -> list[Mark]:
    """The marks a process wrote to ``path`` (see ``STUDIO_SYNC_TIMELINE``)."""
    out: list[Mark] = []
    with open(path) as fh:
        for line in fh:
            stage, key, wall, cpu = line.split()
            out.append(Mark(stage, int(key), float(wall), float(cpu)))
    return out


def _install_from_environment() -> None:
    path = os.environ.get("STUDIO_SYNC_TIMELINE")
    if path:
        install(Timeline(open(path, "a", buffering=1)))  # noqa: SIM115 - lives with the process


_install_from_environment()
