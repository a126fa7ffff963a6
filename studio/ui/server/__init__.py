"""The Studio's server window: log in to an object server and watch it live.

``ServerWindow`` (object name ``serverWindow``) holds the login form and the
tabs (Dashboard ``dashboard``, Realms, Users, Connections, Sync events, Logs,
History). It talks to servers over the network only, with the sync client
(``studio.sync.client.App``) on the qasync loop. See docs/server-window.md.
"""

from __future__ import annotations

from studio.ui.server.window import ServerWindow, default_data_dir

__all__ = ["ServerWindow", "default_data_dir"]
