"""Fast, deterministic JSON output (orjson when installed, the standard library otherwise)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in requirements.lock
    orjson = None


def _default(obj):
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def dumps(obj, indent: bool = False) -> bytes:
    if orjson is not None:
        return orjson.dumps(obj, default=_default, option=orjson.OPT_INDENT_2 if indent else 0)
    return json.dumps(
        obj,
        ensure_ascii=False,
        default=_default,
        indent=2 if indent else None,
        separators=None if indent else (",", ":"),
    ).encode()


def write_jsonl(path: Path, rows: Iterable[dict], chunk: int = 5000) -> int:
    """Stream rows to a .jsonl file, one JSON object per line; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    buffer: list[bytes] = []
    with path.open("wb") as fh:
        for row in rows:
            buffer.append(dumps(row))
            count += 1
            if len(buffer) >= chunk:
                fh.write(b"\n".join(buffer) + b"\n")
                buffer.clear()
        if buffer:
            fh.write(b"\n".join(buffer) + b"\n")
    return count
