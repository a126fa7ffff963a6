"""Server configuration: the command line (``python -m studio.server`` and
``studio server``) and the environment (``STUDIO_ADMIN_PASSWORD``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from studio.server.auth import DEFAULT_SCRYPT_N
from studio.server.errors import ConfigError
from studio.server.limits import DEFAULT_OPEN_REALM_FILES, Limits
from studio.server.secret_files import check_private_file, read_token_key
from studio.server.storage.factory import store_kind

DEFAULT_PORT: Final = 9080
_DEFAULTS: Final = Limits()
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
ADMIN_PASSWORD_ENV: Final = "STUDIO_ADMIN_PASSWORD"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one HTTP client may hold of the server (docs/security.md, "HTTP
    requests, logins and lockout")."""

    header_timeout: float = 10.0
    """A request's line and headers must arrive within this many seconds of
    its first byte (of the connection, for its first request); otherwise the
    connection is closed (slowloris)."""
    body_timeout: float = 30.0
    """A request body must arrive within this many seconds of its headers."""
    keepalive_timeout: float = 75.0
    """An idle keep-alive connection (between requests) is closed after this long."""
    max_connections_per_address: int = 64
    """Open connections (HTTP and websockets together) from one client
    address; more are refused with 503. 0: no limit. Loopback is not exempt."""

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "keepalive_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive")
        if self.max_connections_per_address < 0:
            raise ValueError("--max-connections-per-address must be 0 (no limit) or more")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path | None
    """SQLite files (without ``store``), or with a ``store`` the local caches
    of realm states (a temporary directory when None)."""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    admin_password: str | None = field(default=None, repr=False)
    cert: Path | None = None
    key: Path | None = None
    log_level: str = "info"
    access_token_ttl: float = 15 * 60
    refresh_token_ttl: float = 30 * 24 * 3600
    scrypt_n: int = DEFAULT_SCRYPT_N
    limits: Limits = field(default_factory=Limits)
    state_delay: float = 0.5
    """How long after a commit the realm's state file is brought up to date
    (batches many small commits into one state transaction)."""
    idle_unload: float = 60.0
    """A realm without bound sessions is dropped from memory after this long."""
    http: HttpLimits = field(default_factory=HttpLimits)
    token_key_file: Path | None = None
    """Where the token signing key is read from (else it is generated at
    first start and kept in server.sqlite)."""
    allow_insecure_data_dir: bool = False
    """Start even when other users may read the data directory."""
    max_clock_skew: float = 300.0
    """Uploaded changesets stamped more than this many seconds ahead of the
    server's clock are refused (docs/sync.md, "Timestamps")."""
    max_open_realm_files: int = DEFAULT_OPEN_REALM_FILES
    """Realm files the state worker keeps open (least recently used closed first)."""
    history_retention: float | None = None
    """Seconds: a client not heard of for this long no longer holds history
    compaction back (it must reset when it returns). None: off, compaction
    waits for every client (compaction.py)."""
    compaction_interval: float = 3600.0
    """Seconds between background compaction rounds over the loaded realms (0: none)."""
    compaction_min_versions: int = 1000
    """A background round compacts a realm only when this many versions can go."""
    store: str | None = field(default=None, repr=False)  # may hold a password
    """A PostgreSQL connection string (URI or libpq key=value, multi-host
    ones too): everything is kept there instead of SQLite files under
    ``data_dir`` (storage/factory.py)."""

    @property
    def scheme(self) -> str:
        return "https" if self.cert else "http"


