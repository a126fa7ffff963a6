"""Sorting a large class off the UI thread.

A sort on a property without an index makes SQLite sort every row (300,000 objects:
seconds). ``studio.core`` realms are bound to their thread, so the worker opens its own
read-only realm on the same file, repeats the view's query, and hands back the object
keys in order; the table then reads objects by key
(:class:`studio.ui.sources.KeyedSource`). Cancelling drops the answer: the window
never waited for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from array import array
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core import Realm

# Below this many rows a sort is quick enough to run in place (no flicker of a busy
# message for a sort that takes milliseconds).
BACKGROUND_SORT_ROWS = 20_000


def sorted_keys(path: str, class_name: str, query: str, prop: str,
                ascending: bool) -> Sequence[int]:
    """The keys of ``class_name`` objects matching ``query``, sorted by ``prop``, read
    through a realm of this thread's own (an ``array``: a million keys copied into a list
    would hold the interpreter lock, and so the window, for tens of milliseconds)."""
    with Realm.open(path, read_only=True) as realm:
        results = realm.objects(class_name)
        if query:
            results = results.filtered(query)
        return results.sorted(prop, reverse=not ascending).keys()


# The sort in a child process: a million keys come back from SQLite as one JSON text
# whose parsing is one long C call holding the interpreter lock; in a thread of the
# Studio's own process that froze the window for 200-400 ms at a time (measured by
# bench_ui's sort_stall_* on a loaded machine). The child writes the keys as raw int64.
_CHILD = """
import sys
from studio.core import Realm
path, name, query, prop, ascending = sys.argv[1:6]
with Realm.open(path, read_only=True) as realm:
    results = realm.objects(name)
    if query:
        results = results.filtered(query)
    keys = results.sorted(prop, reverse=ascending != "1").keys()
sys.stdout.buffer.write(keys.tobytes())
"""
POLL_S = 0.05  # how often a child sort looks whether it was cancelled


def sorted_keys_in_child(path: str, class_name: str, query: str, prop: str,
                         ascending: bool, cancelled: Callable[[], bool] = lambda: False
                         ) -> Sequence[int]:
    """:func:`sorted_keys` computed by a child process (its own interpreter lock: the
    window's thread never waits for it); a cancel kills the child. Raises RuntimeError
    with the child's last error line if it failed. A frozen Studio (PyInstaller) has no
    interpreter to start: there the sort runs in this thread."""
    if getattr(sys, "frozen", False):
        return sorted_keys(path, class_name, query, prop, ascending)
    # The child imports the same studio package as this process: the same import path.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, path, class_name, query, prop,
         "1" if ascending else "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    while True:
        try:
            out, err = child.communicate(timeout=POLL_S)
            break
        except subprocess.TimeoutExpired:
            if cancelled():
                child.kill()
                child.communicate()
                return array("q")
    if child.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"the sort stopped ({child.returncode})")
    keys = array("q")
    keys.frombytes(out)
    return keys


class SortRunner(QObject):
    """Runs one sort at a time in a thread; ``done`` is called on the UI thread."""

    _finished = Signal(int, object, object)  # job, keys or None, error or None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = 0
        self.cancelled = threading.Event()  # of the running job: set by cancel()
        self._callbacks: dict[int, Callable[[Sequence[int] | None, Exception | None],
                                            None]] = {}
        self._finished.connect(self._deliver)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def start(self, path: str, class_name: str, query: str, prop: str, ascending: bool,
              done: Callable[[Sequence[int] | None, Exception | None], None]) -> int:
        """Start a sort (cancelling the one running); returns its job number."""
        return self.start_job(
            lambda _cancelled: sorted_keys(path, class_name, query, prop, ascending), done)

    def start_job(self, work: Callable[[Callable[[], bool]], Any],
                  done: Callable[[Any, Exception | None], None]) -> int:
        """Run ``work(cancelled)`` in a thread, cancelling the job running
        (``cancelled()`` says whether to give up); ``done(answer, error)`` is called on
        the UI thread unless cancelled meanwhile. Any job that computes an order or a
        selection off the UI thread (Realm Core files: a query's scan) runs here."""
        self.cancel()
        self._job += 1
        job = self._job
        self._callbacks[job] = done
        self.cancelled = threading.Event()
        cancelled = self.cancelled

        def run() -> None:
            try:
                answer: Any = work(cancelled.is_set)
                error = None
            except Exception as exc:  # reported on the UI thread
                answer, error = None, exc
            if not cancelled.is_set():
                self._finished.emit(job, answer, error)

        threading.Thread(target=run, name=f"studio-sort-{job}", daemon=True).start()
        return job

    def cancel(self) -> None:
        """Forget the running sort: its answer, when it comes, is dropped (a job that
        watches :attr:`cancelled` also stops early)."""
        self.cancelled.set()
        self._callbacks.clear()

    def _deliver(self, job: int, keys: Any, error: Any) -> None:
        done = self._callbacks.pop(job, None)
        if done is not None:
            done(keys, error)
