"""The ``studio`` command line.

    studio inspect REALM [--json]          classes, properties and object counts
    studio export REALM --format json|csv --out DIR
    studio import-csv REALM CLASS FILE.csv [--batch N] [--update] [--primary-key NAME]
    studio convert SRC DST [--force]       Realm Core file -> editable studio realm
    studio demo-realm [PATH]               (re)generate the demo realm
    studio demo [--screenshot OUT.png]     a local server, two chat clients, the Studio watching
    studio --connect URL                   the Studio's server window (log in, live dashboard)

``studio`` alone prints this help for now; the Studio issue makes it open the
greeting window and ``studio PATH`` a realm browser, which is why a first argument
that is not a command is routed to :func:`_open_in_studio` before argparse sees it.

User errors (a missing file, not a realm, a bad CSV row) print one line to stderr
and exit with status 2, never a traceback. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from studio.version import package_version

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer

COMMANDS = ("inspect", "export", "import-csv", "convert", "demo-realm", "server", "demo",
            "notifier")  # fmt: skip
DEFAULT_DEMO_PATH = "demo.realm"
_GUI_OPTIONS = ("--class", "--query", "--screenshot", "--read-only", "--theme", "--connect")


class CliError(Exception):
    """A user error: the message is printed as one line and the exit status is 2."""


# -- progress bar --------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar redrawn in place on a terminal (at most 10 times a second)."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self._last_draw = 0.0
        self._drawn = False
        self._last_length = 0

    def update(self, fraction: float, detail: str = "", *, force: bool = False) -> None:
        now = time.monotonic()  # only paces redraws; never part of any output data
        if not force and fraction < 1.0 and self._drawn and now - self._last_draw < 0.1:
            return  # the final 100% is always drawn
        self._last_draw = now
        fraction = min(max(fraction, 0.0), 1.0)
        filled = round(fraction * self.WIDTH)
        text = (f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] "
                f"{int(fraction * 100):3d}%{'  ' + detail if detail else ''}")
        padding = " " * max(0, self._last_length - len(text))
        self.stream.write("\r" + text + padding)
        self.stream.flush()
        self._last_length = len(text)
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def callback(self) -> Callable[..., None]:
        """A progress callback for APIs whose exact signature varies: ``(fraction)``,
        ``(done, total)`` or ``(label, done, total)``."""

        def report(*args: Any, **_kwargs: Any) -> None:
            numbers = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
            words = [a for a in args if isinstance(a, str)]
            if len(numbers) >= 2:
                done, total = numbers[0], numbers[1]
                fraction = done / total if total else 1.0
                detail = f"{done}/{total}"
            elif len(numbers) == 1 and 0 <= numbers[0] <= 1:
                fraction, detail = float(numbers[0]), ""
            else:
                return
            if words:
                detail = f"{words[0]} {detail}".strip()
            self.update(fraction, detail)

        return report


def _progress_bar(label: str) -> ProgressBar | None:
    """A bar on stderr when it is a terminal; None when output goes to a file or pipe."""
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return None
    return ProgressBar(stream, label)


# -- shared checks -------------------------------------------------------------------------


def _file_kind(path: Path) -> str:
    """What the file is ('sqlite' or 'realm-core'); a CliError for anything unreadable."""
    from studio.core.realm import sniff_file

    if path.is_dir():
        raise CliError(f"{path} is a directory, not a realm file")
    kind = sniff_file(path)
    if kind == "missing":
        raise CliError(f"{path}: no such file")
    if kind == "empty":
        raise CliError(f"{path} is empty, not a realm file")
    if kind == "other":
        _explain_encrypted(path)
        raise CliError(f"{path} is not a realm file (neither a studio realm nor a Realm Core file)")
    return kind


def _explain_encrypted(path: Path) -> None:
    """An encrypted Realm Core file has no readable signature; the reader can still tell
    it apart from random bytes, and its message says what to do."""
    try:
        from studio.realmfile import EncryptedRealmError, RealmFile
    except ImportError:
        return
    try:
        RealmFile.open(path).close()
    except EncryptedRealmError as exc:
        raise CliError(str(exc)) from None
    except Exception:  # any other verdict: the generic "not a realm file" is right
        return


def _module_missing(exc: ImportError, module: str) -> bool:
    """True when ``exc`` says ``module`` (or a package above it) does not exist, as opposed
    to the module existing and failing on an import of its own."""
    name = exc.name or ""
    return bool(name) and (module == name or module.startswith(name + "."))


def _not_installed(what: str, module: str) -> CliError:
    return CliError(
        f"{what} needs {module}, which this installation of studio does not have yet"
    )


# -- inspect -------------------------------------------------------------------------------


def inspect_realm(path: Path) -> dict[str, Any]:
    """The ``inspect --json`` document of a studio realm (classes sorted by name)."""
    from studio.core import Realm
    from studio.core.storage import FORMAT

    with Realm.open(path, read_only=True) as realm:
        classes = []
        for schema in sorted(realm.schema, key=lambda s: s.name):
            classes.append({
                "name": schema.name,
                "count": len(realm.objects(schema.name)),
                "primary_key": schema.primary_key,
                "embedded": schema.embedded,
                "properties": [
                    {
                        "name": prop.name,
                        "type": prop.type_string,
                        "optional": prop.optional,
                        "object_type": prop.object_type,
                    }
                    for prop in schema.properties
                ],
            })
    return {"format": FORMAT, "classes": classes}


def _inspect_realm_core(path: Path) -> dict[str, Any]:
    try:
        from studio.realmfile.inspect import inspect_json
    except ImportError as exc:
        if not _module_missing(exc, "studio.realmfile.inspect"):
            raise
        raise _not_installed(f"{path} is a Realm Core file; reading it", "studio.realmfile.inspect"
                             ) from None
    return normalize_inspect(dict(inspect_json(str(path))))


def normalize_inspect(data: dict[str, Any]) -> dict[str, Any]:
    """The reader's document in the shape studio realms use, so the two compare equal
    after ``studio convert`` (apart from "format"): classes sorted by name, each
    property's ``type`` Realm's short type string (the reader also gives the base type
    as ``type`` and the short form as ``type_string``)."""
    classes = []
    for cls in sorted(data.get("classes", []), key=lambda c: str(c.get("name"))):
        props = []
        for prop in cls.get("properties", []):
            props.append({
                "name": prop.get("name"),
                "type": prop.get("type_string", prop.get("type")),
                "optional": prop.get("optional"),
                "object_type": prop.get("object_type"),
            })
        classes.append({
            "name": cls.get("name"),
            "count": cls.get("count"),
            "primary_key": cls.get("primary_key"),
            "embedded": cls.get("embedded"),
            "properties": props,
        })
    return {"format": data.get("format"), "classes": classes}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word[-1] == 's' else 's'}"


def _print_inspect(path: Path, data: dict[str, Any], out: TextIO) -> None:
    classes = data.get("classes", [])
    fmt = data.get("format")
    kind = "studio realm" if isinstance(fmt, str) else "Realm Core file"
    objects = sum(c.get("count", 0) for c in classes if not c.get("embedded"))
    embedded = sum(c.get("count", 0) for c in classes if c.get("embedded"))
    summary = (f"{path}: {kind}, format {fmt}; {_plural(len(classes), 'class')}, "
               f"{_plural(objects, 'object')}")
    if embedded:
        summary += f" (+{embedded} embedded)"
    out.write(summary + "\n")
    for cls in classes:
        notes = []
        if cls.get("embedded"):
            notes.append("embedded")
        if cls.get("primary_key"):
            notes.append(f"primary key {cls['primary_key']}")
        out.write(f"\n{cls.get('name')}  {_plural(cls.get('count', 0), 'object')}"
                  + (f"  ({', '.join(notes)})" if notes else "") + "\n")
        props = cls.get("properties", [])
        width = max((len(str(p.get("name", ""))) for p in props), default=0)
        for prop in props:
            type_text = str(prop.get("type"))
            if type_text == "linkingObjects":
                type_text = f"linkingObjects<{prop.get('object_type')}>"
            out.write(f"    {prop.get('name')!s:<{width}}  {type_text}\n")


def cmd_inspect(args: argparse.Namespace) -> int:
    path = Path(args.realm)
    kind = _file_kind(path)
    data = _inspect_realm_core(path) if kind == "realm-core" else inspect_realm(path)
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        _print_inspect(path, data, sys.stdout)
    return EXIT_OK


# -- export --------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from studio.core import Realm
    from studio.core.export_files import export_realm

    path = Path(args.realm)
    if _file_kind(path) == "realm-core":
        raise CliError(
            f"{path} is a Realm Core file; export reads studio realms: make one with "
            f"`studio convert {path} OUT.realm` and export that"
        )
    bar = _progress_bar("exporting")
    try:
        with Realm.open(path, read_only=True) as realm:
            files = export_realm(realm, args.out, args.format,
                                 progress=bar.callback() if bar else None)
            counts = {schema.name: len(realm.objects(schema.name)) for schema in realm.schema}
    finally:
        if bar:
            bar.close()
    for file in files:
        name = file.stem
        count = counts.get(name)
        sys.stdout.write(f"{file}" + (f"  {count} objects" if count is not None else "") + "\n")
    return EXIT_OK


# -- import-csv ----------------------------------------------------------------------------


def _remove_realm(path: Path) -> None:
    for file in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
        with contextlib.suppress(OSError):
            file.unlink()


def cmd_import_csv(args: argparse.Namespace) -> int:
    from studio.core import Realm
    from studio.core.csv_import import CsvImportError, import_csv_files
    from studio.core.realm import sniff_file

    realm_path = Path(args.realm)
    if len(args.more) % 2:
        raise CliError("after CLASS FILE.csv, give further files as CLASS FILE.csv pairs")
    pairs = [(args.class_name, Path(args.csv))]
    pairs += [(args.more[i], Path(args.more[i + 1])) for i in range(0, len(args.more), 2)]
    for _, csv_path in pairs:
        if not csv_path.is_file():
            raise CliError(f"{csv_path}: no such file" if not csv_path.exists()
                           else f"{csv_path} is not a file")
    if args.batch < 1:
        raise CliError(f"--batch must be at least 1, got {args.batch}")
    if args.primary_key is not None and len(pairs) > 1:
        raise CliError("--primary-key applies to one file; import the new class on its own")
    if realm_path.is_dir():
        raise CliError(f"{realm_path} is a directory, not a realm file")
    new_file = sniff_file(realm_path) in ("missing", "empty")
    if not new_file and _file_kind(realm_path) == "realm-core":
        raise CliError(
            f"{realm_path} is a Realm Core file, which studio opens read-only; make an editable "
            f"copy with `studio convert {realm_path} OUT.realm` and import into that"
        )
    bar = _progress_bar("importing")

    def progress(rows: int, done: int, total: int) -> None:
        if bar:
            bar.update(done / total if total else 1.0, f"{rows} rows")

    try:
        with Realm.open(realm_path) as realm:
            results = import_csv_files(realm, pairs, batch_size=args.batch, progress=progress,
                                       update=args.update, primary_key=args.primary_key)
    except CsvImportError as exc:
        if new_file and not exc.committed_rows:
            _remove_realm(realm_path)  # don't leave an empty realm behind a failed import
        raise
    finally:
        if bar:
            bar.close()
    for result in results:
        created = " (new class)" if result.created_class else ""
        sys.stdout.write(
            f"imported {_plural(result.rows, 'row')} into {result.class_name}{created} "
            f"({_plural(result.batches, 'write transaction')})\n"
        )
    if new_file:
        sys.stdout.write(f"created {realm_path}\n")
    return EXIT_OK


# -- convert -------------------------------------------------------------------------------


def cmd_convert(args: argparse.Namespace) -> int:
    src = Path(args.src)
    dst = Path(args.dst)
    kind = _file_kind(src)
    if kind != "realm-core":
        raise CliError(f"{src} is already a studio realm; there is nothing to convert")
    if dst.is_dir():
        raise CliError(f"{dst} is a directory; give the path of the .realm file to write")
    if dst.exists() and not args.force:
        raise CliError(f"{dst} already exists; pass --force to replace it")
    try:
        from studio.realmfile.convert import convert
    except ImportError as exc:
        if not _module_missing(exc, "studio.realmfile.convert"):
            raise
        raise _not_installed("converting a Realm Core file", "studio.realmfile.convert") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed, so a failed conversion leaves no
    # half-written realm (and --force keeps the old file until the new one is complete).
    temp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    _remove_realm(temp)
    bar = _progress_bar("converting")
    try:
        convert(str(src), str(temp), progress=bar.callback() if bar else None)
        for sidecar in ("-wal", "-shm"):
            stale = dst.with_name(dst.name + sidecar)
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        os.replace(temp, dst)
    finally:
        if bar:
            bar.close()
        _remove_realm(temp)
    data = inspect_realm(dst)
    objects = sum(c["count"] for c in data["classes"] if not c["embedded"])
    sys.stdout.write(f"wrote {dst}: {_plural(len(data['classes']), 'class')}, "
                     f"{_plural(objects, 'object')}\n")
    return EXIT_OK


# -- demo-realm ----------------------------------------------------------------------------


def cmd_demo_realm(args: argparse.Namespace) -> int:
    from studio.demo import build_demo_realm, load_demo_schema

    path = Path(args.path)
    counts = build_demo_realm(path)
    embedded = {c["name"] for c in load_demo_schema()[0] if c.get("embedded")}
    objects = sum(n for name, n in counts.items() if name not in embedded)
    nested = sum(n for name, n in counts.items() if name in embedded)
    sys.stdout.write(
        f"wrote {path}: {objects} objects in {len(counts) - len(embedded)} classes "
        f"(+{nested} embedded)\n"
    )
    return EXIT_OK


# -- parser and main -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Studio: an offline-first object database and the tools to look inside it.",
        epilog="See docs/cli.md for examples. Errors exit with status 2.",
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
    # Parsed by the server itself (see docs/server.md); listed here for --help.
    sub.add_parser("server", help="run the object server (studio server --help)", add_help=False)
    # Parsed by studio.ui.demo (it needs the GUI extra); listed here for --help.
    sub.add_parser("demo", help="a local server, two simulated chat clients and the Studio's "
                   "live dashboard (studio demo --help)", add_help=False)
    return parser


def _open_in_studio(argv: list[str]) -> int:
    """``studio [PATH ...] [--class NAME] [--query Q] [--screenshot OUT.png]``: the Studio."""
    parser = argparse.ArgumentParser(
        prog="studio", description="Open realm files in the Studio (no PATH: the greeting window)."
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="realm files to open")
    parser.add_argument("--class", dest="class_name", metavar="NAME", help="class to show")
    parser.add_argument("--query", metavar="Q", help="Realm Query Language filter to apply")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="render offscreen, write the window as a PNG and exit")
    parser.add_argument("--read-only", action="store_true", help="open the files read-only")
    parser.add_argument("--theme", choices=("light", "dark", "system"), help="colour theme")
    parser.add_argument("--connect", metavar="URL",
                        help="open the server window for an object server (log in there)")
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
        connect=args.connect,
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
