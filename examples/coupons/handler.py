"""The notifier handler: checks each new coupon's code with the coupon API::

    COUPON_API_URL=http://127.0.0.1:8001 studio notifier --server URL --password-file pw \\
        --data notifier-data --handler '^/coupons/=examples.coupons.handler:validate'

The API answers ``GET /coupons/<code>`` with ``{"percent": 10}`` for a good code
and 404 for an unknown one. The handler writes ``valid`` and ``percent``; a
coupon already answered is skipped (the notifier may deliver an event twice).
"""

from __future__ import annotations

import os
import urllib.parse

import aiohttp

from studio.integrations import RealmEvent


async def check_code(code: str) -> int | None:
    """The discount in percent for a good code, None for an unknown one."""
    base = os.environ.get("COUPON_API_URL", "http://127.0.0.1:8001")
    url = f"{base}/coupons/{urllib.parse.quote(code, safe='')}"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(url) as resp,
    ):
        if resp.status == 404:
            return None
        resp.raise_for_status()  # anything else: raise, the notifier retries later
        percent = (await resp.json())["percent"]
        return int(percent)


async def validate(event: RealmEvent) -> None:
    for coupon in event.inserted("Coupon"):
        if coupon.valid is not None:
            continue  # answered before
        key, code = coupon["_id"], coupon.code
        percent = await check_code(code)  # no write transaction open across the call
        with event.realm.write():
            current = event.realm.object_for_primary_key("Coupon", key)
            if current is not None:  # not deleted meanwhile
                current.valid = percent is not None
                current.percent = percent
