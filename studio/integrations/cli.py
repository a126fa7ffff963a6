"""``studio notifier``: run event handlers from the command line.

::

    studio notifier --server http://127.0.0.1:9080 --user admin --password-file pw \\
        --data notifier-data --handler '^/coupons/.*=myapp.handlers:validate'

Handler modules are imported from ``PYTHONPATH`` and the current directory.
Logs are JSON lines on stderr. SIGINT or SIGTERM stops it (a handler being
called is cancelled; its event is delivered again on the next start).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from studio.integrations.errors import HandlerSpecError, IntegrationError

if TYPE_CHECKING:
    from studio.integrations.notifier import HandlerFunction

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}  # fmt: skip


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``notifier`` to the ``studio`` command's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "notifier",
        help="run event handlers on realm changes (docs/integrations.md)",
        description="Sync every realm whose path matches a handler's regular expression and "
        "call the handler with each change other clients make (docs/integrations.md).",
    )
    p.add_argument("--server", required=True, metavar="URL",
                   help="the object server, e.g. http://127.0.0.1:9080")  # fmt: skip
    p.add_argument("--user", default="admin", help="an admin user (default: admin)")
    p.add_argument("--password-file", required=True, type=Path, metavar="F",
                   help="file with the user's password (keep it private: chmod 600)")  # fmt: skip
    p.add_argument("--data", required=True, type=Path, metavar="DIR",
                   help="the notifier's directory: realm copies, delivery positions")  # fmt: skip
    p.add_argument("--handler", action="append", required=True, dest="handlers",
                   metavar="REGEX=MODULE:FUNCTION",
                   help="call MODULE:FUNCTION(event) for realms whose path matches REGEX "
                   "(repeatable)")  # fmt: skip
    p.add_argument("--max-concurrent", type=int, default=8, metavar="N",
                   help="handler calls running at once, over all realms (default: 8)")  # fmt: skip
    p.add_argument("--retry-max", type=float, default=60.0, metavar="S",
                   help="longest wait before retrying a failed handler (default: 60)")  # fmt: skip
    p.add_argument("--rescan-interval", type=float, default=10.0, metavar="S",
                   help="how often the realm list is read again (default: 10)")  # fmt: skip
    p.add_argument("--log-level", choices=sorted(LOG_LEVELS), default="info")
    p.set_defaults(handler=run)
    return p


def parse_handler(spec: str) -> tuple[str, HandlerFunction]:
    """``REGEX=package.module:function`` -> (regex, the function)."""
    pattern, sep, target = spec.rpartition("=")
    module_name, colon, attribute = target.partition(":")
    if not sep or not pattern or not colon or not module_name or not attribute:
        raise HandlerSpecError(
            f"--handler {spec!r}: write REGEX=package.module:function, "
            "e.g. '^/coupons/.*=myapp.handlers:validate'"
        )
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerSpecError(
            f"--handler {spec!r}: cannot import {module_name}: {exc} "
            "(is its directory on PYTHONPATH or the current directory?)"
        ) from None
    for name in attribute.split("."):
        if not hasattr(found, name):
            raise HandlerSpecError(f"--handler {spec!r}: {module_name} has no {attribute}")
        found = getattr(found, name)
    if not callable(found):
        raise HandlerSpecError(f"--handler {spec!r}: {module_name}:{attribute} is not callable")
    return pattern, found


def read_password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise HandlerSpecError(f"cannot read --password-file {path}: {exc}") from None
    password = text.rstrip("\r\n")
    if not password:
        raise HandlerSpecError(f"--password-file {path} is empty; write the password in it")
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        from studio.integrations.logs import log

        log(logging.WARNING, "password_file_readable_by_others", file=str(path),
            advice=f"chmod 600 {path}")  # fmt: skip
    return password


def run_logged(args: argparse.Namespace, body: Callable[[argparse.Namespace], int]) -> int:
    """Run a command's ``body`` with the integrations' JSON logs at
    ``--log-level`` on stderr, put back as they were afterwards."""
    from studio.integrations.logs import configure

    restore_logging = configure(LOG_LEVELS[args.log_level])
    try:
        return body(args)
    finally:
        restore_logging()


def run(args: argparse.Namespace) -> int:
    """``studio notifier ...``; returns the exit status."""
    return run_logged(args, _run)


def _run(args: argparse.Namespace) -> int:
    from studio.integrations.logs import log
    from studio.integrations.notifier import Notifier

    try:
        password = read_password(args.password_file)
        handlers = [parse_handler(spec) for spec in args.handlers]
        notifier = Notifier(
            args.server,
            username=args.user,
            password=password,
            data_dir=args.data,
            max_concurrent=args.max_concurrent,
            retry_max=args.retry_max,
            rescan_interval=args.rescan_interval,
        )
        for pattern, function in handlers:
            notifier.on(pattern, function)
    except (IntegrationError, ValueError) as exc:
        log(logging.ERROR, "notifier_usage_error", error=str(exc))
        print(f"studio notifier: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(serve(notifier, "notifier"))


class Service(Protocol):
    """What ``serve`` runs: the notifier, or the adapter built on it."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


async def serve(service: Service, name: str) -> int:
    """Run ``service`` (the notifier, or the adapter built on it) until
    SIGINT/SIGTERM stops it; the exit status for the command ``name``."""
    from studio.integrations.logs import log
    from studio.sync.client import ClientError

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(signum, service.stop)
    try:
        await service.run()
    except (ClientError, IntegrationError, OSError) as exc:
        log(logging.ERROR, f"{name}_failed", error=str(exc), kind=type(exc).__name__)
        return EXIT_FAILED
    return EXIT_OK
