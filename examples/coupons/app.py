"""The shop app: saves a coupon, waits for the server's answer, applies the discount::

    python -m examples.coupons.app --server http://127.0.0.1:9080 --user admin \\
        --password-file pw --data app-data --code SAVE10 --total 80

It creates ``Coupon {code, valid: null}`` and an ``Order`` that uses it, then
listens to the coupon: once a handler wrote ``valid``, a good coupon's discount
is applied to the order (``pay``). It prints one JSON line with the outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from examples.coupons.schema import REALM, SCHEMA
from studio.sync.client import App, SyncConfig


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--code", required=True)
    parser.add_argument("--total", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    app = App(args.server, config=SyncConfig(watch_files=False), base_dir=args.data)
    try:
        user = await app.login(args.user, args.password_file.read_text().splitlines()[0])
        realm = await app.open_realm(user, REALM, schema=SCHEMA)
        key = uuid.uuid4().hex
        with realm.write():  # works offline: the answer comes whenever we are online
            coupon = realm.create("Coupon", {"_id": key, "code": args.code, "valid": None})
            order = realm.create("Order", {"_id": key, "total": args.total, "coupon": coupon})
        answered = asyncio.get_running_loop().create_future()

        def on_change(obj: Any, change: Any) -> None:
            if obj.valid is not None and not answered.done():
                answered.set_result(None)

        token = coupon.add_listener(on_change)
        await asyncio.wait_for(answered, args.timeout)
        token.remove()
        pay = args.total * (100 - coupon.percent) / 100 if coupon.valid else args.total
        with realm.write():
            order.pay = pay
        await realm.sync_session.wait_for_upload_completion(args.timeout)
        print(json.dumps({"code": args.code, "valid": coupon.valid, "percent": coupon.percent,
                          "total": args.total, "pay": pay}), flush=True)  # fmt: skip
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
