"""What the server window's tabs share: a message bar, guarded async actions,
debounced reloads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget
from qasync import asyncSlot

from studio.sync.client import ApiError
from studio.ui.message_bar import MessageBar
from studio.ui.server.errors import describe_connect_error
from studio.ui.server.link import ServerLink

_P = ParamSpec("_P")
_T = TypeVar("_T")


def async_slot(
    *types: type,
) -> Callable[[Callable[_P, Coroutine[Any, Any, _T]]], Callable[_P, asyncio.Task[_T]]]:
    """qasync's ``asyncSlot(*types)`` with a type: the decorated coroutine function
    becomes a Qt slot that starts it as a task on the running loop and returns the task."""
    # qasync ships no type hints, so its decorator is Any to mypy; this is what it does.
    return cast(
        Callable[[Callable[_P, Coroutine[Any, Any, _T]]], Callable[_P, asyncio.Task[_T]]],
        asyncSlot(*types),
    )


def describe_admin_error(exc: BaseException, url: str) -> str:
    """An admin call that failed: the server's own message is the most precise one."""
    if isinstance(exc, ApiError) and exc.status not in (0, 401):
        message = exc.message
        # "PATCH /admin/users/bob: no such user" -> "no such user"
        if ": " in message and message.split(" ", 1)[0].isupper():
            message = message.split(": ", 1)[1]
        return message[:1].upper() + message[1:]
    return describe_connect_error(exc, url)


class Debounce:
    """Call ``fn`` once, ``delay_ms`` after the last of a burst of requests."""

    def __init__(self, parent: QWidget, delay_ms: int, fn: Callable[[], Any]) -> None:
        self._timer = QTimer(parent)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(fn)

    def __call__(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


class AdminTab(QWidget):
    """A tab that calls the admin API: errors land in its message bar, never a crash."""

    def __init__(self, link: ServerLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.busy = 0  # actions in flight (tests wait for 0)
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(8, 8, 8, 8)
        self.message_bar = MessageBar(self)
        self.outer.addWidget(self.message_bar)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._debounces: list[Debounce] = []

    def debounce(self, delay_ms: int, fn: Callable[[], Any]) -> Debounce:
        """A :class:`Debounce` that :meth:`cancel_tasks` stops too (a reload due after
        the window closed would start on a closed link, or with no event loop left)."""
        debounce = Debounce(self, delay_ms, fn)
        self._debounces.append(debounce)
        return debounce

    def report(self, text: str, level: str = "info", timeout_ms: int | None = None) -> None:
        self.message_bar.show_message(text, level, timeout_ms=timeout_ms)

    @contextlib.asynccontextmanager
    async def acting(self, success: str = "") -> AsyncIterator[None]:
        """Run an admin action: a failure is shown in the message bar, a success too
        when ``success`` says something."""
        self.busy += 1
        try:
            yield
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.report(describe_admin_error(exc, self.link.url), "error")
        else:
            if success:
                self.report(success, "success", timeout_ms=6000)
        finally:
            self.busy -= 1

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Start background work tied to this tab (reloads); errors go to the bar."""

        async def guarded() -> None:
            async with self.acting():
                await coro

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel_tasks(self) -> None:
        for debounce in self._debounces:
            debounce.stop()
        for task in list(self._tasks):
            task.cancel()
