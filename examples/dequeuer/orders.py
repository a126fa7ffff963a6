"""Move orders from a PostgreSQL queue table into the shops' realms, exactly once.

::

    python -m examples.dequeuer.orders --server http://127.0.0.1:9080 \\
        --password-file admin-pw --data dequeuer-data --dsn "host=/tmp dbname=shop"

A producer (any program that can reach PostgreSQL) adds an order with::

    INSERT INTO orders (realm, body) VALUES ('/shop/berlin', '{"item": "tea", "qty": 2}');

Each order becomes an ``Order`` object (its primary key is the queue id) and its id
is appended to the realm's ``Inbox.arrivals`` list, in arrival order. The list is
there to show exactly once: unlike the ``Order`` object, a second write would
append the id twice.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from studio.integrations import Dequeuer, QueueMessage, create_queue
from studio.integrations.logs import configure
from studio.sync.client import SyncConfig, SyncedRealm

QUEUE = "orders"
SCHEMA = [
    {
        "name": "Order",
        "primaryKey": "_id",
        "properties": {"_id": "int", "item": "string", "qty": "int"},
    },
    {"name": "Inbox", "primaryKey": "_id", "properties": {"_id": "string", "arrivals": "int[]"}},
]


def write_order(realm: SyncedRealm, message: QueueMessage) -> None:
    """Called inside the realm's write transaction, with the order's receipt."""
    body = message.body
    realm.create("Order", {"_id": message.id, "item": body["item"], "qty": body["qty"]})
    inbox = realm.create("Inbox", {"_id": "inbox"}, update=True)
    inbox.arrivals.append(message.id)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--dsn", required=True, help="libpq connection string")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    configure()
    import psycopg

    with psycopg.connect(args.dsn) as conn:
        create_queue(conn, QUEUE)
    dequeuer = Dequeuer(
        args.server, username=args.user,
        password=args.password_file.read_text().splitlines()[0], data_dir=args.data,
        dsn=args.dsn, queue=QUEUE, schema=SCHEMA, write=write_order,
        batch_size=args.batch_size, poll_interval=1.0,
        sync_config=SyncConfig(watch_files=False, reconnect_initial=0.05, reconnect_max=1.0),
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, dequeuer.stop)
    await dequeuer.run()


if __name__ == "__main__":
    asyncio.run(main())
