"""Errors of the storage layer (all :class:`StorageError`, a ServerError)."""

from __future__ import annotations

import errno
import os

from studio.server.errors import ServerError


class StorageError(ServerError):
    """Reading or writing the server's data failed (disk full, corrupt file,
    a file of a newer format). Nothing was acknowledged that is not stored."""


class AlreadyExists(StorageError):
    """A user or realm with that name already exists."""


class Missing(StorageError):
    """No user or realm with that name."""


class TooManyOpenFiles(StorageError):
    """A file could not be opened because the process (or the system) has
    no file descriptor left: not a damaged file; it works again once files
    are closed."""


def out_of_file_descriptors(exc: BaseException | None = None) -> bool:
    """Whether ``exc`` (or, when it does not tell, as with SQLite's "unable
    to open database file" or the core's verdict on a file it could not
    read, opening a file right now) fails for lack of file descriptors."""
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        return True
    try:
        fd = os.open(os.devnull, os.O_RDONLY)
    except OSError as probe:
        return probe.errno in (errno.EMFILE, errno.ENFILE)
    os.close(fd)
    return False


def too_many_open_files(what: str) -> TooManyOpenFiles:
    """The error for ``what`` (e.g. "cannot open the state of /x (file)")
    failing for lack of file descriptors, with what to do about it."""
    limit = ""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        limit = f" (this process may have {soft})"
    except (ImportError, OSError, ValueError):  # Windows has no resource module
        pass
    return TooManyOpenFiles(
        f"{what}: too many open files{limit}; raise the limit (ulimit -n) or keep "
        "fewer realm files open (--max-open-realm-files)"
    )


class QuotaExceeded(StorageError):
    """A user already has as many of something (realms) as allowed."""


class VersionConflict(StorageError):
    """Another writer (a second server process on the same database) stored
    versions of the realm first: what this process merged was based on a
    stale history. Nothing of this write was stored; reload the realm from
    storage and merge the uploads again."""


class ClusterPayloadError(StorageError):
    """A payload on the cluster's NOTIFY channel is not a message this server
    writes (another program, or a newer server version, sent it): logged and
    skipped, never fatal."""
