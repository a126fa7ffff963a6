"""The login form (object name ``loginForm``): server URL, username, password.

The URL and username are remembered in the Studio's settings; the password is
never written anywhere (it lives in the line edit until the login is done, and
the edit is cleared then).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.recent import settings
from studio.ui.server.errors import normalize_urls, username_in_url

URL_KEY = "server/url"
USER_KEY = "server/username"
DEFAULT_URL = "http://localhost:9080"


def remembered() -> tuple[str, str]:
    """(url, username) of the last successful login."""
    store = settings()
    return str(store.value(URL_KEY, "") or ""), str(store.value(USER_KEY, "") or "")


def remember(url: str, username: str) -> None:
    store = settings()
    store.setValue(URL_KEY, url)
    store.setValue(USER_KEY, username)
    store.sync()


def _shown_url(url: str) -> str:
    """``http://admin@host:port`` -> ``http://host:port`` (the user goes in its own
    field); several comma-separated servers stay several."""
    try:
        return normalize_urls(url) if url else ""
    except ValueError:
        return url  # shown as typed; Connect says what is wrong with it


class LoginForm(QWidget):
    """Emits ``submitted(url, username, password)``; the window does the logging in."""

    submitted = Signal(str, str, str)

    def __init__(self, url: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loginForm")
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        box = QWidget(self)
        box.setMinimumWidth(440)
        box.setMaximumWidth(520)
        column = QVBoxLayout(box)
        title = QLabel("Connect to an object server", box)
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        column.addWidget(title)
        hint = QLabel("Log in as an admin user to see the server's realms, users, "
                      "connections and live sync activity.", box)
        hint.setWordWrap(True)
        hint.setStyleSheet("QLabel { color: gray; }")
        column.addWidget(hint)
        form = QFormLayout()
        saved_url, saved_user = remembered()
        self.url_edit = QLineEdit(box)
        self.url_edit.setObjectName("serverUrl")
        self.url_edit.setPlaceholderText(DEFAULT_URL)
        self.url_edit.setText(_shown_url(url) or saved_url or DEFAULT_URL)
        self.url_edit.setToolTip("The server's address. Several servers in front of one "
                                 "store: separate them with commas; the window moves on "
                                 "to the next when one cannot be reached.")
        form.addRow("Server", self.url_edit)
        self.user_edit = QLineEdit(box)
        self.user_edit.setObjectName("username")
        self.user_edit.setText(username_in_url(url) if url and "@" in url else saved_user)
        form.addRow("Username", self.user_edit)
        self.password_edit = QLineEdit(box)
        self.password_edit.setObjectName("password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Password", self.password_edit)
        column.addLayout(form)
        self.error_label = QLabel("", box)
        self.error_label.setObjectName("loginError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet("QLabel { color: #c62828; }")
        self.error_label.hide()
        column.addWidget(self.error_label)
        self.connect_button = QPushButton("Connect", box)
        self.connect_button.setObjectName("connectButton")
        self.connect_button.setDefault(True)
        self.connect_button.clicked.connect(lambda _checked=False: self.submit())
        column.addWidget(self.connect_button, 0, Qt.AlignmentFlag.AlignRight)
        for edit in (self.url_edit, self.user_edit, self.password_edit):
            edit.returnPressed.connect(self.submit)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)

    def focus_first_empty(self) -> None:
        for edit in (self.url_edit, self.user_edit, self.password_edit):
            if not edit.text():
                edit.setFocus()
                return
        self.password_edit.setFocus()

    def submit(self) -> None:
        if not self.connect_button.isEnabled():
            return  # a login is in flight
        try:
            url = normalize_urls(self.url_edit.text())
        except ValueError as exc:
            self.show_error(str(exc))
            return
        username = self.user_edit.text().strip()
        if not username:
            self.show_error("Enter your username (the server's first admin is 'admin').")
            return
        self.url_edit.setText(url)
        self.submitted.emit(url, username, self.password_edit.text())

    def set_busy(self, busy: bool) -> None:
        self.connect_button.setEnabled(not busy)
        self.connect_button.setText("Connecting…" if busy else "Connect")
        if busy:
            self.error_label.hide()

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
        self.set_busy(False)
        self.password_edit.setFocus()
        self.password_edit.selectAll()

    @property
    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def succeeded(self, url: str, username: str) -> None:
        remember(url, username)
        self.password_edit.clear()
        self.error_label.hide()
        self.set_busy(False)
