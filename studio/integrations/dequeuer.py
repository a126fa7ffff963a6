"""The dequeuer: moves messages from a queue table in PostgreSQL into realms, exactly once.

::

    def write(realm: SyncedRealm, message: QueueMessage) -> None:
        realm.create("Order", {"_id": message.id, **message.body})   # inside a write

    create_queue(conn, "orders")                  # once: the table and its NOTIFY trigger
    enqueue(conn, "/shop/orders", {"item": "tea"}, queue="orders")    # any producer

    dequeuer = Dequeuer("http://127.0.0.1:9080", username="admin", password="...",
                        data_dir="dequeuer-data", dsn="host=... dbname=...",
                        queue="orders", schema=SCHEMA, write=write)
    await dequeuer.run()                          # until dequeuer.stop()

The queue is a table (``id bigserial``, ``realm``, ``body jsonb``, ``attempts``,
``last_error``); a trigger sends ``NOTIFY <queue>`` on insert, so the dequeuer
wakes at once (and it looks at the table every ``poll_interval`` anyway). It
takes up to ``batch_size`` rows with ``FOR UPDATE SKIP LOCKED`` (several
dequeuers share a queue without taking the same row), writes each message in
a realm transaction of its own together with a *receipt* (a ``DequeuedMessage``
object whose primary key names the queue and the message id), waits until the
server acknowledged the realm's uploads, and only then deletes the rows and
commits. A crash anywhere leaves either the row locked by nobody (PostgreSQL
rolls the transaction back) and the receipt in the realm, so the next run
skips the write and deletes the row, or no receipt, so it writes. Exactly once
holds as long as ``data_dir`` survives the crash; see docs/integrations.md.

Needs psycopg 3 (``pip install 'studio[postgres]'``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.integrations.errors import DequeuerError
from studio.integrations.logs import log, log_exception
from studio.primitives.waiting import wait_event
from studio.sync.client import App, SyncConfig, SyncedRealm, User

if TYPE_CHECKING:
    import psycopg

RECEIPT_CLASS = "DequeuedMessage"
RECEIPT_SCHEMA: dict[str, Any] = {
    "name": RECEIPT_CLASS,
    "primaryKey": "_id",
    "properties": {"_id": "string"},
}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclasses.dataclass(frozen=True, slots=True)
class QueueMessage:
    """One row of the queue: its id (unique in the queue), the realm it goes to, and
    its JSON body, decoded."""

    id: int
    realm: str
    body: Any
    attempts: int = 0


WriteMessage = Callable[[SyncedRealm, QueueMessage], None]


def check_queue_name(queue: str) -> str:
    """``queue`` is a table name and a NOTIFY channel, so only a plain identifier."""
    if not _IDENTIFIER.match(queue):
        raise DequeuerError(
            f"bad queue name {queue!r}: use lower-case letters, digits and _ "
            "(at most 63, not starting with a digit)"
        )
    return queue


def queue_sql(queue: str = "studio_queue") -> str:
    """The SQL that creates the queue table and its NOTIFY trigger (idempotent)."""
    q = check_queue_name(queue)
    return f"""
