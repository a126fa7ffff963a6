"""A tiny coupon API: ``GET /coupons/<code>`` answers ``{"percent": N}`` or 404::

    python -m examples.coupons.coupon_api --port 8001

It prints ``listening on URL`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

CODES = {"SAVE10": 10, "HALF": 50}


async def coupon(request: web.Request) -> web.Response:
    percent = CODES.get(request.match_info["code"])
    if percent is None:
        return web.json_response({"error": "unknown code"}, status=404)
    return web.json_response({"percent": percent})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/coupons/{code}", coupon)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    host, port = runner.addresses[0][:2]
    print(f"listening on http://{host}:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
