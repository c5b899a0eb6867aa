"""Dead letters: every message that failed to decode, kept with its reason for inspection.

One JSON object per line: `ts` (receipt, ns), `feed`, `source` (topic or stream), `reason`, and
the payload as text when it is UTF-8 (`payload`) or base64 otherwise (`payload_b64`).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import IO, Any

import orjson


class DeadLetterFile:
    """Appends dead letters to a JSON-lines file, flushed line by line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.count = 0
        self._file: IO[bytes] = path.open("ab")

    def write(self, ts_ns: int, feed: str, source: str, payload: bytes, reason: str) -> None:
        """Keep one bad message."""
        row: dict[str, Any] = {"ts": ts_ns, "feed": feed, "source": source, "reason": reason}
        try:
            row["payload"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            row["payload_b64"] = base64.b64encode(payload).decode("ascii")
        self._file.write(orjson.dumps(row) + b"\n")
        self._file.flush()
        self.count += 1

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_dead_letters(path: Path) -> list[dict[str, Any]]:
    """Read a dead-letter file back (payloads decoded to bytes under `raw`)."""
    rows: list[dict[str, Any]] = []
    if not path.exists():
        return rows
    for line in path.read_bytes().splitlines():
        row = orjson.loads(line)
        text = row.get("payload")
        row["raw"] = text.encode() if text is not None else base64.b64decode(row["payload_b64"])
        rows.append(row)
    return rows
