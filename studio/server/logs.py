"""Structured logs: one JSON object per line on stderr, one line per event.

Every line has ``time`` (ISO 8601, UTC), ``level``, ``event`` (a short
snake_case name such as ``connection_opened``) and the event's fields. Use
:func:`log`; the admin event stream also receives these lines
(:class:`BusHandler`).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, Final

LOGGER: Final = logging.getLogger("studio.server")
LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def log(level: int, event: str, /, **fields: Any) -> None:
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, event, extra={"fields": fields})


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    out: dict[str, Any] = dict(fields) if isinstance(fields, dict) else {}
    if record.exc_info and record.exc_info[1] is not None:
        out["exception"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            # A field never hides the line's own time/level/event.
            line[f"{key}_" if key in line else key] = value
        if record.name != LOGGER.name:
            line["logger"] = record.name
        return json.dumps(line, default=str, separators=(",", ":"))


class BusHandler(logging.Handler):
    """Forwards log records to a callback on the event loop's thread (records
    may come from worker threads)."""

    def __init__(
        self,
        deliver: Callable[[dict[str, Any]], None],
        call_soon_threadsafe: Callable[..., object],
        level: int,
    ) -> None:
        super().__init__(level)
        self._deliver = deliver
        self._call_soon_threadsafe = call_soon_threadsafe
        self._loop_thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        event = {
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "fields": record_fields(record),
        }
        if threading.get_ident() == self._loop_thread:
            self._deliver(event)
        else:
            try:
                self._call_soon_threadsafe(self._deliver, event)
            except RuntimeError:  # the loop is closed: the line is in the log anyway
                pass


def configure_logging(level: str, stream: IO[str] | None = None) -> logging.Handler:
    """Send the server's log lines (and aiohttp's warnings) to ``stream`` as JSON."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    LOGGER.setLevel(LEVELS[level])
    LOGGER.addHandler(handler)
    LOGGER.propagate = False
    aiohttp_logger = logging.getLogger("aiohttp")
    aiohttp_logger.setLevel(logging.WARNING)
    aiohttp_logger.addHandler(handler)
    aiohttp_logger.propagate = False
    return handler


def remove_handler(handler: logging.Handler) -> None:
    LOGGER.removeHandler(handler)
    logging.getLogger("aiohttp").removeHandler(handler)


MAX_LOGGED_CHARS: Final = 100


def clip(value: object, limit: int = MAX_LOGGED_CHARS) -> str:
    """``value`` as it may appear in a log line: user-supplied text is cut to
    ``limit`` characters (with its full size), so that a huge request cannot
    make a huge log line."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    size = len(text.encode("utf-8", "surrogatepass"))
    return f"{text[:limit]}…({size} bytes)"
