"""A question whose type changes between form versions (integer → text, say) never fails a load.

dlt keeps a column's first type and loads later values into it: a text answer such as "12a" in a BIGINT
column failed the whole load with DuckDB's ConversionException, and the package stayed pending, failing again
on every run. Before a form's table goes to dlt (`fit_stored_types`, called for every main and repeat table),
its Arrow types are compared with the types the pipeline already stored:

- the stored column is VARCHAR: the new values are cast to text (lossless; nothing to change);
- otherwise the column widens to VARCHAR, as the newest form version says (docs/contracts.md §3: typed from
  the current definition): `ALTER COLUMN … TYPE VARCHAR` in the raw table and its dlt staging copy, and the
  pipeline's schema follows, so every stored answer is kept (as its text) and the new ones load as sent.

Each widening is recorded in `raw_<source>._sangam_schema_changes` (when, table, column, old and new type,
the form versions of the rows that brought it, how many of those values the old type could not hold) and
reported in the run summary; staging then reads the column with `try_cast`, so a value the program's type
cannot hold is null there but never lost in raw.
"""

from __future__ import annotations

import logging
from datetime import datetime

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.libs.pyarrow import get_column_type_from_py_arrow

log = logging.getLogger("sangam.extract")

CHANGES_TABLE = "_sangam_schema_changes"
_DUCKDB_TYPES = {"bigint": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN", "date": "DATE",
                 "timestamp": "TIMESTAMP", "time": "TIME", "json": "JSON", "text": "VARCHAR",
                 "decimal": "DECIMAL", "wei": "DECIMAL", "binary": "BLOB"}  # fmt: skip
_CHANGES_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} (changed_at TIMESTAMP, source VARCHAR, form VARCHAR, "
    "table_name VARCHAR, column_name VARCHAR, old_type VARCHAR, new_type VARCHAR, form_versions VARCHAR, "
    "values_not_old_type BIGINT, message VARCHAR)"
)


def fit_stored_types(table: pa.Table, name: str) -> pa.Table:
    """`table` with its columns fitted to the types already stored for table `name` (see the module doc).
    Outside a running pipeline (unit tests) the table is returned as it is."""
    try:
        schema = dlt.current.source_schema()
    except Exception:  # not extracting: nothing stored to fit
        return table
    stored = (schema.tables.get(name) or {}).get("columns") or {}
    if not stored:
        return table
    for i, field in enumerate(table.schema):
        col = stored.get(field.name)
        old = col.get("data_type") if col else None
        if old is None or pa.types.is_null(field.type):
            continue
        try:
            new = get_column_type_from_py_arrow(field.type)["data_type"]
        except Exception:  # a type dlt cannot map: leave it to dlt
            continue
        if new == old or (old == "json" and pa.types.is_list(field.type)):
            continue
        if old == "text":
            table = table.set_column(i, field.with_type(pa.string()), _as_text(table.column(i)))
            continue
        _widen(schema, name, field.name, old, table.column(i), table)
        table = table.set_column(i, field.with_type(pa.string()), _as_text(table.column(i)))
    return table


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _widen(schema, name: str, column: str, old: str, values: pa.ChunkedArray, table: pa.Table) -> None:
    from extract.tables import utcnow  # extract.tables calls this module: imported when needed

    pipeline = dlt.current.pipeline()
    source = pipeline.dataset_name.removeprefix("raw_")
    form = name.split("__", 1)[0]
    old_sql = _DUCKDB_TYPES.get(old, old.upper())
    versions = _versions(table, values)
    misfits = _misfits(values, old_sql)
    message = (
        f"{source}/{form}: {name}.{column} changed {old_sql} → VARCHAR"
        + (f" (form version {', '.join(versions)})" if versions else "")
        + f": stored answers kept as text, new ones loaded as sent; {misfits} new value(s) are not {old_sql}"
        + (" (staging reads them as null: regenerate or override its model for the text)" if misfits else "")
    )
    with pipeline.sql_client() as client:
        con = client.native_connection
        con.execute("BEGIN TRANSACTION")
        try:
            for qualified in _existing_tables(client, name):
                con.execute(f'ALTER TABLE {qualified} ALTER COLUMN "{column}" TYPE VARCHAR')
            changes = client.make_qualified_table_name(CHANGES_TABLE)
            con.execute(_CHANGES_DDL.format(table=changes))
            con.execute(
                f"INSERT INTO {changes} VALUES (?, ?, ?, ?, ?, ?, 'VARCHAR', ?, ?, ?)",
                [
                    utcnow(),
                    source,
                    form,
                    name,
                    column,
                    old_sql,
                    ", ".join(versions) or None,
                    misfits,
                    message,
                ],  # fmt: skip
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    col = schema.tables[name]["columns"][column]
    for key in ("precision", "scale", "timezone"):
        col.pop(key, None)
    col["data_type"] = "text"
    log.warning("%s", message)


def _existing_tables(client, name: str) -> list[str]:
    """The raw table and its dlt staging copy, where they exist (qualified names)."""
    found = []
    for staging in (False, True):
        if staging:
            with client.with_staging_dataset():
                found += _if_exists(client, name)
        else:
            found += _if_exists(client, name)
    return found


def _if_exists(client, name: str) -> list[str]:
    rows = client.execute_sql(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        client.dataset_name, name,
    )  # fmt: skip
    return [client.make_qualified_table_name(name)] if rows else []


def _versions(table: pa.Table, values: pa.ChunkedArray) -> list[str]:
    if "form_version" not in table.column_names:
        return []
    answered = table.filter(pc.is_valid(values)).column("form_version")
    return sorted(v for v in pc.unique(answered).to_pylist() if v)


def _misfits(values: pa.ChunkedArray, old_sql: str) -> int:
    """How many non-empty values the old type cannot hold (counted once, when the column widens)."""
    import duckdb

    text = _as_text(values)
    rel = duckdb.connect().from_arrow(pa.table({"v": text}))
    misfit = f"count(*) FILTER (WHERE v <> '' AND try_cast(v AS {old_sql}) IS NULL)"
    return int(rel.aggregate(misfit).fetchone()[0])


def changes_since(pipeline: dlt.Pipeline, since: datetime) -> list[str]:
    """Messages of the widenings recorded since `since` (for the run summary)."""
    try:
        with pipeline.sql_client() as client:
            rows = client.execute_sql(
                f"SELECT message FROM {client.make_qualified_table_name(CHANGES_TABLE)} "
                "WHERE changed_at >= %s ORDER BY changed_at",
                since,
            )
    except Exception:  # no change ever recorded
        return []
    return [r[0] for r in rows or []]
