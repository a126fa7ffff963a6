"""A small Qt chat client on studio.sync: every instance syncs one chat realm live.

    python examples/chat/chat.py --server http://127.0.0.1:9080 --user ann
    python examples/chat/chat.py --server http://127.0.0.1:9080 --user bob

(the password is asked for, or taken from CHAT_PASSWORD). Messages are objects in a
synced realm (``/shared/chat`` by default), appended to the chat's ``messages`` list.
Untick "Online" and keep writing: the messages stay in the local file and upload when
you are back, where the server merges them with what the others wrote meanwhile; the
list ends up the same on every device, in time order.

Try it with ``studio demo`` running (it prints the server's address and the users'
password), next to the simulated ann and bob.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core import ObjectId
from studio.sync.client import App, SessionConnectionState, SyncedRealm

# The same schema as the Studio's demo (studio/ui/demo.py): both write the same realm.
CHAT_SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Message",
        "primaryKey": "_id",
        "properties": {
            "_id": "objectId",
            "text": "string",
            "author": {"type": "string", "indexed": True},
            "sent": "date",
            "offline": "bool",
        },
    },
    {
        "name": "Chat",
        "primaryKey": "_id",
        "properties": {"_id": "string", "title": "string", "messages": "Message[]"},
    },
]
CHAT_ID = "main"


class ChatWindow(QWidget):
    """The messages of one synced chat realm, a line to write, and an Online switch."""

    def __init__(self, realm: SyncedRealm, author: str) -> None:
        super().__init__()
        self.setObjectName("chatWindow")
        self.realm = realm
        self.author = author
        self.setWindowTitle(f"Chat — {author}")
        self.resize(460, 560)
        layout = QVBoxLayout(self)
        self.status = QLabel(self)
        self.status.setObjectName("chatStatus")
        layout.addWidget(self.status)
        self.messages = QListWidget(self)
        self.messages.setObjectName("chatMessages")
        self.messages.setWordWrap(True)
        layout.addWidget(self.messages, 1)
        row = QHBoxLayout()
        self.line = QLineEdit(self)
        self.line.setObjectName("chatLine")
        self.line.setPlaceholderText("Write a message…")
        self.line.returnPressed.connect(self.send)
        row.addWidget(self.line, 1)
        self.send_button = QPushButton("Send", self)
        self.send_button.clicked.connect(lambda _checked=False: self.send())
        row.addWidget(self.send_button)
        self.online = QCheckBox("Online", self)
        self.online.setObjectName("chatOnline")
        self.online.setChecked(True)
        self.online.toggled.connect(self.set_online)
        row.addWidget(self.online)
        layout.addLayout(row)
        # Local writes and downloads alike end in a commit: one listener shows both.
        self._token = realm.add_listener(lambda *_: self.refresh())
        realm.sync_session.add_connection_listener(lambda *_: self._show_status())
        self.refresh()
        self._show_status()

    def texts(self) -> list[str]:
        """The messages as shown ("author: text"), oldest first."""
        return [self.messages.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.messages.count())]

    def refresh(self) -> None:
        chat = self.realm.object_for_primary_key("Chat", CHAT_ID)
        at_end = self.messages.verticalScrollBar().value() >= \
            self.messages.verticalScrollBar().maximum() - 2
        self.messages.clear()
        for message in chat["messages"] if chat is not None else []:
            sent = message["sent"].astimezone().strftime("%H:%M:%S")
            mark = "  (written offline)" if message["offline"] else ""
            item = QListWidgetItem(f"{sent}  {message['author']}: {message['text']}{mark}")
            item.setData(Qt.ItemDataRole.UserRole, f"{message['author']}: {message['text']}")
            self.messages.addItem(item)
        if at_end:
            self.messages.scrollToBottom()

    def send(self) -> None:
        text = self.line.text().strip()
        if not text:
            return
        # Never waits for the network: the write is local, the upload follows.
        with self.realm.write():
            chat = self.realm.object_for_primary_key("Chat", CHAT_ID) or self.realm.create(
                "Chat", {"_id": CHAT_ID, "title": "Team chat"})
            message = self.realm.create("Message", {
                "_id": ObjectId(), "text": text, "author": self.author,
                "sent": datetime.now(UTC), "offline": not self.online.isChecked()})
            chat["messages"].append(message)
        self.line.clear()

    def set_online(self, online: bool) -> None:
        session = self.realm.sync_session
        if online:
            session.resume()
        else:
            session.pause()
        self._show_status()

    def _show_status(self) -> None:
        state = self.realm.sync_session.connection_state
        if not self.online.isChecked():
            text = "Offline: messages stay on this device until you are back online"
        elif state is SessionConnectionState.CONNECTED:
            text = "Online: synced live"
        else:
            text = f"Connecting… ({state.value})"
        self.status.setText(text)

    def closeEvent(self, event: Any) -> None:
        self._token.remove()
        super().closeEvent(event)


async def open_chat(server: str, user: str, password: str, realm_path: str,
                    folder: Path) -> tuple[App, ChatWindow]:
    """Log in, open (and start syncing) the chat realm, and make its window."""
    app = App(server, base_dir=folder)
    account = await app.login(user, password)
    realm = await app.open_realm(account, realm_path, path=folder / f"{user}-chat.realm",
                                 schema=CHAT_SCHEMA)
    return app, ChatWindow(realm, user)


def main() -> int:
    import qasync

    parser = argparse.ArgumentParser(description="A chat client on studio.sync.")
    parser.add_argument("--server", default="http://127.0.0.1:9080")
    parser.add_argument("--user", required=True)
    parser.add_argument("--realm", default="/shared/chat")
    parser.add_argument("--data", default=str(Path.home() / ".studio-chat"),
                        help="folder of the local realm files")
    args = parser.parse_args()
    password = os.environ.get("CHAT_PASSWORD") or getpass.getpass(f"{args.user}'s password: ")
    qt = QApplication(sys.argv)
    loop = qasync.QEventLoop(qt)
    asyncio.set_event_loop(loop)

    async def run() -> None:
        app, window = await open_chat(args.server, args.user, password, args.realm,
                                      Path(args.data))
        closed = asyncio.Event()
        window.destroyed.connect(closed.set)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.show()
        await closed.wait()
        await app.close()

    qt.setQuitOnLastWindowClosed(False)
    with loop:
        loop.run_until_complete(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
