"""Raw-stage checks of the spreadsheet tables, from what extract.sheet_status says is wrong now:

- `sheet_quarantine`: files (or rows) of the table that were quarantined and not loaded since;
- `sheet_dates_read`: values of its DATE columns that did not read as dates (null in the warehouse).

Both are warnings (checks.yaml severity): the rest of the data is published, and the failure is a row in
dq.check_results, so the Data quality dashboard and the table's `gx` asset check in Dagster name the file and
the reason until someone fixes the file.
"""

from __future__ import annotations

import duckdb

from extract.sheet_status import QUARANTINED_FILE, QUARANTINED_ROWS, UNPARSED_DATE, current_issues_sql
from quality.suites import Check, Plan, _severity, list_tables

# check name → (issue kinds, how to count them, what to say)
CHECKS = {
    "sheet_quarantine": (
        (QUARANTINED_FILE, QUARANTINED_ROWS),
        "count(*)",
        "{failing} file(s) not loaded in full: {detail}",
    ),
    "sheet_dates_read": ((UNPARSED_DATE,), 'sum("count")', "{failing} values not read as dates: {detail}"),
}


def sheet_checks(con: duckdb.DuckDBPyConnection, plan: Plan, spec: dict) -> None:
    n = int(spec.get("failing_sample_rows", 5))
    by_schema: dict[str, set[str]] = {}
    for t in list_tables(con, "raw\\_%"):
        if not t.name.startswith("_") and "_source_file" in t.columns:
            by_schema.setdefault(t.schema, set()).add(t.name)
        elif t.name == "_sangam_quarantine" or t.name == "_sangam_sheet_notes":
            by_schema.setdefault(t.schema, set())
    for schema, tables in sorted(by_schema.items()):
        sql = current_issues_sql(con, schema)
        if sql is not None:
            tables |= {r[0] for r in con.execute(f"SELECT DISTINCT table_name FROM ({sql})").fetchall()}
        for table in sorted(tables):
            label = f"{schema}.{table}"
            for name, (kinds, counted, describe) in CHECKS.items():
                frame = f"{name}:{label}"
                if sql is None:
                    plan.frames[frame] = "SELECT 0::BIGINT AS failing, 'none' AS detail"
                    sample = None
                else:
                    where = f"table_name = '{table}' AND kind IN ({', '.join(repr(k) for k in kinds)})"
                    plan.frames[frame] = (
                        f"WITH i AS ({sql}) SELECT coalesce({counted}, 0)::BIGINT AS failing, "
                        f"coalesce(string_agg(message, '; ' ORDER BY file, kind), 'none') AS detail "
                        f"FROM i WHERE {where}"
                    )
                    sample = f"WITH i AS ({sql}) SELECT file, kind, message FROM i WHERE {where} LIMIT {n}"
                plan.checks.append(
                    Check(
                        name,
                        name,
                        label,
                        _severity(spec, name),
                        frame,
                        "ExpectColumnValuesToBeBetween",
                        {"column": "failing", "min_value": 0, "max_value": 0},
                        describe=describe,
                        sample_sql=sample,
                    )
                )
