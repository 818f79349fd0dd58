"""Logging set-up for the command line: the standard library's ``logging``, two formats.

The library itself only creates loggers (``aiosio.engine``, ``aiosio.server``, ...) and
logs with ``%``-arguments; it never configures logging. :func:`configure` is what the
command line calls:

* ``text``: one concise line per record, ``12:00:01.250 INFO  aiosio.demo: alice connected``;
* ``json``: one JSON object per line, with the ``extra=`` fields of the call, for log
  collectors.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any, TextIO

__all__ = ["LEVELS", "JSONFormatter", "TextFormatter", "configure"]

LEVELS = ("critical", "error", "warning", "info", "debug")

# The attributes every LogRecord has; anything else came from ``extra=``.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS.mmm LEVEL logger: message``, with any traceback below."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S"
        )


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        entry: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=repr)


def configure(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every log record at ``level`` and above to ``stream`` (stderr) in ``fmt``.

    Raises:
        ValueError: For an unknown level or format.
    """
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; one of {', '.join(LEVELS)}")
    formatters = {"text": TextFormatter, "json": JSONFormatter}
    if fmt not in formatters:
        raise ValueError(f"unknown log format {fmt!r}; one of text, json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatters[fmt]())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # asyncio's debug chatter only when asked for.
    logging.getLogger("asyncio").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