def build_parser(prog: str = "studio server") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run the Studio object server: sync, HTTP API and admin events on one port.",
    )
    p.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="data directory (created if missing): SQLite files, or with --store only "
        "local caches (default with --store: a temporary directory)",
    )
    p.add_argument(
        "--store",
        metavar="DSN",
        help="keep everything in PostgreSQL instead: postgresql://USER@HOST:PORT/DB or a "
        "libpq string such as 'host=a,b dbname=studio target_session_attrs=read-write' "
        "(needs studio[postgres]; the database is created and migrated by the server)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--admin-password",
        metavar="PW",
        help="password of the 'admin' user created at first start (shows in ps: prefer "
        f"--admin-password-file or {ADMIN_PASSWORD_ENV})",
    )
    p.add_argument("--cert", type=Path, help="TLS certificate (PEM); serve https/wss")
    p.add_argument("--key", type=Path, help="TLS private key (PEM), with --cert")
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    p.add_argument("--access-token-ttl", type=float, default=15 * 60, metavar="SECONDS")
    p.add_argument("--refresh-token-ttl", type=float, default=30 * 24 * 3600, metavar="SECONDS")
    p.add_argument(
        "--max-message-size", type=int, default=_DEFAULTS.max_message_size, metavar="BYTES"
    )
    p.add_argument(
        "--max-sessions", type=int, default=_DEFAULTS.max_sessions, help="sessions per connection"
    )
    p.add_argument(
        "--first-message-timeout",
        type=float,
        default=_DEFAULTS.first_message_timeout,
        metavar="SECONDS",
    )
    _add_secret_and_http_flags(p)
    p.add_argument(
        "--max-clock-skew",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="refuse uploads stamped more than this far ahead of the server's clock "
        "(default 300)",
    )
    # -- history compaction (docs/server.md, "History compaction")
    p.add_argument(
        "--history-retention",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="clients not heard of for this long (e.g. 30d, 12h, 90m; 0 = off, the "
        "default) no longer hold history compaction back: they reset when they return",
    )
    p.add_argument(
        "--compaction-interval",
        type=_duration,
        default=3600.0,
        metavar="DURATION",
        help="how often loaded realms are compacted in the background "
        "(default 1h; 0 = only on POST /admin/realms/{realm}/compact)",
    )
    p.add_argument(
        "--compaction-min-versions",
        type=int,
        default=1000,
        metavar="N",
        help="a background compaction runs when at least N versions can be "
        "squashed (default 1000)",
    )
    # -- connections, memory and quotas (docs/security.md)
    p.add_argument(
        "--max-outbound-bytes",
        type=int,
        default=_DEFAULTS.max_outbound_bytes,
        metavar="BYTES",
        help="bytes queued for one client that does not read before it is disconnected "
        f"(default {_DEFAULTS.max_outbound_bytes})",
    )
    p.add_argument(
        "--max-server-outbound-bytes",
        type=int,
        default=_DEFAULTS.max_server_outbound_bytes,
        metavar="BYTES",
        help="bytes queued for all clients together; beyond it downloads wait and the client "
        f"stalled longest is disconnected (default {_DEFAULTS.max_server_outbound_bytes})",
    )
    p.add_argument(
        "--download-window",
        type=int,
        default=_DEFAULTS.download_window,
        metavar="BYTES",
        help="downloads are produced while fewer bytes wait for the client "
        f"(default {_DEFAULTS.download_window})",
    )
    p.add_argument(
        "--max-realms-per-user",
        type=int,
        default=_DEFAULTS.max_realms_per_user,
        metavar="N",
        help=f"realms a non-admin user may own (default {_DEFAULTS.max_realms_per_user})",
    )
    p.add_argument(
        "--max-idents-per-user",
        type=int,
        default=_DEFAULTS.max_idents_per_user,
        metavar="N",
        help="client file idents (device x realm) issued to a non-admin user "
        f"(default {_DEFAULTS.max_idents_per_user})",
    )
    p.add_argument(
        "--max-open-realm-files",
        type=int,
        default=DEFAULT_OPEN_REALM_FILES,
        metavar="N",
        help="realm files the state worker keeps open; the least recently used are closed "
        f"(default {DEFAULT_OPEN_REALM_FILES})",
    )
    p.add_argument("--scrypt-n", type=int, default=DEFAULT_SCRYPT_N, help=argparse.SUPPRESS)
    return p


def _add_secret_and_http_flags(p: argparse.ArgumentParser) -> None:
    """Secrets, data directory and HTTP limits (docs/security.md)."""
    p.add_argument(
        "--admin-password-file",
        type=Path,
        metavar="FILE",
        help="read the first admin's password from FILE (its first line; the file must "
        "not be readable by other users)",
    )
    p.add_argument(
        "--token-key-file",
        type=Path,
        metavar="FILE",
        help="read the token signing key from FILE (at least 32 bytes, e.g. from "
        "'openssl rand -hex 32'; mode 600) instead of keeping one in the data directory",
    )
    p.add_argument(
        "--allow-insecure-data-dir",
        action="store_true",
        help="start even when the data directory is readable by other users",
    )
    http = HttpLimits()
    p.add_argument(
        "--header-timeout",
        type=float,
        default=http.header_timeout,
        metavar="SECONDS",
        help="close a connection whose request headers take longer "
        f"(default {http.header_timeout:g})",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=http.body_timeout,
        metavar="SECONDS",
        help=f"answer 408 to a request whose body takes longer (default {http.body_timeout:g})",
    )
    p.add_argument(
        "--keepalive-timeout",
        type=float,
        default=http.keepalive_timeout,
        metavar="SECONDS",
        help=f"close an idle HTTP connection after this long (default {http.keepalive_timeout:g})",
    )
    p.add_argument(
        "--max-connections-per-address",
        type=int,
        default=http.max_connections_per_address,
        metavar="N",
        help="open connections from one client address, loopback included; more get 503 "
        f"(default {http.max_connections_per_address}; 0: no limit)",
    )


