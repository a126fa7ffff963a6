"""The global notifier: runs handlers on the changes other clients make to realms.

::

    notifier = Notifier("http://127.0.0.1:9080", username="admin", password="...",
                        data_dir="notifier-data")
    notifier.on(r"^/coupons/.*", validate, classes=["Coupon"])
    await notifier.run()                      # until notifier.stop()

It is an ordinary sync client logged in as an admin: it discovers realms (those
listed at start, then those the admin event stream mentions, with a periodic
re-listing as a safety net), syncs each realm whose path matches a handler
into ``data_dir``, and delivers each download's changes (:class:`RealmEvent`)
to the handlers, per realm one event at a time in server order, realms
concurrently (at most ``max_concurrent`` handler calls at once). See
docs/integrations.md for the delivery guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path

from studio.integrations.errors import HandlerSpecError, NotifierError
from studio.integrations.events import Changes, RealmEvent, summarize
from studio.integrations.journal import EventJournal
from studio.integrations.logs import log, log_exception
from studio.primitives.instructions import Changeset
from studio.sync.client import (
    ApiError,
    App,
    SyncConfig,
    SyncedRealm,
    SyncSession,
    SyncSessionError,
    User,
)
from studio.sync.client.config import Backoff
from studio.version import package_version

HandlerFunction = Callable[[RealmEvent], Awaitable[None] | None]
WatchListener = Callable[[str, SyncedRealm], None]
"""``listener(path, realm)``: see :meth:`Notifier.add_watch_listener`."""


@dataclasses.dataclass(frozen=True, slots=True)
class Handler:
    """A handler registered with :meth:`Notifier.on`."""

    pattern: re.Pattern[str]
    function: HandlerFunction
    classes: frozenset[str] | None

    @property
    def name(self) -> str:
        module = getattr(self.function, "__module__", None) or "?"
        qualname = getattr(self.function, "__qualname__", None) or repr(self.function)
        return f"{module}:{qualname}"

    def matches(self, path: str) -> bool:
        return self.pattern.search(path) is not None

    def wants(self, event: RealmEvent) -> bool:
        classes = event.classes
        if self.classes is None:
            return bool(classes)
        return any(c in self.classes for c in classes)


class Notifier:
    """Runs handlers on realm changes; see the module documentation.

    ``retry_initial``/``retry_max``: the backoff (seconds, with jitter) before a
    failed handler is called again. ``rescan_interval``: how often the realm
    list is read again, in case the event stream missed a new realm.
    """

    def __init__(
        self,
        server_url: str,
        *,
        username: str,
        password: str,
        data_dir: str | Path,
        max_concurrent: int = 8,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        rescan_interval: float = 10.0,
        sync_config: SyncConfig | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise NotifierError(f"max_concurrent must be at least 1, not {max_concurrent}")
        self.server_url = server_url.rstrip("/")
        self.username = username
        self._password = password
        self.data_dir = Path(data_dir)
        self.max_concurrent = max_concurrent
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.rescan_interval = rescan_interval
        # Only this process writes the notifier's copies: no file watching needed.
        self.sync_config = sync_config or SyncConfig(watch_files=False)
        self.handlers: list[Handler] = []
        self._realms: dict[str, _RealmWorker] = {}
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._run_task: asyncio.Task[None] | None = None
        self._app: App | None = None
        self._user: User | None = None
        self._slots: asyncio.Semaphore | None = None
        self._started: asyncio.Event | None = None
        self._watch_listeners: list[WatchListener] = []

    # ------------------------------------------------------------------ registration

    def on(
        self,
        pattern: str | re.Pattern[str],
        function: HandlerFunction,
        *,
        classes: Iterable[str] | None = None,
    ) -> Handler:
        """Call ``function(event)`` for changes to realms whose path matches the
        regular expression ``pattern`` (``re.search``); ``classes``: only events
        that change one of these classes (None: every class)."""
        if self._run_task is not None or self._stop is not None:
            raise HandlerSpecError("register handlers before the notifier runs")
        if not callable(function):
            raise HandlerSpecError(f"a handler must be callable, not {function!r}")
        try:
            compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        except re.error as exc:
            raise HandlerSpecError(f"bad realm path pattern {pattern!r}: {exc}") from None
        if isinstance(classes, str):
            raise HandlerSpecError(f"classes is a list of class names, e.g. [{classes!r}]")
        handler = Handler(compiled, function, None if classes is None else frozenset(classes))
        self.handlers.append(handler)
        return handler

    @property
    def label(self) -> str:
        """What the notifier's sync connection says it is (its ``User-Agent``)."""
        names = ", ".join(h.name for h in self.handlers) or "none"
        return f"studio-notifier/{package_version()} (handlers: {names})"

    @property
    def realms(self) -> list[str]:
        """Paths of the realms being watched."""
        return sorted(self._realms)

    def position(self, path: str) -> int:
        """Server version of the last event handled for a watched realm."""
        return self._worker(path).journal.handled

    def pending(self, path: str) -> int:
        """How many events of a watched realm wait for (or are in) their handlers."""
        return self._worker(path).journal.pending_count

    def realm(self, path: str) -> SyncedRealm:
        """The notifier's synced copy of a watched realm (writes sync to devices)."""
        realm = self._worker(path).realm
        assert realm is not None  # a worker is listed once its realm is open
        return realm

    def add_watch_listener(self, listener: WatchListener) -> None:
        """Call ``listener(path, realm)`` each time a realm starts being watched,
        once its copy is open (it may not have downloaded everything yet)."""
        self._watch_listeners.append(listener)

    async def watch(self, path: str) -> bool:
        """Watch a realm now rather than at the next discovery (a realm that does
        not exist on the server yet is created); returns whether it is watched
        (False: no handler matches it, or it could not be opened)."""
        if self._app is None or self._user is None:
            raise NotifierError("the notifier is not running")
        await self._watch(path)
        return path in self._realms

    def _worker(self, path: str) -> _RealmWorker:
        worker = self._realms.get(path)
        if worker is None:
            raise NotifierError(f"{path} is not watched; watched: {', '.join(self.realms)}")
        return worker

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Log in, watch realms and deliver events until :meth:`stop`."""
        if not self.handlers:
            raise NotifierError("no handlers: call notifier.on(pattern, function) first")
        if self._stop is not None:
            raise NotifierError("this notifier is already running")
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        self._started = self._started or asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_concurrent)
        (self.data_dir / "realms").mkdir(parents=True, exist_ok=True)
        config = dataclasses.replace(self.sync_config, user_agent=self.label)
        app = self._app = App(self.server_url, config=config, base_dir=self.data_dir / "realms")
        tasks: list[asyncio.Task[None]] = []
        try:
            self._user = await app.login(self.username, self._password)
            log(logging.INFO, "notifier_started", server=self.server_url, user=self.username,
                handlers=[h.name for h in self.handlers], data_dir=str(self.data_dir))  # fmt: skip
            try:
                await self._rescan()
            except ApiError as exc:
                if not exc.try_again:
                    raise  # not an admin, say: no point going on
                # A passing server failure: the periodic rescan lists them again.
                log(logging.WARNING, "realm_list_failed", error=str(exc))
            self._started.set()
            tasks = [
                asyncio.create_task(self._follow_events()),
                asyncio.create_task(self._rescan_periodically()),
            ]
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            for worker in list(self._realms.values()):
                await worker.close()
            self._realms.clear()
            await app.close()
            self._app = None
            self._stop = None
            self._stop_requested = False
            self._started = None
            log(logging.INFO, "notifier_stopped", server=self.server_url)

    def stop(self) -> None:
        """Make :meth:`run` return (a handler being called is cancelled; its
        event is delivered again on the next run)."""
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()

    async def started(self) -> None:
        """Wait until the notifier is logged in and watches the realms that existed."""
        self._started = self._started or asyncio.Event()
        await self._started.wait()

    async def __aenter__(self) -> Notifier:
        self._started = asyncio.Event()
        self._run_task = asyncio.create_task(self.run())
        waiter = asyncio.create_task(self._started.wait())
        await asyncio.wait({self._run_task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._run_task.done():
            task, self._run_task = self._run_task, None
            task.result()  # raises what made run() fail (e.g. a wrong password)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        task, self._run_task = self._run_task, None
        if task is not None:
            await task

    # ------------------------------------------------------------------ discovery

    async def _rescan(self) -> None:
        app = self._app
        assert app is not None
        for info in await app.admin.list_realms():
            path = info.get("path")
            if isinstance(path, str):
                await self._watch(path)

    async def _rescan_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.rescan_interval)
            try:
                await self._rescan()
            except Exception as exc:
                log(logging.WARNING, "realm_list_failed", error=str(exc))

    async def _follow_events(self) -> None:
        """New realms as the admin event stream mentions them (reconnecting on failure)."""
        app = self._app
        assert app is not None
        backoff = Backoff(0.5, 30.0)
        while True:
            try:
                async for event in app.admin.events():
                    backoff.reset()
                    path = event.get("realm")
                    if isinstance(path, str) and path not in self._realms:
                        await self._watch(path)
            except Exception as exc:
                log(logging.WARNING, "event_stream_failed", error=str(exc))
            await asyncio.sleep(backoff.next_delay())

    async def _watch(self, path: str) -> None:
        if path in self._realms:
            return
        handlers = [h for h in self.handlers if h.matches(path)]
        if not handlers:
            return
        assert self._app is not None and self._user is not None and self._slots is not None
        worker = _RealmWorker(self, path, handlers, self._slots)
        self._realms[path] = worker
        try:
            await worker.open(self._app, self._user)
        except Exception as exc:
            del self._realms[path]
            log(logging.ERROR, "realm_open_failed", realm=path, error=str(exc))
            return
        log(logging.INFO, "realm_watched", realm=path, handlers=[h.name for h in handlers],
            position=worker.journal.handled)  # fmt: skip
        for listener in self._watch_listeners:
            try:
                listener(path, self.realm(path))
            except Exception:
                log_exception("watch_listener_failed", realm=path)


def local_name(path: str) -> str:
    """The file name (without suffix) of a realm's copy and journal in ``data_dir``."""
    return urllib.parse.quote(path, safe="")


