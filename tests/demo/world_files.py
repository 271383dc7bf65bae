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


def registrations_by_district_month(path: Path) -> list[tuple]:
    """(district, month, registered women) from a KoBo pregnancy_registration JSONL file, each woman counted
    once, at her first registration (the ground truth's rule)."""
    import duckdb

    return (
        duckdb.connect()
        .execute(f"""
        select "location/district",
               cast(date_trunc('month', cast("pregnancy/registration_date" as date)) as date), count(*)
        from (select * from read_json_auto('{path}', format='newline_delimited')
              qualify row_number() over (
                  partition by "woman/woman_id" order by "_submission_time", "_id") = 1)
        group by all
    """)
        .fetchall()
    )
