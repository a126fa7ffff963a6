"""The server window (object name ``serverWindow``): log in to an object server, then
watch and administer it live.

Pages: the login form, then tabs: Dashboard, Realms, Users, Connections, Sync
events, Logs, History. The status bar's connection indicator says whether the
admin event stream is up, and counts down to the next attempt while the server
is away (the window stays usable meanwhile: nothing here waits on the network
in a slot; the work runs as asyncio tasks on the qasync loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from studio.sync.client import SyncedRealm
from studio.ui.browser import BUSY_TIMEOUT_MS, RealmBrowser
from studio.ui.server.common import async_slot
from studio.ui.server.connections_tab import ConnectionsTab
from studio.ui.server.dashboard import Dashboard
from studio.ui.server.errors import describe_connect_error
from studio.ui.server.history import HistoryPanel
from studio.ui.server.link import LinkState, ServerLink
from studio.ui.server.login import LoginForm
from studio.ui.server.nodes_tab import NodesTab
from studio.ui.server.realms_tab import RealmsTab
from studio.ui.server.tails import LogsTab, SyncEventsTab
from studio.ui.server.users_tab import UsersTab

OPEN_DOWNLOAD_TIMEOUT = 10.0  # wait this long for a realm's data before showing it anyway

_INDICATOR = {
    LinkState.DISCONNECTED: ("#9e9e9e", "Not connected"),
    LinkState.CONNECTING: ("#f9a825", "Connecting…"),
    LinkState.CONNECTED: ("#2e7d32", "Connected"),
    LinkState.RECONNECTING: ("#e65100", "Reconnecting"),
}


def default_data_dir() -> Path:
    """Where the Studio keeps the local copies of realms it opens from servers."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(folder or Path.home() / ".studio") / "synced"


