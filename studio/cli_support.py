"""What the ``studio`` commands share: exit statuses, the user-error exception, the
terminal progress bar and the checks of the files they are given (see docs/cli.md)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer


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


def progress_bar(label: str) -> ProgressBar | None:
    """A bar on stderr when it is a terminal; None when output goes to a file or pipe."""
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return None
    return ProgressBar(stream, label)


# -- shared checks -------------------------------------------------------------------------


def file_kind(path: Path) -> str:
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


def module_missing(exc: ImportError, module: str) -> bool:
    """True when ``exc`` says ``module`` (or a package above it) does not exist, as opposed
    to the module existing and failing on an import of its own."""
    name = exc.name or ""
    return bool(name) and (module == name or module.startswith(name + "."))


def not_installed(what: str, module: str) -> CliError:
    return CliError(
        f"{what} needs {module}, which this installation of studio does not have yet"
    )


# -- small helpers -------------------------------------------------------------------------


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word[-1] == 's' else 's'}"


def remove_realm(path: Path) -> None:
    for file in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
        with contextlib.suppress(OSError):
            file.unlink()
