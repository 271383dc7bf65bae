"""dlt table hints for the raw contract: how each kind of table merges, and the metadata tables' rows."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import dlt
import pyarrow as pa

from extract.http import ExtractError
from extract.schema import TOMBSTONE, FormSchema
from extract.type_changes import fit_stored_types  # a retyped question never fails the load

log = logging.getLogger("sangam.extract")

LOADS_TABLE = "_sangam_loads"
QUARANTINE_TABLE = "_sangam_quarantine"

LOADS_SCHEMA = pa.schema(
    [
        ("load_id", pa.string()),
        ("source", pa.string()),
        ("form", pa.string()),
        ("table_name", pa.string()),
        ("rows", pa.int64()),
        ("pages", pa.int64()),
        ("started_at", pa.timestamp("us")),
        ("finished_at", pa.timestamp("us")),
        ("duration_s", pa.float64()),
        ("cursor", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
    ]
)


def utcnow() -> datetime:
    """Naive UTC: every timestamp in the warehouse is UTC without a zone (TIMESTAMP, not TIMESTAMPTZ)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id(source: str) -> str:
    """The `_sangam_loads.load_id` of one run of a source (the runner passes its own)."""
    return f"{source}-{utcnow():%Y%m%dT%H%M%S%f}"


def column_hints(table: pa.Table) -> dict[str, dict]:
    """Timestamps stay naive UTC (DuckDB TIMESTAMP, as the contract says), not dlt's default TIMESTAMPTZ."""
    hints: dict[str, dict] = {}
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            hints[f.name] = {"data_type": "timestamp", "timezone": False, "precision": 6}
    return hints


def not_null(table: pa.Table, *columns: str) -> pa.Table:
    """Key columns declared NOT NULL in Arrow too, so dlt's merge keys and the Arrow schema agree."""
    schema = table.schema
    for col in columns:
        i = schema.get_field_index(col)
        if i >= 0:
            schema = schema.set(i, schema.field(i).with_nullable(False))
    return table.cast(schema)


def _with(hints: dict[str, dict], column: str, **extra) -> dict[str, dict]:
    return {**hints, column: {**hints.get(column, {}), **extra}}


def main_table(table: pa.Table, name: str, unique: bool = False):
    """A form's main table: upsert on the submission id.

    `unique`: the source guarantees each submission at most once per load, so dlt can skip its staging
    de-duplication (a window over every staged row); otherwise the latest `_loaded_at` wins.
    """
    table = not_null(fit_stored_types(table, name), "submission_id")
    columns = column_hints(table)
    extra = None
    if unique:
        extra = {"x-stage-data-deduplicated": True}
    else:
        columns["_loaded_at"] = {**columns.get("_loaded_at", {}), "dedup_sort": "desc"}
    return dlt.mark.with_hints(
        table,
        dlt.mark.make_hints(
            table_name=name,
            write_disposition="merge",
            primary_key="submission_id",
            columns=columns,
            additional_table_hints=extra,
        ),
        create_table_variant=True,
    )


def repeat_table(table: pa.Table, name: str):
    """A repeat table: delete-insert per parent submission; tombstone rows delete and are never stored."""
    table = not_null(fit_stored_types(table, name), "submission_id", "row_id")
    return dlt.mark.with_hints(
        table,
        dlt.mark.make_hints(
            table_name=name,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            # merge_key only: a primary key too makes dlt join staging with `row_id = … OR submission_id = …`,
            # a nested loop (24 s for 47k rows); the sources never emit a submission twice in one load
            merge_key="submission_id",
            columns={**column_hints(table), TOMBSTONE: {"data_type": "bool", "hard_delete": True}},
        ),
        create_table_variant=True,
    )


def append_table(table: pa.Table, name: str):
    return dlt.mark.with_hints(
        table,
        dlt.mark.make_hints(table_name=name, write_disposition="append", columns=column_hints(table)),
        create_table_variant=True,
    )


