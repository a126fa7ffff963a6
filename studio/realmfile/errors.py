"""Every error the Realm Core file reader raises derives from :class:`RealmFileError`.

Messages say what was wrong and, where it makes sense, at which byte offset of the
file, so that a user (or a bug report) can point at the exact spot.
"""

from __future__ import annotations


class RealmFileError(Exception):
    """Base class of all errors of ``studio.realmfile``.

    ``path`` is the file that was read (when known) and ``offset`` the byte offset
    in it where the problem was found (``None`` when it is about the file as a whole).
    """

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None) -> None:
        self.message = message
        self.path = path
        self.offset = offset
        super().__init__(self._format())

    def _format(self) -> str:
        text = self.message
        if self.offset is not None and "offset" not in text:
            text += f" (at byte offset {self.offset})"
        if self.path:
            text = f"{self.path}: {text}"
        return text


class NotARealmFileError(RealmFileError):
    """The file does not look like a Realm Core file at all."""


class EncryptedRealmError(RealmFileError):
    """The file is an encrypted realm; reading it would need its 64-byte key."""


class UnsupportedFormatError(RealmFileError):
    """The file is a Realm Core file of a format this reader does not read (not 20-24).

    ``format_version`` is the format number found in the file header.
    """

    def __init__(
        self,
        message: str,
        *,
        format_version: int,
        path: str | None = None,
        offset: int | None = None,
    ) -> None:
        self.format_version = format_version
        super().__init__(message, path=path, offset=offset)


class CorruptRealmError(RealmFileError):
    """A structure inside the file is inconsistent: a ref out of bounds, a truncated
    node, a cycle, a value of an unknown kind."""


class UnknownNameError(RealmFileError, KeyError):
    """A class or property name that the file's schema does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return self._format()
