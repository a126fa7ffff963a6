"""SIGINT and SIGTERM for a Qt program on an asyncio (qasync) loop.

Python runs its signal handlers between bytecodes; while Qt waits for events in C
nothing runs them, and when one finally does, the default SIGINT handler raises
KeyboardInterrupt inside whatever slot happened to be running: a traceback, and the
program goes on. Here the C-level handler writes the signal to a socket
(``signal.set_wakeup_fd``) that a QSocketNotifier watches, so Qt wakes at once, and
the Python handler only records the signal and sets an asyncio event: the program
then stops in an orderly way (and exits with 128 + the signal's number, 130 for
Ctrl+C).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from types import FrameType
from typing import Any

from PySide6.QtCore import QSocketNotifier

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """While installed, SIGINT and SIGTERM set :attr:`event` (and :attr:`received`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        self.received: int | None = None
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)
        self._old_handlers: dict[int, Any] = {
            int(s): signal.signal(s, self._handle) for s in STOP_SIGNALS}

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal's number (130 for SIGINT)."""
        return 128 + int(self.received or 0)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is None:  # a second Ctrl+C while stopping changes nothing
            self.received = signum
        # Not event.set() here: the handler may interrupt the loop's own code.
        self.loop.call_soon_threadsafe(self.event.set)

    def _drain(self) -> None:
        # Python already ran the handler (at this slot's first bytecode): empty the socket.
        with contextlib.suppress(OSError):
            while self._reader.recv(64):
                pass

    def restore(self) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        self._old_handlers.clear()
        signal.set_wakeup_fd(self._old_fd)
        self._notifier.setEnabled(False)
        self._notifier.deleteLater()
        self._reader.close()
        self._writer.close()
