"""Reading a generated world's files in tests: JSONL rows and a digest of every file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under `root` (byte-identical worlds have equal digests)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
