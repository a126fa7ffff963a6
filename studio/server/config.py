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

DEFAULT_PORT: Final = 9080
_DEFAULTS: Final = Limits()
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
ADMIN_PASSWORD_ENV: Final = "STUDIO_ADMIN_PASSWORD"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    admin_password: str | None = None
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
    max_open_realm_files: int = DEFAULT_OPEN_REALM_FILES
    """Realm files the state worker keeps open (least recently used closed first)."""

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
        required=True,
        type=Path,
        metavar="DIR",
        help="data directory (created if missing)",
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
        help=f"password of the 'admin' user created at first start (or set {ADMIN_PASSWORD_ENV})",
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


def parse_config(
    argv: Sequence[str], env: Mapping[str, str] | None = None, prog: str = "studio server"
) -> ServerConfig:
    """Parse the command line (raises SystemExit on --help and usage errors,
    ConfigError for values that parse but make no sense)."""
    args = build_parser(prog).parse_args(list(argv))
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
    password = args.admin_password or env.get(ADMIN_PASSWORD_ENV) or None
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
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.max_open_realm_files < 1:
        raise ConfigError("--max-open-realm-files must be at least 1")
    return ServerConfig(
        data_dir=args.data,
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
        max_open_realm_files=args.max_open_realm_files,
    )
