"""examples/chat/: two chat windows sync live; messages written offline merge in time
order when back online; the example and ``studio demo`` share one schema."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from studio.ui.demo import CHAT_SCHEMA, ServerProcess

pytest_plugins = ("test_server_support",)

from test_server_support import ADMIN_PASSWORD, run, wait  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chat" / "chat.py"


@pytest.fixture(scope="module")
def chat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chat_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chat_example"] = module
    spec.loader.exec_module(module)
    return module


def test_the_example_and_the_demo_share_the_schema(chat: ModuleType) -> None:
    assert chat.CHAT_SCHEMA == CHAT_SCHEMA


def test_two_chat_windows_sync_and_offline_messages_merge_in_time_order(
        chat: ModuleType, qtbot: Any, qloop: Any, server: ServerProcess,
        tmp_path: Path) -> None:
    from studio.sync.client import App

    async def users() -> None:
        async with App(server.url, base_dir=tmp_path / "admin") as app:
            await app.login("admin", ADMIN_PASSWORD)
            await app.admin.create_realm("/shared/example-chat")
            for name in ("ann", "bob"):
                await app.admin.create_user(name, "pw")
                await app.admin.set_permission("/shared/example-chat", name, "write")

    run(qtbot, users())
    apps = []
    windows = []
    for name in ("ann", "bob"):
        app, window = run(qtbot, chat.open_chat(server.url, name, "pw", "/shared/example-chat",
                                                tmp_path / name))
        apps.append(app)
        windows.append(window)
        qtbot.addWidget(window)
        window.show()
    ann, bob = windows
    wait(qtbot, lambda: "Online" in ann.status.text() and "Online" in bob.status.text())
    ann.line.setText("hi bob")
    ann.send()
    wait(qtbot, lambda: bob.texts() == ["ann: hi bob"])
    # Bob goes offline and writes; ann writes meanwhile, later than bob's first message.
    bob.online.setChecked(False)
    assert "Offline" in bob.status.text()
    bob.line.setText("offline one")
    bob.send()
    qtbot.wait(30)
    ann.line.setText("are you there?")
    ann.send()
    qtbot.wait(30)
    bob.line.setText("offline two")
    bob.send()
    qtbot.wait(500)
    assert "bob: offline one" not in ann.texts()  # not uploaded while offline
    assert "ann: are you there?" not in bob.texts()
    bob.online.setChecked(True)
    expected = ["ann: hi bob", "bob: offline one", "ann: are you there?", "bob: offline two"]
    wait(qtbot, lambda: ann.texts() == expected and bob.texts() == expected)
    for window in windows:
        window.close()
    for app in apps:
        run(qtbot, app.close())
