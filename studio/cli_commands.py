"""The file commands of ``studio``: inspect, export, import-csv, convert, demo-realm.

Each ``cmd_*`` takes the parsed arguments (see :func:`studio.cli.build_parser`),
writes its report to stdout and returns the exit status; a user error is a
:class:`~studio.cli_support.CliError`, which :func:`studio.cli.main` prints as one line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from studio.cli_support import (
    EXIT_OK,
    CliError,
    file_kind,
    module_missing,
    not_installed,
    plural,
    progress_bar,
    remove_realm,
)

# -- inspect -------------------------------------------------------------------------------


def inspect_realm(path: Path) -> dict[str, Any]:
    """The ``inspect --json`` document of a studio realm (classes sorted by name)."""
    from studio.core import Realm

    with Realm.open(path, read_only=True) as realm:
        storage_format = realm.storage_format
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
    return {"format": storage_format, "classes": classes}


def _inspect_realm_core(path: Path) -> dict[str, Any]:
    try:
        from studio.realmfile.inspect import inspect_json
    except ImportError as exc:
        if not module_missing(exc, "studio.realmfile.inspect"):
            raise
        raise not_installed(f"{path} is a Realm Core file; reading it", "studio.realmfile.inspect"
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


def _print_inspect(path: Path, data: dict[str, Any], out: TextIO) -> None:
    classes = data.get("classes", [])
    fmt = data.get("format")
    kind = "studio realm" if isinstance(fmt, str) else "Realm Core file"
    objects = sum(c.get("count", 0) for c in classes if not c.get("embedded"))
    embedded = sum(c.get("count", 0) for c in classes if c.get("embedded"))
    summary = (f"{path}: {kind}, format {fmt}; {plural(len(classes), 'class')}, "
               f"{plural(objects, 'object')}")
    if embedded:
        summary += f" (+{embedded} embedded)"
    out.write(summary + "\n")
    for cls in classes:
        notes = []
        if cls.get("embedded"):
            notes.append("embedded")
        if cls.get("primary_key"):
            notes.append(f"primary key {cls['primary_key']}")
        out.write(f"\n{cls.get('name')}  {plural(cls.get('count', 0), 'object')}"
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
    kind = file_kind(path)
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
    if file_kind(path) == "realm-core":
        raise CliError(
            f"{path} is a Realm Core file; export reads studio realms: make one with "
            f"`studio convert {path} OUT.realm` and export that"
        )
    bar = progress_bar("exporting")
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
    if not new_file and file_kind(realm_path) == "realm-core":
        raise CliError(
            f"{realm_path} is a Realm Core file, which studio opens read-only; make an editable "
            f"copy with `studio convert {realm_path} OUT.realm` and import into that"
        )
    bar = progress_bar("importing")

    def progress(rows: int, done: int, total: int) -> None:
        if bar:
            bar.update(done / total if total else 1.0, f"{rows} rows")

    try:
        with Realm.open(realm_path) as realm:
            results = import_csv_files(realm, pairs, batch_size=args.batch, progress=progress,
                                       update=args.update, primary_key=args.primary_key)
    except CsvImportError as exc:
        if new_file and not exc.committed_rows:
            remove_realm(realm_path)  # don't leave an empty realm behind a failed import
        raise
    finally:
        if bar:
            bar.close()
    for result in results:
        created = " (new class)" if result.created_class else ""
        sys.stdout.write(
            f"imported {plural(result.rows, 'row')} into {result.class_name}{created} "
            f"({plural(result.batches, 'write transaction')})\n"
        )
    if new_file:
        sys.stdout.write(f"created {realm_path}\n")
    return EXIT_OK


# -- convert -------------------------------------------------------------------------------


def cmd_convert(args: argparse.Namespace) -> int:
    src = Path(args.src)
    dst = Path(args.dst)
    kind = file_kind(src)
    if kind != "realm-core":
        raise CliError(f"{src} is already a studio realm; there is nothing to convert")
    if dst.is_dir():
        raise CliError(f"{dst} is a directory; give the path of the .realm file to write")
    if dst.exists() and not args.force:
        raise CliError(f"{dst} already exists; pass --force to replace it")
    try:
        from studio.realmfile.convert import convert
    except ImportError as exc:
        if not module_missing(exc, "studio.realmfile.convert"):
            raise
        raise not_installed("converting a Realm Core file", "studio.realmfile.convert") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed, so a failed conversion leaves no
    # half-written realm (and --force keeps the old file until the new one is complete).
    temp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    remove_realm(temp)
    bar = progress_bar("converting")
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
        remove_realm(temp)
    data = inspect_realm(dst)
    objects = sum(c["count"] for c in data["classes"] if not c["embedded"])
    sys.stdout.write(f"wrote {dst}: {plural(len(data['classes']), 'class')}, "
                     f"{plural(objects, 'object')}\n")
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
