"""Putting the server together: storage, accounts, the aiohttp application
with every route on one port, background tasks, start and graceful stop.

``python -m studio.server`` and ``studio server`` both end in :func:`main`.
Tests and embedders use :class:`Server` directly::

    server = Server(ServerConfig(data_dir=tmp, port=0, admin_password="pw"))
    await server.start()        # server.url is http://127.0.0.1:<port>
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import Sequence
from typing import IO

from aiohttp import web

from studio.server import admin_api, http_routes, rest_api
from studio.server.accounts import Clock
from studio.server.admin_events import CounterTicker, events_handler
from studio.server.cluster import Cluster
from studio.server.config import ServerConfig, parse_config
from studio.server.connection_guard import ConnectionGuard
from studio.server.context import ServerContext
from studio.server.data_lock import DataDirLock
from studio.server.errors import ConfigError, ServerError
from studio.server.keys import CONTEXT
from studio.server.logs import LEVELS, BusHandler, configure_logging, log, remove_handler
from studio.server.secret_files import prepare_data_dir
from studio.server.storage.factory import describe_store, open_storage
from studio.server.storage.postgres import PostgresServerStorage
from studio.server.storage.postgres_cluster import ClusterLink
from studio.server.sync_endpoint import sync_handler
from studio.sync.protocol import ErrorCode

HOUSEKEEPING_INTERVAL = 5.0


class Server:
    def __init__(
        self, config: ServerConfig, *, out: IO[str] | None = None, clock: Clock = time.time
    ) -> None:
        """``clock``: seconds since the epoch for token issue and expiry."""
        self.config = config
        self._clock = clock
        self._out = out if out is not None else sys.stdout
        self._ctx: ServerContext | None = None
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._bus_handler: logging.Handler | None = None
        self._data_lock: DataDirLock | None = None
        self.host = config.host
        self.port = config.port

    @property
    def ctx(self) -> ServerContext:
        assert self._ctx is not None, "Server.start() first"
        return self._ctx

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.config.scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Open the storage and start listening; on failure (port in use, bad
        certificate, unreadable data directory) nothing is left running."""
        config = self.config
        loop = asyncio.get_running_loop()
        if config.data_dir is not None:
            await loop.run_in_executor(
                None,
                functools.partial(
                    prepare_data_dir, config.data_dir, allow_insecure=config.allow_insecure_data_dir
                ),
            )
            self._data_lock = DataDirLock(config.data_dir)
        try:
            storage = await loop.run_in_executor(
                None,
                functools.partial(
                    open_storage,
                    config.store,
                    config.data_dir,
                    max_open_realm_files=config.max_open_realm_files,
                ),
            )
        except BaseException:
            self._release_data_dir()
            raise
        storage.start_workers()
        ctx = self._ctx = ServerContext(config, storage, clock=self._clock)
        try:
            await self._start(ctx)
        except BaseException:
            await self._stop_listening()
            if ctx.cluster is not None:
                await ctx.cluster.stop()
            storage.close()
            ctx.close_executor()
            self._ctx = None
            self._release_data_dir()
            raise

    def _release_data_dir(self) -> None:
        lock, self._data_lock = self._data_lock, None
        if lock is not None:
            lock.release()

    async def _start(self, ctx: ServerContext) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        generated = await ctx.accounts.start()
        if generated is not None:
            # Shown once, never stored in clear: the operator must note it now.
            print(
                f"created user 'admin' with password {generated} (shown only this once; "
                "change it with PATCH /admin/users/admin)",
                file=self._out,
                flush=True,
            )

        guard = ConnectionGuard(config.http)
        app = web.Application(
            # The guard's first: it must hear of every request's start and end.
            middlewares=[guard.middleware, http_routes.error_middleware],
            client_max_size=config.limits.max_http_body,
        )
        app[CONTEXT] = ctx
        http_routes.add_routes(app)
        admin_api.add_routes(app)
        rest_api.add_routes(app)
        app.router.add_get("/sync", sync_handler)
        app.router.add_get("/admin/events", events_handler)

        ssl_context = None
        if config.cert is not None and config.key is not None:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                ssl_context.load_cert_chain(config.cert, config.key)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot use --cert/--key: {exc}") from exc

        runner = self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=5,
            keepalive_timeout=config.http.keepalive_timeout,
        )
        await runner.setup()
        assert runner.server is not None
        if isinstance(ctx.storage, PostgresServerStorage):
            # Before the first client: every bind and upload goes through it.
            cluster = Cluster(ctx, ClusterLink(ctx.storage.dsn, ctx.storage.node))
            await cluster.start()
            ctx.cluster = cluster
        # Every connection goes through the guard (connection_guard.py), so
        # the socket is served here rather than by a web.TCPSite. A deep
        # backlog: hundreds of clients reconnect at once after a restart.
        self._listener = await loop.create_server(
            guard.protocol_factory(runner.server),
            config.host,
            config.port,
            ssl=ssl_context,
            reuse_address=True,
            backlog=1024,
        )
        for sock in self._listener.sockets:
            self.port = int(sock.getsockname()[1])
            break
        ctx.address = self.url
        if ctx.cluster is not None:
            await ctx.cluster.announce(self.url)

        def deliver(event: dict[str, object]) -> None:
            ctx.bus.publish("log", **event)

        self._bus_handler = BusHandler(deliver, loop.call_soon_threadsafe, LEVELS[config.log_level])
        logging.getLogger("studio.server").addHandler(self._bus_handler)
        ticker = CounterTicker(ctx)
        self._tasks = [
            loop.create_task(ticker.run(), name="counters"),
            loop.create_task(self._housekeeping(), name="housekeeping"),
            loop.create_task(ctx.compactor.run_periodically(), name="compaction"),
        ]
        log(
            20,
            "server_started",
            url=self.url,
            data=str(config.data_dir),
            store=describe_store(config.store),
            version=ctx.version,
        )

    async def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            try:
                await self.ctx.hub.unload_idle()
            except Exception as exc:  # keep housekeeping alive; the next round retries
                log(40, "housekeeping_failed", error=f"{type(exc).__name__}: {exc}")

    async def stop(self) -> None:
        """Graceful stop: everything integrated is stored and acknowledged,
        then every client gets ``connection_closed`` (retry later)."""
        ctx = self._ctx
        if ctx is None:
            return
        await ctx.committer.drain()
        connections = list(ctx.connections.values())
        for conn in connections:
            conn.shut_down(ErrorCode.CONNECTION_CLOSED, "the server is shutting down; reconnect")
        deadline = asyncio.get_running_loop().time() + 5
        while ctx.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        for ws in list(ctx.admin_sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._stop_listening()
        await ctx.committer.drain()
        await ctx.hub.close()
        if ctx.cluster is not None:
            await ctx.cluster.stop()
        if self._bus_handler is not None:
            logging.getLogger("studio.server").removeHandler(self._bus_handler)
        ctx.storage.close()
        ctx.close_executor()
        self._ctx = None
        self._release_data_dir()
        log(20, "server_stopped")


async def serve(config: ServerConfig, out: IO[str] | None = None) -> None:
    """Run until SIGINT or SIGTERM."""
    out = out if out is not None else sys.stdout
    server = Server(config, out=out)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"listening on {server.url}", file=out, flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None, prog: str = "studio server") -> int:
    """``studio server ...``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = parse_config(args, prog=prog)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, or a usage error already printed
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    handler = configure_logging(config.log_level)
    # Whatever the server or its state worker creates is its owner's alone
    # (the data directory holds the token key; secret_files.py).
    os.umask(0o077)
    # The storage threads take the GIL back after every SQLite call (a commit
    # is several); with the event loop busy the default 5 ms switch interval
    # would add up to that much to each, and every acknowledgement waits for
    # a commit.
    sys.setswitchinterval(0.0005)
    # The history keeps every changeset in memory: a growing heap of
    # long-lived objects, which the default thresholds (700 allocations) scan
    # over and over (a tenth of the event loop's time under load, with full
    # collections of 100 ms). Young collections every 10,000 allocations, and
    # what the imports made frozen out of every collection.
    gc.freeze()
    gc.set_threshold(10_000, 20, 10)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        return 0
    except (ServerError, OSError) as exc:
        log(50, "server_failed", error=f"{type(exc).__name__}: {exc}")
        print(f"{prog}: cannot run the server: {exc}", file=sys.stderr)
        return 1
    finally:
        remove_handler(handler)
    return 0
