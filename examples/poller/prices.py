"""Poll a price list API into the ``/prices`` realm, writing only what changed::

    python -m examples.poller.prices --server http://127.0.0.1:9080 --password-file pw \\
        --data poller-data --api https://api.example.com/prices --interval 30

The API answers ``[{"sku": "tea", "price": 3.5, "currency": "EUR"}, ...]``;
products it no longer lists are deleted from the realm.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from studio.integrations import Poller
from studio.integrations.logs import configure
from studio.sync.client import App, SyncConfig

REALM = "/prices"
SCHEMA = [
    {
        "name": "Price",
        "primaryKey": "sku",
        "properties": {"sku": "string", "price": "double", "currency": "string"},
    }
]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--api", required=True, help="the price list's URL")
    parser.add_argument("--interval", type=float, default=30.0)
    args = parser.parse_args()
    configure()
    app = App(args.server, config=SyncConfig(watch_files=False), base_dir=args.data)
    user = await app.login(args.user, args.password_file.read_text().splitlines()[0])
    realm = await app.open_realm(user, REALM, schema=SCHEMA)
    poller = Poller(realm, args.api, class_name="Price", interval=args.interval,
                    delete_missing=True)  # fmt: skip
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, poller.stop)
    try:
        await poller.run()
        await realm.sync_session.wait_for_upload_completion(10)
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
