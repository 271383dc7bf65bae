"""What is wrong with a spreadsheet source right now, read from its raw schema: the files quarantined, the
rows left out, the values that did not read as dates and the headers renamed to stay unique.

`_sangam_quarantine` and `_sangam_sheet_notes` are append-only history. What is *current* is what the latest
event of each file says: a file quarantined after its last load is still quarantined (on every later run, even
one that reads nothing new, until a readable version is loaded or the file is removed); the notes and row
quarantines of a file's latest load stand until it is loaded again. The run summary (extract.run), the Dagster
asset metadata and the quality checks (quality.sheet_checks, hence the Data quality dashboard) all read this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from extract.tables import QUARANTINE_TABLE

NOTES_TABLE = "_sangam_sheet_notes"
NOTES_SCHEMA = pa.schema(
    [("file", pa.string()), ("table_name", pa.string()), ("column_name", pa.string()),
     ("kind", pa.string()), ("count", pa.int64()), ("rows", pa.string()), ("detail", pa.string()),
     ("detected_at", pa.timestamp("us")), ("content_hash", pa.string())]
)  # fmt: skip
# Note kinds: a column's values that are not dates, a header renamed to stay unique, a file gone from the
# folder.
UNPARSED_DATE, DUPLICATE_NAME, FILE_REMOVED = "unparsed_date", "duplicate_name", "file_removed"
# Issue kinds (current_issues): the two quarantine kinds and the note kinds above.
QUARANTINED_FILE, QUARANTINED_ROWS = "quarantined_file", "quarantined_rows"
ROWS_SHOWN = 10  # row numbers listed in a message; the count says how many there are


@dataclass(frozen=True)
class SheetIssue:
    table: str
    file: str
    kind: str
    column: str | None  # the column a note is about (None for quarantines)
    count: int  # files (1), rows or values concerned
    message: str  # plain words, no cell values (they may be personal)

    def __str__(self) -> str:
        return f"{self.table}: {self.message}"


def row_list(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:ROWS_SHOWN])
    return shown + (", …" if len(rows) > ROWS_SHOWN else "")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _nothing(columns: int) -> str:
    return "SELECT " + ", ".join(["NULL::VARCHAR"] * (columns - 1)) + ", NULL::TIMESTAMP LIMIT 0"


def current_issues_sql(con: duckdb.DuckDBPyConnection, schema: str) -> str | None:
    """SQL giving one row per current issue of the spreadsheet tables in `schema`: table_name, file, kind,
    column_name, count, message. None when the schema holds no spreadsheet history."""
    tables = dict(
        con.execute(
            "SELECT table_name, list(column_name) FROM information_schema.columns WHERE table_schema = ? "
            "AND table_catalog = current_database() GROUP BY 1",
            [schema],
        ).fetchall()
    )
    has_q, has_n = QUARANTINE_TABLE in tables, NOTES_TABLE in tables
    if not (has_q or has_n):
        return None
    s = _q(schema)
    loaded = [
        f"(SELECT '{t}', _source_file, max(_loaded_at) FROM {s}.{_q(t)} GROUP BY ALL)"
        for t, cols in tables.items()
        if not t.startswith("_") and {"_source_file", "_loaded_at"} <= set(cols) and "'" not in t
    ]
    q = f'SELECT table_name, file, reason, "row", detected_at FROM {s}.{QUARANTINE_TABLE}'
    n = f"SELECT {', '.join(_q(c) for c in NOTES_SCHEMA.names if c != 'content_hash')} FROM {s}.{NOTES_TABLE}"
    events = [
        "(SELECT table_name, file, detected_at FROM q)",
        "(SELECT table_name, file, detected_at FROM n)",
    ]
    rows_list = """list('row ' || "row" || ': ' || reason ORDER BY "row")"""
    columns_n = 'file, table_name, column_name, kind, "count", "rows", detail, detected_at'
    return f"""
WITH q(table_name, file, reason, "row", detected_at) AS ({q if has_q else _nothing(5)}),
n({columns_n}) AS ({n if has_n else _nothing(8)}),
latest AS (SELECT table_name, file, max(event_at) AS event_at
           FROM ({" UNION ALL ".join([*events, *loaded])}) e(table_name, file, event_at) GROUP BY ALL),
cq AS (SELECT q.* FROM q JOIN latest USING (table_name, file) WHERE q.detected_at = latest.event_at),
cn AS (SELECT n.* FROM n JOIN latest USING (table_name, file) WHERE n.detected_at = latest.event_at)
SELECT table_name, file, '{QUARANTINED_FILE}' AS kind, NULL AS column_name, 1::BIGINT AS "count",
       file || ' quarantined: ' || reason AS message
FROM cq WHERE "row" IS NULL
UNION ALL
SELECT table_name, file, '{QUARANTINED_ROWS}', NULL, count(*),
       file || ': ' || count(*) || CASE WHEN count(*) = 1 THEN ' row' ELSE ' rows' END || ' not loaded ('
       || array_to_string(list_slice({rows_list}, 1, {ROWS_SHOWN}), '; ')
       || CASE WHEN count(*) > {ROWS_SHOWN} THEN '; …' ELSE '' END || ')'
FROM cq WHERE "row" IS NOT NULL GROUP BY table_name, file
UNION ALL
SELECT table_name, file, kind, column_name, "count",
       file || ': ' || CASE kind
           WHEN '{UNPARSED_DATE}' THEN column_name || ': ' || "count"
               || CASE WHEN "count" = 1 THEN ' value' ELSE ' values' END
               || ' not read as dates (rows ' || "rows" || ')'
           ELSE detail END
FROM cn WHERE kind <> '{FILE_REMOVED}'
ORDER BY 1, 2, 3"""


def current_issues(con: duckdb.DuckDBPyConnection, schema: str) -> list[SheetIssue]:
    sql = current_issues_sql(con, schema)
    if sql is None:
        return []
    return [SheetIssue(*row) for row in con.execute(sql).fetchall()]


def read_current_issues(warehouse_path: Path, schema: str) -> list[SheetIssue]:
    """current_issues from the warehouse file; a warehouse that cannot be read is itself one issue (the
    load is done either way, so it must not fail over this)."""
    try:
        with duckdb.connect(str(warehouse_path)) as con:
            return current_issues(con, schema)
    except duckdb.Error as exc:
        message = f"could not read the quarantine and notes tables: {exc}"
        return [SheetIssue("*", "*", "unreadable_status", None, 0, message)]
