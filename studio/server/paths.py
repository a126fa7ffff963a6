"""Realm paths and user names: validation and resolution.

A path is ``/``-separated segments of ``[A-Za-z0-9_.-]``, no ``.`` or ``..``
segments, at most 256 characters (docs/server-api.md). ``/~/name`` is the
caller's own realm and is stored as ``/u/<username>/name``; that canonical
form is what storage, permissions, logs and the admin API use. Anything else
(control characters, backslashes, empty segments, ``%``-escapes) is refused
rather than normalised: a path that needs cleaning up is a client bug or an
attack, and silently rewriting it could alias two realms.
"""

from __future__ import annotations

import re
from typing import Final

from studio.server.errors import InvalidPath

MAX_PATH_LENGTH: Final = 256
MAX_USERNAME_LENGTH: Final = 64
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_.-]+")
_USER_PREFIX: Final = "u"


def _describe(text: str) -> str:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return repr(shown)


def check_segment(segment: str, what: str) -> None:
    if segment in (".", ".."):
        raise InvalidPath(f"{what} may not be '.' or '..'")
    if not _SEGMENT.fullmatch(segment):
        bad = next((c for c in segment if not _SEGMENT.fullmatch(c)), "")
        if not segment:
            raise InvalidPath(f"{what} is empty (two slashes in a row, or a trailing slash?)")
        if bad and (ord(bad) < 32 or ord(bad) == 127):
            raise InvalidPath(f"{what} contains a control character ({ord(bad):#04x})")
        raise InvalidPath(
            f"{what} {_describe(segment)} contains {bad!r}; use letters, digits, '_', '.' and '-'"
        )


def validate_username(name: object) -> str:
    """A user name is one path segment (it becomes part of ``/u/<name>/``)."""
    if not isinstance(name, str) or not name:
        raise InvalidPath("a user name must be a non-empty string")
    if len(name) > MAX_USERNAME_LENGTH:
        raise InvalidPath(f"a user name has at most {MAX_USERNAME_LENGTH} characters")
    check_segment(name, "the user name")
    return name


def resolve_path(path: object, username: str | None) -> str:
    """The canonical form of ``path`` as seen by ``username`` (who ``/~/`` is).

    Raises :class:`InvalidPath` saying what is wrong.
    """
    if not isinstance(path, str) or not path:
        raise InvalidPath("a realm path must be a non-empty string such as '/~/chat'")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidPath(f"a realm path has at most {MAX_PATH_LENGTH} characters")
    if not path.startswith("/"):
        raise InvalidPath(f"a realm path starts with '/', got {_describe(path)}")
    segments = path[1:].split("/")
    if segments[0] == "~":
        if username is None:
            raise InvalidPath("'/~/' paths need a logged-in user")
        segments = [_USER_PREFIX, username, *segments[1:]]
    for n, segment in enumerate(segments):
        check_segment(segment, f"segment {n + 1} of the realm path")
    if segments[0] == _USER_PREFIX and len(segments) < 3:
        raise InvalidPath("a user's realm path is /~/<name> or /u/<user>/<name>")
    return "/" + "/".join(segments)


def owner_of(canonical: str) -> str | None:
    """The user whose own realm this is (``/u/<user>/...``), else None."""
    parts = canonical.split("/")
    if len(parts) >= 4 and parts[1] == _USER_PREFIX:
        return parts[2]
    return None


def file_stem(canonical: str, realm_id: int) -> str:
    """A file name for a realm: readable, and unique through the id (two paths
    can never map to one file, whatever their characters)."""
    slug = canonical.strip("/").replace("/", "~")
    if len(slug) > 80:
        slug = slug[:80]
    return f"{realm_id:06d}-{slug}"