class ServerWindow(QMainWindow):
    loggedIn = Signal()
    windowClosed = Signal(object)

    def __init__(self, url: str = "", *, manager: Any = None, data_dir: str | Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("serverWindow")
        self.setWindowTitle("Connect to a server")
        self.manager = manager
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.link: ServerLink | None = None
        self.browsers: list[RealmBrowser] = []
        self.closing: asyncio.Future[None] | None = None
        self.tabs: QTabWidget | None = None
        self._closed = False

        self.pages = QStackedWidget(self)
        self.login_form = LoginForm(url, self.pages)
        self.login_form.submitted.connect(self.login)
        self.pages.addWidget(self.login_form)
        self.setCentralWidget(self.pages)

        status = self.statusBar()
        self.indicator = QLabel(self)
        self.indicator.setObjectName("connectionIndicator")
        status.addWidget(self.indicator, 1)
        self.retry_button = QPushButton("Retry now", self)
        self.retry_button.setObjectName("retryButton")
        self.retry_button.clicked.connect(self._retry)
        self.retry_button.hide()
        status.addPermanentWidget(self.retry_button)
        self.logout_button = QPushButton("Log out", self)
        self.logout_button.setObjectName("logoutButton")
        self.logout_button.clicked.connect(self.log_out)
        self.logout_button.hide()
        status.addPermanentWidget(self.logout_button)
        self._countdown = QTimer(self)
        self._countdown.setInterval(250)
        self._countdown.timeout.connect(self._update_indicator)
        self._update_indicator()
        self.resize(1280, 800)
        self.login_form.focus_first_empty()

    # -- logging in ------------------------------------------------------------------------

    @async_slot(str, str, str)
    async def login(self, url: str, username: str, password: str) -> bool:
        """Log in and show the tabs; on failure the form says why. Returns success."""
        self.login_form.set_busy(True)
        if self.link is not None:
            await self._drop_link()
        link = ServerLink(url, self.data_dir, parent=self)
        link.stateChanged.connect(lambda *_: self._update_indicator())
        self.link = link
        try:
            await link.login(username, password)
        except Exception as exc:
            if self.link is link:
                self.link = None
            await link.close()
            link.deleteLater()
            self.login_form.show_error(describe_connect_error(exc, url))
            self._update_indicator()
            return False
        if self._closed:
            await link.close()
            return False
        self.login_form.succeeded(url, username)
        self._build_tabs(link)
        link.eventsReceived.connect(self._dispatch)
        link.connected.connect(self._reconnected)
        self._reconnected()
        host = url.split("://", 1)[-1]
        self.setWindowTitle(f"{host} (server)")
        self.logout_button.show()
        self._update_indicator()
        self.loggedIn.emit()
        return True

    def _build_tabs(self, link: ServerLink) -> None:
        if self.tabs is not None:
            self.pages.removeWidget(self.tabs)
            self.tabs.deleteLater()
        tabs = QTabWidget(self.pages)
        tabs.setObjectName("serverTabs")
        self.dashboard = Dashboard(tabs)
        self.realms_tab = RealmsTab(link, self.open_realm, tabs)
        self.users_tab = UsersTab(link, tabs)
        self.connections_tab = ConnectionsTab(link, tabs)
        self.nodes_tab = NodesTab(link, tabs)
        self.events_tab = SyncEventsTab(link, tabs)
        self.logs_tab = LogsTab(link, tabs)
        self.history_tab = HistoryPanel(link, parent=tabs)
        # The Realms tab's list is the freshest one (it reloads after a create or delete).
        self.realms_tab.model.modelReset.connect(
            lambda: self.history_tab.set_realm_paths(self.realms_tab.paths()))
        for widget, title in ((self.dashboard, "Dashboard"), (self.realms_tab, "Realms"),
                              (self.users_tab, "Users"), (self.connections_tab, "Connections"),
                              (self.nodes_tab, "Nodes"), (self.events_tab, "Sync events"),
                              (self.logs_tab, "Logs"),
                              (self.history_tab, "History")):
            tabs.addTab(widget, title)
        self.tabs = tabs
        self.pages.addWidget(tabs)
        self.pages.setCurrentWidget(tabs)

    def show_tab(self, name: str) -> QWidget:
        """Switch to a tab by its title (``"Realms"``) or object name (``"realmsTab"``)."""
        assert self.tabs is not None, "log in first"
        for i in range(self.tabs.count()):
            widget = self.tabs.widget(i)
            assert widget is not None  # i is within count()
            if name in (self.tabs.tabText(i), widget.objectName()):
                self.tabs.setCurrentIndex(i)
                return widget
        raise KeyError(name)

    def _dispatch(self, events: list[dict[str, Any]]) -> None:
        """One batch of stream events (at most every 100 ms) to every tab that wants it."""
        if self.tabs is None:
            return
        self.dashboard.ingest(events)
        self.events_tab.on_events(events)
        self.logs_tab.on_events(events)
        self.realms_tab.on_events(events)
        self.connections_tab.on_events(events)
        self.history_tab.on_events(events)
        for browser in self.browsers:
            panel = getattr(browser, "history_panel", None)
            if panel is not None:
                panel.on_events(events)

    def _reconnected(self) -> None:
        """(Re)connected: what the lists show may be stale."""
        if self.tabs is None:
            return
        self.realms_tab.spawn(self._reload_lists())

    async def _reload_lists(self) -> None:
        await self.realms_tab.reload()
        paths = self.realms_tab.paths()
        self.users_tab.set_realm_paths(paths)
        self.history_tab.set_realm_paths(paths)
        await self.users_tab.reload()
        self.realms_tab.permissions.set_users(self.users_tab.names())

    # -- the indicator ---------------------------------------------------------------------

    def _update_indicator(self) -> None:
        link = self.link
        state = link.state if link is not None else LinkState.DISCONNECTED
        colour, text = _INDICATOR[state]
        detail = ""
        if link is not None and state is LinkState.CONNECTED:
            user = link.user.username if link.user else ""
            version = link.server_info.get("version", "")
            detail = f" to {link.url} as {user}" + (f" (server {version})" if version else "")
        elif link is not None and state is LinkState.RECONNECTING:
            wait = max(0.0, (link.retry_at or time.monotonic()) - time.monotonic())
            detail = (f" in {wait:.0f} s (attempt {link.attempts})" if link.retry_at else
                      f" (attempt {link.attempts})") + f": {link.detail}"
        self.indicator.setText(f"<span style='color:{colour}; font-size:14px'>●</span> "
                               f"{text}{detail}")
        self.indicator.setToolTip(link.detail if link is not None else "")
        reconnecting = state is LinkState.RECONNECTING
        self.retry_button.setVisible(reconnecting)
        if reconnecting and not self._countdown.isActive():
            self._countdown.start()
        elif not reconnecting:
            self._countdown.stop()

    @property
    def state(self) -> LinkState:
        return self.link.state if self.link is not None else LinkState.DISCONNECTED

    def _retry(self) -> None:
        if self.link is not None:
            self.link.retry_now()

    # -- opening realms --------------------------------------------------------------------

    def open_realm(self, path: str) -> None:
        """The Realms tab's "Open": the realm in a browser, as a synced local copy."""
        existing = self.browser_for(path)
        if existing is not None:
            existing.show()
            existing.raise_()
            existing.activateWindow()
            return
        self.realms_tab.spawn(self.open_synced(path))

    def browser_for(self, realm_path: str) -> RealmBrowser | None:
        for browser in self.browsers:
            if getattr(browser, "realm_path", None) == realm_path:
                return browser
        return None

    async def open_synced(self, path: str) -> RealmBrowser:
        """Open ``path``'s local copy (under the data folder), syncing, in a browser with a
        History dock. Raises what the sync client raises."""
        link = self.link
        assert link is not None and link.user is not None, "log in first"
        realm: SyncedRealm = await link.app.open_realm(link.user, path)
        # As the browser does for files: never let a write wait 30 s for a lock in the UI.
        realm.lock_timeout = BUSY_TIMEOUT_MS / 1000
        try:
            await realm.sync_session.wait_for_download_completion(OPEN_DOWNLOAD_TIMEOUT)
        except TimeoutError:
            pass  # shown anyway; the rest arrives live
        except Exception as exc:
            realm.close()
            raise exc
        browser = RealmBrowser(realm, manager=self.manager)
        # realm_path and history_panel are the server window's marks on its browsers, which
        # RealmBrowser does not declare.
        browser.realm_path = path  # type: ignore[attr-defined]
        host = link.url.split("://", 1)[-1]
        browser.setWindowTitle(f"{path} on {host} (synced)")
        panel = HistoryPanel(link, path, realm, browser)
        dock = QDockWidget("History", browser)
        dock.setObjectName("historyDock")
        dock.setWidget(panel)
        browser.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        browser.history_panel = panel  # type: ignore[attr-defined]
        browser.closed.connect(self._browser_closed)
        self.browsers.append(browser)
        browser.show()
        browser.show_message(f"A synced copy of {path} on {host}: edits here sync to every "
                             "connected device, and theirs show up here live.", "info", 8000)
        panel.spawn(panel.reload(full=True))
        return browser

    def _browser_closed(self, browser: RealmBrowser) -> None:
        panel = getattr(browser, "history_panel", None)
        if panel is not None:
            with contextlib.suppress(Exception):  # the realm is closed already
                panel.close_panel()
        if browser in self.browsers:
            self.browsers.remove(browser)

    # -- leaving ---------------------------------------------------------------------------

    @async_slot()
    async def log_out(self) -> None:
        await self._drop_link()
        self.pages.setCurrentWidget(self.login_form)
        self.logout_button.hide()
        self.setWindowTitle("Connect to a server")
        self._update_indicator()
        self.login_form.focus_first_empty()

    async def _drop_link(self) -> None:
        for browser in list(self.browsers):
            browser.close()
        if self.tabs is not None:
            for tab in (self.realms_tab, self.users_tab, self.connections_tab, self.events_tab,
                        self.logs_tab, self.history_tab):
                tab.cancel_tasks()
            self.dashboard.stop()
            self.history_tab.close_panel()
        link, self.link = self.link, None
        if link is not None:
            await link.close()
            link.deleteLater()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        self._countdown.stop()
        # Nothing to stop before a login (e.g. a screenshot of the form, with no loop).
        if self.closing is None and (self.link is not None or self.browsers):
            self.closing = asyncio.ensure_future(self._drop_link())
        self.windowClosed.emit(self)
        super().closeEvent(event)