def _read_password_file(path: Path) -> str:
    check_private_file(path, "--admin-password-file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --admin-password-file {path}: {exc}") from None
    password = text.split("\n", 1)[0].rstrip("\r")
    if not password:
        raise ConfigError(f"--admin-password-file {path} is empty; write the password in it")
    return password


def parse_config(
    argv: Sequence[str], env: Mapping[str, str] | None = None, prog: str = "studio server"
) -> ServerConfig:
    """Parse the command line (raises SystemExit on --help and usage errors,
    ConfigError for values that parse but make no sense)."""
    parser = build_parser(prog)
    args = parser.parse_args(list(argv))
    if args.data is None and args.store is None:
        parser.error("--data DIR is required (or --store DSN to keep the data in PostgreSQL)")
    env = os.environ if env is None else env
    if (args.cert is None) != (args.key is None):
        raise ConfigError("--cert and --key go together")
    for f in (args.cert, args.key):
        if f is not None and not f.is_file():
            raise ConfigError(f"{f} does not exist")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be 0..65535, got {args.port}")
    if args.scrypt_n < 2 or args.scrypt_n & (args.scrypt_n - 1):
        raise ConfigError("--scrypt-n must be a power of two")
    if args.access_token_ttl <= 0 or args.refresh_token_ttl <= 0:
        raise ConfigError("token lifetimes must be positive")
    if not args.max_clock_skew >= 0:
        raise ConfigError(f"--max-clock-skew must be 0 or more seconds, got {args.max_clock_skew}")
    if args.admin_password is not None and args.admin_password_file is not None:
        raise ConfigError("give --admin-password or --admin-password-file, not both")
    if args.admin_password_file is not None:
        password: str | None = _read_password_file(args.admin_password_file)
    else:
        password = args.admin_password or env.get(ADMIN_PASSWORD_ENV) or None
    if args.token_key_file is not None:
        read_token_key(args.token_key_file)  # refused now rather than at start
    try:
        limits = Limits(
            max_message_size=args.max_message_size,
            max_sessions=args.max_sessions,
            first_message_timeout=args.first_message_timeout,
            max_outbound_bytes=args.max_outbound_bytes,
            max_server_outbound_bytes=args.max_server_outbound_bytes,
            download_window=args.download_window,
            max_realms_per_user=args.max_realms_per_user,
            max_idents_per_user=args.max_idents_per_user,
        )
        http = HttpLimits(
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
            keepalive_timeout=args.keepalive_timeout,
            max_connections_per_address=args.max_connections_per_address,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.compaction_min_versions < 1:
        raise ConfigError("--compaction-min-versions must be at least 1")
    if args.max_open_realm_files < 1:
        raise ConfigError("--max-open-realm-files must be at least 1")
    if args.store is not None:
        try:
            store_kind(args.store)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return ServerConfig(
        data_dir=args.data,
        store=args.store,
        host=args.host,
        port=args.port,
        admin_password=password,
        cert=args.cert,
        key=args.key,
        log_level=args.log_level,
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
        scrypt_n=args.scrypt_n,
        limits=limits,
        http=http,
        token_key_file=args.token_key_file,
        allow_insecure_data_dir=args.allow_insecure_data_dir,
        max_clock_skew=args.max_clock_skew,
        max_open_realm_files=args.max_open_realm_files,
        history_retention=args.history_retention or None,
        compaction_interval=args.compaction_interval,
        compaction_min_versions=args.compaction_min_versions,
    )


_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` or plain seconds -> seconds."""
    raw = text.strip().lower()
    unit = _UNITS.get(raw[-1:], None)
    number = raw[:-1] if unit is not None else raw
    try:
        value = float(number) * (unit or 1)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: give a number with s, m, h, d or w (e.g. 30d), or 0"
        )
    return value
