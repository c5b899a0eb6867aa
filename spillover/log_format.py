"""JSON-lines log records for daemons (one object a line: ts, level, logger, message, extras)."""

from __future__ import annotations

import logging
from typing import Any

import orjson

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    """Format a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        row: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                row[key] = value
        if record.exc_info:
            row["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(row, default=str).decode()
