"""The notifier's per-realm journal: events not yet handled, and the position.

One small SQLite file next to the notifier's copy of the realm. A download's
summary is recorded *before* the download commits to the realm (the sync
client's download observer runs inside that transaction), and the position
(the server version of the last handled event) is stored after the handlers
returned; so after a crash or restart every event not known to be handled is
delivered again: at least once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from studio.integrations.errors import NotifierError


class EventJournal:
    """Pending events (server version -> summary JSON) and the handled position."""

    def __init__(self, file: Path) -> None:
        self.file = file
        try:
            self._db = sqlite3.connect(file, isolation_level=None)
            self._db.executescript(
                "CREATE TABLE IF NOT EXISTS events"
                " (server_version INTEGER PRIMARY KEY, changes TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS position"
                " (id INTEGER PRIMARY KEY CHECK (id = 1), handled INTEGER NOT NULL);"
                "INSERT OR IGNORE INTO position VALUES (1, 0);"
            )
        except sqlite3.Error as exc:
            raise NotifierError(
                f"cannot open the notifier journal {file}: {exc}; check the data "
                "directory is writable, or remove this file to deliver the realm again"
            ) from exc

    @property
    def handled(self) -> int:
        """Server version of the last event every handler finished."""
        return int(self._db.execute("SELECT handled FROM position").fetchone()[0])

    @property
    def last_recorded(self) -> int:
        row = self._db.execute("SELECT MAX(server_version) FROM events").fetchone()
        return max(int(row[0] or 0), self.handled)

    @property
    def pending_count(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM events WHERE server_version > ?", (self.handled,)
        ).fetchone()
        return int(row[0])

    def record(self, server_version: int, changes: str) -> None:
        """Keep an event (a download seen again after a crash is ignored)."""
        if server_version > self.last_recorded:
            self._db.execute("INSERT INTO events VALUES (?, ?)", (server_version, changes))

    def next_pending(self) -> tuple[int, str] | None:
        """The oldest event not handled yet."""
        row = self._db.execute(
            "SELECT server_version, changes FROM events WHERE server_version > ?"
            " ORDER BY server_version LIMIT 1",
            (self.handled,),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def mark_handled(self, server_version: int) -> None:
        db = self._db
        db.execute("BEGIN")
        db.execute("UPDATE position SET handled = ?", (server_version,))
        db.execute("DELETE FROM events WHERE server_version <= ?", (server_version,))
        db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
