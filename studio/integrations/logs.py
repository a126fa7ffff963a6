"""Structured logs of the integrations, one JSON object per line (as the server's):
``time``, ``level``, ``event`` (snake_case) and the event's fields."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, Final

LOGGER: Final = logging.getLogger("studio.integrations")


def log(level: int, event: str, /, **fields: Any) -> None:
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, event, extra={"fields": fields})


def log_exception(event: str, /, **fields: Any) -> None:
    """An error event with the exception being handled."""
    LOGGER.error(event, exc_info=True, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        for key, value in (fields if isinstance(fields, dict) else {}).items():
            line[f"{key}_" if key in line else key] = value
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line["exception"] = f"{type(exc).__name__}: {exc}"
            line["traceback"] = self.formatException(record.exc_info)
        if record.name != LOGGER.name:
            line["logger"] = record.name
        return json.dumps(line, default=str, separators=(",", ":"))


def configure(level: int = logging.INFO, stream: IO[str] | None = None) -> Callable[[], None]:
    """Send the integrations' and the sync client's logs to ``stream`` (stderr) as
    JSON lines; returns a function that puts the loggers back as they were."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    saved = []
    for name in ("studio.integrations", "studio.sync.client"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers, logger.level, logger.propagate))
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False

    def restore() -> None:
        for logger, handlers, old_level, propagate in saved:
            logger.handlers = handlers
            logger.setLevel(old_level)
            logger.propagate = propagate

    return restore
