"""``studio adapter``: keep realms and PostgreSQL tables in step (docs/adapter.md).

::

    studio adapter --server http://127.0.0.1:9080 --user admin --password-file pw \\
        --postgres "dbname=reports" --realms '^/stores/.*' --data adapter-data

Logs are JSON lines on stderr. SIGINT or SIGTERM stops it; so may SIGKILL at
any moment: nothing is lost or applied twice on the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from studio.integrations.cli import EXIT_USAGE, LOG_LEVELS, read_password, run_logged, serve
from studio.integrations.errors import IntegrationError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``adapter`` to the ``studio`` command's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "adapter",
        help="mirror realms into PostgreSQL tables and sync SQL changes back (docs/adapter.md)",
        description="Mirror every realm whose path matches --realms into PostgreSQL tables "
        "(one per class) and write what other SQL clients change back into the realms.",
    )
    p.add_argument("--server", required=True, metavar="URL",
                   help="the object server, e.g. http://127.0.0.1:9080")  # fmt: skip
    p.add_argument("--user", default="admin", help="an admin user (default: admin)")
    p.add_argument("--password-file", required=True, type=Path, metavar="F",
                   help="file with the user's password (keep it private: chmod 600)")  # fmt: skip
    p.add_argument("--postgres", required=True, metavar="DSN",
                   help="the PostgreSQL database, e.g. 'postgresql://user@host/db' or "
                   "'host=... dbname=...' (a password: PGPASSWORD or ~/.pgpass)")  # fmt: skip
    p.add_argument("--realms", required=True, metavar="REGEX",
                   help="the realms to mirror: paths matching this regular expression")
    p.add_argument("--pg-schema", default="public", metavar="NAME",
                   help="the PostgreSQL schema of the tables (default: public)")
    p.add_argument("--data", type=Path, default=Path("adapter-data"), metavar="DIR",
                   help="the adapter's directory: realm copies, journals (default: adapter-data)")
    p.add_argument("--batch-size", type=int, default=1000, metavar="N",
                   help="captured SQL changes applied per realm transaction (default: 1000)")
    p.add_argument("--poll-interval", type=float, default=1.0, metavar="S",
                   help="how often captured changes are looked for without a NOTIFY "
                   "(default: 1)")  # fmt: skip
    p.add_argument("--rescan-interval", type=float, default=10.0, metavar="S",
                   help="how often the realm list is read again (default: 10)")  # fmt: skip
    p.add_argument("--log-level", choices=sorted(LOG_LEVELS), default="info")
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    """``studio adapter ...``; returns the exit status."""
    return run_logged(args, _run)


def _run(args: argparse.Namespace) -> int:
    from studio.integrations.logs import log

    try:
        from studio.integrations.adapter.adapter import PostgresAdapter
    except ImportError as exc:
        print(f"studio adapter: error: {exc}; install the PostgreSQL driver: "
              "pip install 'studio[postgres]'", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        adapter = PostgresAdapter(
            args.server,
            username=args.user,
            password=read_password(args.password_file),
            data_dir=args.data,
            dsn=args.postgres,
            realms=args.realms,
            pg_schema=args.pg_schema,
            batch_size=args.batch_size,
            poll_interval=args.poll_interval,
            rescan_interval=args.rescan_interval,
        )
    except (IntegrationError, ValueError) as exc:
        log(logging.ERROR, "adapter_usage_error", error=str(exc))
        print(f"studio adapter: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(serve(adapter, "adapter"))
