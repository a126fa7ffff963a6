"""The ``studio`` command line.

    studio inspect REALM [--json]          classes, properties and object counts
    studio export REALM --format json|csv --out DIR
    studio import-csv REALM CLASS FILE.csv [--batch N] [--update] [--primary-key NAME]
    studio convert SRC DST [--force]       Realm Core file -> editable studio realm
    studio demo-realm [PATH]               (re)generate the demo realm
    studio demo [--screenshot OUT.png]     a local server, two chat clients, the Studio watching
    studio --connect URL[,URL...]          the Studio's server window (log in, live dashboard)

``studio`` alone prints this help for now; the Studio issue makes it open the
greeting window and ``studio PATH`` a realm browser, which is why a first argument
that is not a command is routed to :func:`_open_in_studio` before argparse sees it.

User errors (a missing file, not a realm, a bad CSV row) print one line to stderr
and exit with status 2, never a traceback. See docs/cli.md.

This module parses and dispatches; the file commands are :mod:`studio.cli_commands`,
what they share (exit statuses, ``CliError``, the progress bar, file checks)
:mod:`studio.cli_support`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

from studio.cli_commands import (
    cmd_convert,
    cmd_demo_realm,
    cmd_export,
    cmd_import_csv,
    cmd_inspect,
)
from studio.cli_support import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from studio.version import package_version

COMMANDS = ("inspect", "export", "import-csv", "convert", "demo-realm", "server", "demo",
            "notifier", "adapter")  # fmt: skip
DEFAULT_DEMO_PATH = "demo.realm"
_GUI_OPTIONS = ("--class", "--query", "--screenshot", "--read-only", "--theme", "--connect")


# -- parser and main -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Studio: an offline-first object database and the tools to look inside it.",
        epilog=_studio_options_help()
        + "\n\nSee docs/cli.md for examples. Errors exit with status 2.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"studio {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("inspect", help="show classes, properties and object counts",
                       description="Show the classes, properties and object counts of a realm "
                       "(a studio realm or a genuine Realm Core file).")
    p.add_argument("realm", metavar="REALM", help="the realm file")
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.set_defaults(handler=cmd_inspect)

    p = sub.add_parser("export", help="write every class to plain JSON or CSV files",
                       description="Write one <Class>.json or <Class>.csv per top-level class "
                       "(embedded objects are nested in their parents). Deterministic.")
    p.add_argument("realm", metavar="REALM", help="the realm file")
    p.add_argument("--format", choices=("json", "csv"), default="json",
                   help="file format (default: json)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created)")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("import-csv", help="import a CSV file into a class",
                       description="Import the rows of a CSV file as objects of CLASS. An "
                       "existing class types the columns; a new class is created with types "
                       "inferred from all rows. A missing REALM is created.")
    p.add_argument("realm", metavar="REALM", help="the realm file (created if missing)")
    p.add_argument("class_name", metavar="CLASS", help="the class to import into")
    p.add_argument("csv", metavar="FILE.csv", help="UTF-8 CSV with a header row")
    p.add_argument("more", nargs="*", metavar="CLASS FILE.csv",
                   help="more classes and files, imported together so that links between "
                   "them resolve in any order")
    p.add_argument("--batch", type=int, default=1000, metavar="N",
                   help="rows per write transaction (default: 1000)")
    p.add_argument("--update", action="store_true",
                   help="update objects whose primary key exists instead of failing")
    p.add_argument("--primary-key", metavar="COLUMN",
                   help="for a new class: the column to use as its primary key")
    p.set_defaults(handler=cmd_import_csv)

    p = sub.add_parser("convert", help="make an editable studio realm from a Realm Core file",
                       description="Convert a genuine Realm Core file (formats 20-24) into a "
                       "studio realm with the same schema and objects.")
    p.add_argument("src", metavar="SRC", help="the Realm Core file")
    p.add_argument("dst", metavar="DST", help="the studio realm to write")
    p.add_argument("--force", action="store_true", help="replace DST if it exists")
    p.set_defaults(handler=cmd_convert)

    p = sub.add_parser("demo-realm", help="(re)generate the demo realm",
                       description="Write the demo realm (a lending library using every "
                       "property type), the same objects every time.")
    p.add_argument("path", metavar="PATH", nargs="?", default=DEFAULT_DEMO_PATH,
                   help=f"where to write it (default: {DEFAULT_DEMO_PATH})")
    p.set_defaults(handler=cmd_demo_realm)

    from studio.integrations.cli import add_parser as add_notifier_parser

    add_notifier_parser(sub)
    from studio.integrations.adapter.cli import add_parser as add_adapter_parser

    add_adapter_parser(sub)
    # Parsed by the server itself (see docs/server.md); listed here for --help.
    sub.add_parser("server", help="run the object server (studio server --help)", add_help=False)
    # Parsed by studio.ui.demo (it needs the GUI extra); listed here for --help.
    sub.add_parser("demo", help="a local server, two simulated chat clients and the Studio's "
                   "live dashboard (studio demo --help)", add_help=False)
    return parser


# The options of ``studio [PATH ...]``: one table for the parser and for the top-level
# help (argparse would show only the commands there: the Studio is opened before the
# command parser sees the arguments).
STUDIO_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--class", {"dest": "class_name", "metavar": "NAME", "help": "class to show"}),
    ("--query", {"metavar": "Q", "help": "Realm Query Language filter to apply"}),
    ("--screenshot", {"metavar": "OUT.png",
                      "help": "render offscreen, write the window as a PNG and exit"}),
    ("--read-only", {"action": "store_true", "help": "open the files read-only"}),
    ("--theme", {"choices": ("light", "dark", "system"), "metavar": "{light,dark,system}",
                 "help": "colour theme"}),
    ("--connect", {"metavar": "URL", "action": "append",
                   "help": "open the server window for an object server (log in there); "
                           "several servers of one store: URL,URL or --connect repeated"}),
)


def studio_parser() -> argparse.ArgumentParser:
    """The parser of ``studio [PATH ...]`` (opening the Studio itself)."""
    parser = argparse.ArgumentParser(
        prog="studio", description="Open realm files in the Studio (no PATH: the greeting window)."
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="realm files to open")
    for flag, options in STUDIO_OPTIONS:
        parser.add_argument(flag, **options)
    return parser


def _studio_options_help() -> str:
    lines = ["Open the Studio: studio [PATH ...] [options] (no PATH: the greeting window)"]
    for flag, options in STUDIO_OPTIONS:
        name = f"{flag} {options['metavar']}" if "metavar" in options else flag
        lines.append(f"  {name:<28}{options['help']}")
    return "\n".join(lines)


def _open_in_studio(argv: list[str]) -> int:
    """``studio [PATH ...] [--class NAME] [--query Q] [--screenshot OUT.png]``: the Studio."""
    parser = studio_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        from studio.ui.app import run
    except ImportError as exc:
        _error(
            f"the Studio window needs the GUI extra (PySide6, qasync): {exc}. "
            "Install it with: pip install 'studio[gui]'"
        )
        return EXIT_USAGE
    return run(
        args.paths,
        class_name=args.class_name,
        query=args.query,
        screenshot=args.screenshot,
        read_only=args.read_only,
        theme_mode=args.theme,
        connect=",".join(args.connect) if args.connect else None,
    )


def _run_demo(argv: list[str]) -> int:
    """``studio demo ...``: parsed by :mod:`studio.ui.demo` (the GUI extra is needed)."""
    from studio.ui.demo import parse_args

    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help or a usage error (argparse printed it)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    try:
        from studio.ui.app import run_demo
    except ImportError as exc:
        _error(f"the demo needs the GUI extra (PySide6, qasync): {exc}. "
               "Install it with: pip install 'studio[gui]'", "demo")
        return EXIT_USAGE
    return run_demo(args.screenshot, tab=args.tab, wait=args.wait, theme_mode=args.theme)


def _run_server(argv: list[str]) -> int:
    """``studio server ...``: the object server parses its own options."""
    try:
        from studio.server import main as server_main
    except ImportError as exc:
        _error(f"the object server cannot start: {exc}", "server")
        return EXIT_USAGE
    return server_main(argv)


def _error(message: str, command: str | None = None) -> None:
    one_line = " ".join(str(message).split())
    prefix = f"studio {command}" if command else "studio"
    sys.stderr.write(f"{prefix}: error: {one_line}\n")


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's file or input, not a bug: reported in one line."""
    from studio.core import RealmError

    errors: list[type[BaseException]] = [CliError, RealmError, OSError, sqlite3.Error]
    try:
        from studio.realmfile.errors import RealmFileError
    except Exception:  # the reader is optional and may be mid-development; its absence is fine
        pass
    else:
        errors.append(RealmFileError)
    return tuple(errors)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    if isinstance(exc, sqlite3.Error):
        return f"the file could not be read as a realm: {exc}"
    return str(exc) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 error, 130 interrupted)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] == "server":
        return _run_server(arguments[1:])
    if arguments and arguments[0] == "demo":
        return _run_demo(arguments[1:])
    if not arguments or arguments[0] in _GUI_OPTIONS or (
        not arguments[0].startswith("-") and arguments[0] not in COMMANDS
    ):
        return _open_in_studio(arguments)
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse printed it)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_OK
    user_errors = _user_errors()
    try:
        return handler(args)
    except BrokenPipeError:
        # `studio inspect X | head`: the reader went away; not an error worth a message.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _error("interrupted", args.command)
        return EXIT_INTERRUPTED
    except user_errors as exc:
        _error(_describe(exc), args.command)
        return EXIT_USAGE