class _RealmWorker:
    """One watched realm: its synced copy, its journal and its delivery task."""

    def __init__(
        self, notifier: Notifier, path: str, handlers: list[Handler], slots: asyncio.Semaphore
    ) -> None:
        self.notifier = notifier
        self.path = path
        self.handlers = handlers
        self.slots = slots
        base = notifier.data_dir / "realms" / local_name(path)
        self.realm_file = base.with_name(base.name + ".realm")
        self.journal = EventJournal(base.with_name(base.name + ".events.sqlite"))
        self.realm: SyncedRealm | None = None
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def open(self, app: App, user: User) -> None:
        realm = await app.open_realm(user, self.path, path=self.realm_file)
        # No await since open_realm returned: no download can have slipped past.
        session = realm.sync_session
        session.add_download_observer(self._observe)
        session.add_error_listener(self._sync_error)
        self.realm = realm
        self.wake.set()  # events left from the last run
        self.task = asyncio.create_task(self._deliver())

    def _observe(self, server_version: int, changesets: Sequence[Changeset]) -> None:
        """Inside the download's transaction, before it is applied: journal it."""
        if server_version <= self.journal.last_recorded or self.realm is None:
            return  # downloaded again after a crash: already journaled
        changes = summarize(self.realm, changesets)
        if changes:
            self.journal.record(server_version, changes.to_json())
            self.wake.set()

    def _sync_error(self, session: SyncSession, error: SyncSessionError) -> None:
        level = logging.ERROR if error.fatal else logging.WARNING
        log(level, "realm_sync_error", realm=self.path, code=error.code, error=str(error),
            fatal=error.fatal)  # fmt: skip

    async def _deliver(self) -> None:
        backoff = Backoff(self.notifier.retry_initial, self.notifier.retry_max)
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                while (pending := self.journal.next_pending()) is not None:
                    server_version, text = pending
                    await self._handle(server_version, Changes.from_json(text))
                    self.journal.mark_handled(server_version)
                    backoff.reset()
            except Exception:  # the journal failed (disk full?): keep the realm, try again
                log_exception("delivery_failed", realm=self.path)
                await asyncio.sleep(backoff.next_delay())
                self.wake.set()

    async def _handle(self, server_version: int, changes: Changes) -> None:
        assert self.realm is not None
        event = RealmEvent(self.path, self.realm, server_version, changes)
        waiting = [h for h in self.handlers if h.wants(event)]
        backoff = Backoff(self.notifier.retry_initial, self.notifier.retry_max)
        attempt = 1
        while waiting:
            async with self.slots:
                waiting = [h for h in waiting if not await self._call(h, event, attempt)]
            if waiting:
                delay = backoff.next_delay()
                log(logging.WARNING, "event_retry", realm=self.path, server_version=server_version,
                    handlers=[h.name for h in waiting], attempt=attempt,
                    retry_in=round(delay, 3))  # fmt: skip
                await asyncio.sleep(delay)
                attempt += 1

    async def _call(self, handler: Handler, event: RealmEvent, attempt: int) -> bool:
        start = time.perf_counter()
        try:
            result = handler.function(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log_exception("handler_failed", realm=self.path, server_version=event.server_version,
                          handler=handler.name, attempt=attempt)  # fmt: skip
            return False
        log(logging.INFO, "event_handled", realm=self.path, server_version=event.server_version,
            handler=handler.name, classes=list(event.classes),
            ms=round((time.perf_counter() - start) * 1000, 1))  # fmt: skip
        return True

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
        if self.realm is not None and not self.realm.is_closed:
            self.realm.close()
        self.journal.close()