def form_metadata(schema: FormSchema, personal_fields) -> list:
    """form_fields and form_choices rows of one form, replacing that form's previous rows."""
    hints = {"write_disposition": {"disposition": "merge", "strategy": "delete-insert"}, "merge_key": "form"}
    fields = pa.Table.from_pylist(
        schema.fields_rows(personal_fields),
        schema=pa.schema(
            [
                ("source", pa.string()), ("form", pa.string()), ("form_version", pa.string()),
                ("path", pa.string()), ("name", pa.string()), ("column_name", pa.string()),
                ("table_name", pa.string()), ("type", pa.string()), ("list_name", pa.string()),
                ("required", pa.bool_()), ("label", pa.string()), ("labels", pa.string()),
                ("is_personal", pa.bool_()),
            ]
        ),
    )  # fmt: skip
    choices = pa.Table.from_pylist(
        schema.choices_rows(),
        schema=pa.schema(
            [("source", pa.string()), ("form", pa.string()), ("list_name", pa.string()),
             ("name", pa.string()), ("label", pa.string()), ("labels", pa.string())]
        ),
    )  # fmt: skip
    return [
        dlt.mark.with_hints(
            fields, dlt.mark.make_hints(table_name="form_fields", **hints), create_table_variant=True
        ),
        dlt.mark.with_hints(
            choices, dlt.mark.make_hints(table_name="form_choices", **hints), create_table_variant=True
        ),
    ]


def loads_rows(rows: list[dict]):
    return append_table(not_null(pa.Table.from_pylist(rows, schema=LOADS_SCHEMA), "form"), LOADS_TABLE)


# Authentication is the source's, not a form's: wrong credentials (401) or a log-in that fails (SourceError)
# fail the whole source. Any other error while one form is read (a 404/403 for that form, its requests still
# failing with 5xx or timeouts after every retry, a bad XLSForm file, data the extractor cannot read) fails
# that form alone: the source's other forms still load, and the runner reports the source as partly loaded,
# naming the form.
SOURCE_LEVEL_STATUS = {401}


class FormError(ExtractError):
    """A problem of one form only (e.g. its XLSForm file cannot be read): that form fails alone."""


class SourceError(ExtractError):
    """A problem of the whole source (e.g. its log-in fails): every form fails with it, so the source does."""


def isolate_form_errors(rows: Callable[..., Iterator], **kwargs) -> Iterator:
    """Yield `rows(**kwargs)`; a form-level failure becomes a failed row in the loads table instead, and the
    form's resource state (its cursors) is put back as the run found it, so the next run reads again
    everything this one could not finish. Rows it yielded before failing are loaded: they are the server's
    current rows, and the merge absorbs them when they are read again."""
    started, t0 = utcnow(), time.perf_counter()
    state = dlt.current.resource_state()
    before = copy.deepcopy(dict(state))
    try:
        yield from rows(**kwargs)
    except Exception as exc:
        status = exc.status if isinstance(exc, ExtractError) else None
        if isinstance(exc, SourceError) or status in SOURCE_LEVEL_STATUS:
            raise
        table = kwargs["table"]
        if isinstance(exc, ExtractError):
            reason = str(exc)
            log.error("%s/%s: %s", kwargs["source_name"], table, reason)
        else:  # not a server answer: keep the traceback in the log for whoever fixes it
            reason = f"{type(exc).__name__}: {exc}"[:1000]
            log.error("%s/%s: %s", kwargs["source_name"], table, reason, exc_info=exc)
        state.clear()
        state.update(before)
        yield loads_rows(
            [failed_form_row(kwargs["run_id"], kwargs["source_name"], table, started,
                             round(time.perf_counter() - t0, 3), f"form {table}: {reason}")]
        )  # fmt: skip


def failed_form_row(run_id: str | None, source: str, form: str, started: datetime, duration_s: float,
                    error: str) -> dict:  # fmt: skip
    return {
        "load_id": run_id, "source": source, "form": form, "table_name": None, "rows": 0, "pages": None,
        "started_at": started, "finished_at": utcnow(), "duration_s": duration_s, "cursor": None,
        "status": "failed", "error": error,
    }  # fmt: skip