CREATE TABLE IF NOT EXISTS {q} (
    id bigserial PRIMARY KEY,
    realm text NOT NULL CHECK (realm LIKE '/%'),
    body jsonb NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION {q}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{q}', '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS {q}_notify ON {q};
CREATE TRIGGER {q}_notify AFTER INSERT ON {q}
    FOR EACH STATEMENT EXECUTE FUNCTION {q}_notify();
"""


def create_queue(conn: psycopg.Connection[Any], queue: str = "studio_queue") -> None:
    """Create the queue table and its trigger on a (synchronous) psycopg connection."""
    with conn.transaction():
        conn.execute(queue_sql(queue).encode())


def enqueue(
    conn: psycopg.Connection[Any], realm: str, body: Any, *, queue: str = "studio_queue"
) -> int:
    """Add a message for ``realm`` (its JSON ``body``) in the connection's current
    transaction (it counts once committed); returns its id. Producers may as well
    insert rows with their own SQL."""
    q = check_queue_name(queue)
    row = conn.execute(
        f"INSERT INTO {q} (realm, body) VALUES (%s, %s) RETURNING id".encode(),
        (realm, json.dumps(body)),
    ).fetchone()
    assert row is not None
    return int(row[0])


class Dequeuer:
    """Moves queue messages into realms, exactly once; see the module documentation.

    ``write(realm, message)`` is called inside a realm write transaction and must
    only write to the realm (no ``await``, no other side effects: it may run again
    if the transaction fails). A message whose ``write`` raises stays in the table
    with ``attempts`` and ``last_error``; after ``max_attempts`` it is left there
    for an operator (it is no longer taken).
    """

    def __init__(
        self,
        server_url: str,
        *,
        username: str,
        password: str,
        data_dir: str | Path,
        dsn: str,
        write: WriteMessage,
        schema: Sequence[dict[str, Any]],
        queue: str = "studio_queue",
        batch_size: int = 100,
        poll_interval: float = 5.0,
        max_attempts: int = 5,
        upload_timeout: float = 30.0,
        sync_config: SyncConfig | None = None,
    ) -> None:
        if batch_size < 1 or max_attempts < 1:
            raise DequeuerError("batch_size and max_attempts must be at least 1")
        self.server_url = server_url.rstrip("/")
        self.username = username
        self._password = password
        self.data_dir = Path(data_dir)
        self.dsn = dsn
        self.write = write
        self.schema = [*schema, RECEIPT_SCHEMA]
        self.queue = check_queue_name(queue)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.upload_timeout = upload_timeout
        self.sync_config = sync_config or SyncConfig(watch_files=False)
        self.written = 0  # messages written into a realm by this run
        self.skipped = 0  # messages found already written (a crash before the row was deleted)
        self.failed = 0  # calls of write() that raised
        self._app: App | None = None
        self._user: User | None = None
        self._realms: dict[str, SyncedRealm] = {}
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def receipt_key(self, message: QueueMessage) -> str:
        """The primary key of a message's receipt in its realm."""
        return f"{self.queue}/{message.id}"

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Log in, then move messages until :meth:`stop`."""
        import psycopg

        self._stop.clear()
        self._app = App(self.server_url, config=self.sync_config, base_dir=self.data_dir)
        listener: asyncio.Task[None] | None = None
        try:
            self._user = await self._app.login(self.username, self._password)
            listener = asyncio.create_task(self._listen())
            log(logging.INFO, "dequeuer_started", queue=self.queue, server=self.server_url)
            while not self._stop.is_set():
                try:
                    async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
                        await self._move(conn)
                except psycopg.OperationalError as exc:  # PostgreSQL away: connect again
                    log(logging.WARNING, "queue_connection_failed", queue=self.queue,
                        error=str(exc))  # fmt: skip
                    await self._sleep()
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(BaseException):
                    await listener
            await self._close()
            log(logging.INFO, "dequeuer_stopped", queue=self.queue)

    async def _move(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Move batches until stopped, sleeping when the queue is empty; returns if
        the connection is lost."""
        while not self._stop.is_set():
            self._wake.clear()
            try:
                while not self._stop.is_set() and await self.take_batch(conn):
                    pass
            except Exception as exc:
                # PostgreSQL or the object server is away: the batch was rolled
                # back; try again after the poll interval.
                log(logging.WARNING, "dequeue_failed", queue=self.queue, error=str(exc))
                if conn.closed:
                    return
            await self._sleep()

    def stop(self) -> None:
        """Make :meth:`run` return after the batch in hand."""
        self._stop.set()
        self._wake.set()

    async def _sleep(self) -> None:
        await wait_event(self._wake, self.poll_interval)

    async def _listen(self) -> None:
        """Wake the loop on each NOTIFY of the queue (reconnecting on failure)."""
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {self.queue}".encode())
                    self._wake.set()  # rows inserted while not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except psycopg.Error as exc:
                log(logging.WARNING, "queue_listen_failed", queue=self.queue, error=str(exc))
            await asyncio.sleep(self.poll_interval)

    async def take_batch(self, conn: psycopg.AsyncConnection[Any]) -> int:
        """Move one batch: returns how many rows were taken (0: the queue is empty)."""
        q = self.queue
        async with conn.transaction():
            cursor = await conn.execute(
                f"SELECT id, realm, body, attempts FROM {q} WHERE attempts < %s "
                f"ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED".encode(),
                (self.max_attempts, self.batch_size),
            )
            rows = await cursor.fetchall()
            if not rows:
                return 0
            messages = [QueueMessage(int(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]
            done: list[int] = []
            failures: list[tuple[int, str]] = []
            by_realm: dict[str, list[QueueMessage]] = {}
            for message in messages:
                by_realm.setdefault(message.realm, []).append(message)
            for path, group in by_realm.items():
                realm = await self._realm(path)
                for message in group:
                    error = self._write_one(realm, message)
                    if error is None:
                        done.append(message.id)
                    else:
                        failures.append((message.id, error))
                # The rows go only once the server has the writes: a crash before
                # this point leaves the rows, and the receipts say they were written.
                await realm.sync_session.wait_for_upload_completion(self.upload_timeout)
            if done:
                await conn.execute(f"DELETE FROM {q} WHERE id = ANY(%s)".encode(), (done,))
            for message_id, error in failures:
                await conn.execute(
                    f"UPDATE {q} SET attempts = attempts + 1, last_error = %s "
                    f"WHERE id = %s".encode(),
                    (error, message_id),
                )
        return len(rows)

    def _write_one(self, realm: SyncedRealm, message: QueueMessage) -> str | None:
        """Write one message with its receipt; returns the error text if write() raised."""
        key = self.receipt_key(message)
        try:
            with realm.write():
                if realm.object_for_primary_key(RECEIPT_CLASS, key) is not None:
                    self.skipped += 1
                    log(logging.INFO, "message_already_written", queue=self.queue, id=message.id,
                        realm=message.realm)  # fmt: skip
                    return None
                self.write(realm, message)
                realm.create(RECEIPT_CLASS, {"_id": key})
        except Exception as exc:
            self.failed += 1
            log_exception("message_failed", queue=self.queue, id=message.id, realm=message.realm,
                          attempt=message.attempts + 1)  # fmt: skip
            return f"{type(exc).__name__}: {exc}"
        self.written += 1
        return None

    async def _realm(self, path: str) -> SyncedRealm:
        realm = self._realms.get(path)
        if realm is not None:
            return realm
        assert self._app is not None and self._user is not None
        file = self.data_dir / "realms" / (urllib.parse.quote(path, safe="") + ".realm")
        # Download first: receipts another dequeuer (another data_dir) uploaded count too.
        realm = await self._app.open_realm(
            self._user, path, path=file, schema=self.schema, wait_for_download=True,
            timeout=self.upload_timeout,
        )  # fmt: skip
        self._realms[path] = realm
        return realm

    async def _close(self) -> None:
        for realm in self._realms.values():
            if not realm.is_closed:
                with contextlib.suppress(Exception):
                    await realm.sync_session.wait_for_upload_completion(1.0)
                realm.close()
        self._realms.clear()
        if self._app is not None:
            await self._app.close()
            self._app = None
