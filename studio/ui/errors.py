"""Turn what went wrong into a message that says what to do; never a traceback dialog."""

from __future__ import annotations

import errno
import re
import sqlite3

from studio.core.errors import (
    DuplicatePrimaryKeyError,
    FileFormatError,
    QueryError,
    RealmError,
    WrongTransactionStateError,
)
from studio.realmfile.errors import RealmFileError

_PYTHON_VALUE = re.compile(r"\b(?:ObjectId|UUID|Decimal128|Decimal)\('([^']*)'\)")


def describe(exc: BaseException, path: str = "") -> str:
    """One or two sentences for a message bar: the problem, then the way out."""
    where = f" {path}" if path else ""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, PermissionError) or "permission denied" in lowered or (
        "readonly database" in lowered or "read-only database" in lowered
    ):
        return (f"Permission denied on{where or ' the file'}. Open it read-only, or change "
                "the file's permissions (or ask its owner) and try again.")
    if (isinstance(exc, sqlite3.OperationalError) and "locked" in lowered) or "database is locked" \
            in lowered:
        return (f"The realm{where} is locked by another program that is writing to it. "
                "Wait for it to finish (or close it) and try again.")
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "disk is full" in lowered or (
        "database or disk is full" in lowered
    ):
        return ("The disk is full: the change was not saved. Free some space on the disk "
                "and try again.")
    if isinstance(exc, FileNotFoundError):
        return f"The file{where} does not exist (any more). Choose another file."
    if isinstance(exc, IsADirectoryError):
        return f"{path or 'This'} is a folder, not a realm file. Choose a .realm file."
    if isinstance(exc, FileFormatError) or (isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in lowered or "malformed" in lowered
    )):
        return f"{text} Choose a realm file (created by studio or by a Realm SDK)."
    if isinstance(exc, RealmFileError):
        # The Realm Core reader's messages already say what is wrong and what to do
        # (encrypted: open it in its app; too old: upgrade it with an SDK 10+).
        return text
    if isinstance(exc, WrongTransactionStateError) and "read-only" in lowered:
        return "This realm is open read-only: it cannot be changed. Reopen it for writing."
    if isinstance(exc, DuplicatePrimaryKeyError):
        # The core's text speaks to programmers ("use update=True"); say what to do here.
        what = text.split("; use update=True", 1)[0]
        # ...and writes keys as Python does (ObjectId('59…')): as the table shows them.
        what = _PYTHON_VALUE.sub(r"\1", what)
        return (f"{what[:1].upper()}{what[1:]}. Choose another primary key, or edit the "
                "existing object instead.")
    if isinstance(exc, QueryError):
        return f"Query error: {exc.message} (position {exc.position})."
    if isinstance(exc, RealmError | ValueError | TypeError | KeyError):
        return text or type(exc).__name__
    if isinstance(exc, OSError):
        reason = exc.strerror or text
        return f"{reason}{':' + where if where else ''}. Check the path and try again."
    return f"{type(exc).__name__}: {text}"
