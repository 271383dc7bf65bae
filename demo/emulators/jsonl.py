"""Random access to a JSON Lines file by row number, without keeping its rows in memory.

A world of a million submissions is served from disk: the index holds one byte offset per row (numpy), rows
are read back with positional reads when a page needs them. Plain reads rather than mmap: the generator may
rewrite a file in place while a server still holds the old index, and a short read is safe where touching a
truncated mapping would crash the process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

_CHUNK = 1 << 20


def read_json(path: Path) -> Any:
    """One JSON file of a world; a broken one is an error naming the file."""
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc


class JsonlFile:
    """Line offsets of one JSONL file; `scan` parses every row once to build column indexes."""

    def __init__(self, path: Path) -> None:
        # A missing file is an empty table (a form nobody has submitted to yet).
        self.path = path
        self.signature = self._signature()
        self.starts = np.empty(0, dtype=np.int64)
        self.ends = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def _signature(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def changed(self) -> bool:
        return self._signature() != self.signature

    def scan(self, visit: Callable[[dict[str, Any]], None]) -> None:
        """Index every non-blank line and call `visit` with each parsed row, in file order."""
        starts: list[int] = []
        ends: list[int] = []
        offset = 0
        if self.signature is None:
            return
        with open(self.path, "rb", buffering=_CHUNK) as handle:
            for number, line in enumerate(handle, start=1):
                length = len(line)
                body = line.strip()
                if body:
                    try:
                        row = orjson.loads(body)
                    except orjson.JSONDecodeError as exc:
                        raise ValueError(f"{self.path}: line {number} is not valid JSON: {exc}") from exc
                    if not isinstance(row, dict):
                        raise ValueError(f"{self.path}: line {number} is not a JSON object")
                    starts.append(offset)
                    ends.append(offset + len(line.rstrip()))
                    visit(row)
                offset += length
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)

    def read(self, rows: np.ndarray | list[int]) -> list[bytes]:
        """The raw JSON of the given rows (row numbers in file order), in the order asked."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return []
        starts = self.starts[rows]
        ends = self.ends[rows]
        needed = int((ends - starts).sum())
        low, high = int(starts.min()), int(ends.max())
        fd = os.open(self.path, os.O_RDONLY)
        try:
            # A page is usually a contiguous stretch of the file (ascending _id, or newest first):
            # one read of the whole span beats a thousand small ones.
            if high - low <= 4 * needed + _CHUNK:
                block = os.pread(fd, high - low, low)
                return [block[s - low : e - low] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
            return [os.pread(fd, e - s, s) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        finally:
            os.close(fd)

    def parsed(self, rows: np.ndarray | list[int], batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Parsed rows, read a batch at a time so a full scan never holds the whole file."""
        rows = np.asarray(rows, dtype=np.int64)
        for begin in range(0, len(rows), batch):
            for raw in self.read(rows[begin : begin + batch]):
                yield orjson.loads(raw)
