"""A question whose type changes between form versions (integer → text, say) never fails a load.

dlt keeps a column's first type and loads later values into it: a text answer such as "12a" in a BIGINT
column failed the whole load with DuckDB's ConversionException, and the package stayed pending, failing again
on every run. Before a form's table goes to dlt (`fit_stored_types`, called for every main and repeat table),
its Arrow types are compared with the column types the warehouse holds (not dlt's schema, which a failed
load leaves saying text while the column is still BIGINT):

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

import json
import logging
from datetime import datetime
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger("sangam.extract")

CHANGES_TABLE = "_sangam_schema_changes"
_TEXT = ("VARCHAR", "JSON")
_CHANGES_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} (changed_at TIMESTAMP, source VARCHAR, form VARCHAR, "
    "table_name VARCHAR, column_name VARCHAR, old_type VARCHAR, new_type VARCHAR, form_versions VARCHAR, "
    "values_not_old_type BIGINT, message VARCHAR)"
)
# (this extraction's schema object, table) → column → DuckDB type in the warehouse: read once per table
_stored: dict[tuple[str, str], dict[str, str]] = {}


def fit_stored_types(table: pa.Table, name: str) -> pa.Table:
    """`table` with its columns fitted to the types the warehouse holds for table `name` (see the module
    doc). Outside a running extraction (unit tests) the table is returned as it is."""
    try:
        pipeline = dlt.current.pipeline()
        schema = dlt.current.source_schema()
        key = (id(schema), name)
    except Exception:  # not extracting: nothing stored to fit
        return table
    if key not in _stored:
        for stale in [k for k in _stored if k[0] != key[0]]:  # earlier extractions' entries
            del _stored[stale]
        with pipeline.sql_client() as client:
            _stored[key] = _warehouse_columns(client, name)
    stored = _stored[key]
    for i, field in enumerate(table.schema):
        old = stored.get(field.name)
        if old is None or pa.types.is_null(field.type):
            continue
        if old in _TEXT:
            if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
                    or pa.types.is_list(field.type)):  # fmt: skip
                table = table.set_column(i, field.with_type(pa.string()), _as_text(table.column(i)))
            continue
        if not _misfit_type(field.type, old):
            continue
        values = table.column(i)
        with pipeline.sql_client() as client:
            widen_column(client, pipeline.dataset_name, name, field.name, old, _versions(table, values),
                         _misfits(values, old))  # fmt: skip
        _text_in_schema(schema, name, field.name)
        stored[field.name] = "VARCHAR"
        table = table.set_column(i, field.with_type(pa.string()), _as_text(values))
    return table


def _misfit_type(arrow: pa.DataType, stored: str) -> bool:
    """True when values of Arrow type `arrow` may not fit a column of DuckDB type `stored` (text into a
    number or date, decimals into an integer)."""
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return True
    return pa.types.is_floating(arrow) and stored in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT")


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _text_in_schema(schema, name: str, column: str) -> None:
    col = (schema.tables.get(name) or {}).get("columns", {}).get(column)
    if col is None:
        return
    for k in ("precision", "scale", "timezone"):
        col.pop(k, None)
    col["data_type"] = "text"


def _warehouse_columns(client, name: str) -> dict[str, str]:
    rows = client.execute_sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = %s",
        client.dataset_name, name,
    )  # fmt: skip
    return {c: t for c, t in rows or []}


def widen_column(client, dataset: str, name: str, column: str, old: str, versions: list[str],
                 misfits: int) -> str | None:  # fmt: skip
    """ALTER `column` (DuckDB type `old`) of table `name` and its dlt staging copy to VARCHAR and record the
    change, in one transaction; returns the message, or None when the warehouse had it as text already."""
    from extract.tables import utcnow  # extract.tables calls this module: imported when needed

    source = dataset.removeprefix("raw_")
    form = name.split("__", 1)[0]
    old_sql = old
    tables = [(q, t) for q, t in _existing_tables(client, name, column) if t not in _TEXT]
    if not tables:
        return None
    message = (
        f"{source}/{form}: {name}.{column} changed {old_sql} → VARCHAR"
        + (f" (form version {', '.join(versions)})" if versions else "")
        + f": stored answers kept as text, new ones loaded as sent; {misfits} new value(s) are not {old_sql}"
        + (" (staging reads them as null: regenerate or override its model for the text)" if misfits else "")
    )
    con = client.native_connection
    con.execute("BEGIN TRANSACTION")
    try:
        for qualified, _ in tables:
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
    log.warning("%s", message)
    return message


def _existing_tables(client, name: str, column: str) -> list[tuple[str, str]]:
    """(qualified name, type of `column`) of the raw table and its dlt staging copy, where they exist."""
    found = []
    for staging in (False, True):
        if staging:
            with client.with_staging_dataset():
                found += _column_type(client, name, column)
        else:
            found += _column_type(client, name, column)
    return found


def _column_type(client, name: str, column: str) -> list[tuple[str, str]]:
    rows = client.execute_sql(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "AND column_name = %s",
        client.dataset_name, name, column,
    )  # fmt: skip
    return [(client.make_qualified_table_name(name), rows[0][0])] if rows else []


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


def repair_pending_packages(pipeline: dlt.Pipeline) -> list[str]:
    """Widen the columns for which a pending load package holds text the warehouse column cannot take (a
    package normalized before this fix, failing on every run since), so it loads; its schema and the
    pipeline's follow. Returns the changes."""
    import pyarrow.parquet as pq

    messages: list[str] = []
    for load_id in pipeline.list_normalized_load_packages():
        info = pipeline.get_load_package_info(load_id)
        widened: list[tuple[str, str]] = []
        for state in ("new_jobs", "started_jobs", "failed_jobs"):
            for job in info.jobs.get(state) or []:
                name = job.job_file_info.table_name
                if job.job_file_info.file_format != "parquet":
                    continue
                with pipeline.sql_client() as client:
                    stored = _warehouse_columns(client, name)
                file_schema = pq.read_schema(job.file_path)
                for field in file_schema:
                    old = stored.get(field.name)
                    if old is None or old in _TEXT or not _misfit_type(field.type, old):
                        continue
                    wanted = [c for c in (field.name, "form_version") if c in file_schema.names]
                    data = pq.read_table(job.file_path, columns=wanted)
                    values = data.column(field.name)
                    with pipeline.sql_client() as client:
                        message = widen_column(client, pipeline.dataset_name, name, field.name, old,
                                               _versions(data, values), _misfits(values, old))  # fmt: skip
                    messages += [message] if message else []
                    widened.append((name, field.name))
        if not widened:
            continue
        for name, column in widened:
            _text_in_schema(info.schema, name, column)
        Path(info.package_path, "schema.json").write_text(json.dumps(info.schema.to_dict(), indent=1))
        if info.schema.name in pipeline.schemas:
            live = pipeline.schemas[info.schema.name]
            for name, column in widened:
                _text_in_schema(live, name, column)
            pipeline.schemas.save_schema(live)
    return messages
