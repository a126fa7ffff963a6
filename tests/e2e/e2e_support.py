"""Helpers of the end-to-end tests of the sync client (the server process and the
shared helpers are tests/server_process.py)."""

from __future__ import annotations

from chat_clients import SCHEMA, Writer, texts
from server_process import ADMIN_PASSWORD, ServerProcess

from studio.sync.client import App, SyncConfig

FAST = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)

__all__ = ["FAST", "SCHEMA", "Writer", "admin_app", "make_users", "texts"]

async def admin_app(server: ServerProcess) -> App:
    app = App(server.url, config=FAST)
    await app.login("admin", ADMIN_PASSWORD)
    return app


async def make_users(
    admin: App, realm: str, levels: dict[str, str], password: str = "pw"
) -> None:
    """Create users (if new) and grant them ``levels[user]`` on ``realm``."""
    existing = {u["username"] for u in await admin.admin.list_users()}
    if realm not in {r["path"] for r in await admin.admin.list_realms()}:
        await admin.admin.create_realm(realm)
    for user, level in levels.items():
        if user not in existing:
            await admin.admin.create_user(user, password)
        await admin.admin.set_permission(realm, user, level)  # type: ignore[arg-type]
