"""The GX suites as code: which expectation runs on which small DataFrame, built from checks.yaml.

GX cannot validate DuckDB tables directly (its SQL datasource fails on DuckDB), and a million-row table must
never be pulled into pandas. So each raw table gets one DuckDB scan that counts the failing rows of every
row-level rule at once (a one-row "profile" frame), and GX validates those counts. Marts are small
(districts x months), so their columns are validated row by row. Failing samples are fetched only for
failed checks.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml

from quality.pii import is_personal_column
from quality.settings import QualitySettings

SPEC_PATH = Path(__file__).with_name("checks.yaml")
SERVING_TABLES_PATH = Path(__file__).with_name("serving_tables.yaml")
RAW_METADATA_TABLES = {"form_fields", "form_choices", "form_changes"}
INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
# Columns that identify a row in a failing sample (never personal).
SAMPLE_KEY_COLUMNS = [
    "submission_id",
    "row_id",
    "worker_id",
    "village",
    "district",
    "district_code",
    "month",
    "week_start",
    "scheme",
    "level",
    "geo_code",
]


@functools.cache
def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def q(identifier: str) -> str:
    """Quote one SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class Check:
    name: str  # check_name in dq history, e.g. "plausible_range.age_years"
    kind: str  # its key under `severity` in checks.yaml
    table: str  # schema.table
    blocking: bool
    frame: str  # key of the frame (DataFrame) it is validated on
    expectation: str  # GX expectation class name
    kwargs: dict[str, Any]
    # How to say what was observed: a format string over the frame's first row, "json" for that row as JSON,
    # or None to use GX's result.
    describe: str | None = None
    # DuckDB SQL listing failing rows (personal columns are removed before it is stored); None: take the
    # failing rows of the frame itself (row-level frames).
    sample_sql: str | None = None
    sample_columns: tuple[str, ...] = ()
    # For row-level frames: how to say how many rows failed ({count}, {total}, {values}).
    unexpected_text: str | None = None
    # Raw form checks: SQL selecting the submission_id of every failing row, for dq.submission_flags.
    flag_sql: str | None = None


@dataclass
class Measure:
    """One row-level rule of a raw table's profile scan."""

    name: str
    kind: str
    text: str  # observed-value template: {failing}, {rows}, other profile columns
    checked: list[str]  # the columns it looks at (shown in samples unless personal)
    where: str | None = None  # SQL predicate of a failing row
    count_sql: str = ""
    sample_sql: str | None = None
    flag_sql: str | None = None
    extras: dict[str, str] = field(default_factory=dict)  # more profile columns (alias → aggregate SQL)

    def __post_init__(self) -> None:
        if not self.count_sql:
            self.count_sql = f"count(*) FILTER ({self.where})"


def _duplicates(t: Table, name: str, keys: list[str], live: str, n: int) -> Measure:
    """Rows beyond the first of each key (nulls ignored); flags all but the earliest submission."""
    cols = ", ".join(q(k) for k in keys)
    present = " AND ".join(f"{q(k)} IS NOT NULL" for k in keys)
    what = (
        "submission_id" if keys == ["submission_id"] else "row_id" if keys == ["row_id"] else "+".join(keys)
    )
    m = Measure(
        name,
        name,
        "{failing} duplicate " + what + " values in {rows} rows",
        keys,
        count_sql=f"count(*) FILTER (WHERE {live} AND {present}) - "
        f"count(DISTINCT ({cols})) FILTER (WHERE {live} AND {present})",
        sample_sql=f"SELECT {cols}, count(*) AS copies FROM {t.ref} WHERE {live} AND {present} GROUP BY ALL "
        f"HAVING count(*) > 1 ORDER BY ALL LIMIT {n}",
    )
    if "submitted_at" in t.columns:
        order = "submitted_at, submission_id" if "submission_id" in t.columns else "submitted_at"
        m.flag_sql = (
            f"SELECT submission_id FROM (SELECT submission_id, row_number() OVER (PARTITION BY {cols} "
            f"ORDER BY {order}) AS copy FROM {t.ref} WHERE {live} AND {present}) WHERE copy > 1"
        )
    return m


@dataclass
class Plan:
    checks: list[Check] = field(default_factory=list)
    frames: dict[str, str] = field(default_factory=dict)  # frame key -> DuckDB SQL
    personal_columns: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: dict[str, str]  # name -> DuckDB type

    @property
    def ref(self) -> str:
        return f"{q(self.schema)}.{q(self.name)}"

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def kind(self) -> str:
        if {"submission_id", "submitted_at"} <= self.columns.keys():
            return "form"
        if {"row_id", "repeat_index"} <= self.columns.keys():
            return "repeat"
        return "sheet"


def list_tables(con: duckdb.DuckDBPyConnection, schema_like: str) -> list[Table]:
    rows = con.execute(
        """SELECT c.table_schema, c.table_name, c.column_name, c.data_type
           FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
           WHERE c.table_schema LIKE ? ESCAPE '\\' AND c.table_catalog = current_database()
           ORDER BY c.table_schema, c.table_name, c.ordinal_position""",
        [schema_like],
    ).fetchall()
    tables: dict[tuple[str, str], dict[str, str]] = {}
    for schema, name, column, dtype in rows:
        if schema.endswith("_staging") and schema != "staging":  # dlt's merge staging copy of a raw dataset
            continue
        tables.setdefault((schema, name), {})[column] = dtype
    return [Table(s, n, cols) for (s, n), cols in tables.items()]


def personal_columns(con: duckdb.DuckDBPyConnection, settings: QualitySettings, spec: dict) -> set[str]:
    """Column names that hold personal data: sources.yaml personal_fields (and every column derived from one,
    e.g. home_gps_latitude), form_fields.is_personal, and checks.yaml extra_personal_columns."""
    names = set(settings.personal_fields) | set(spec.get("extra_personal_columns", []))
    for table in list_tables(con, "raw\\_%"):
        if table.name == "form_fields" and {"column_name", "is_personal"} <= table.columns.keys():
            rows = con.execute(f"SELECT DISTINCT column_name FROM {table.ref} WHERE is_personal").fetchall()
            names |= {r[0] for r in rows if r[0]}
    return names


def _severity(spec: dict, kind: str) -> bool:
    level = spec["severity"][kind]
    if level not in ("blocking", "warning"):
        raise ValueError(f"checks.yaml severity.{kind}: must be blocking or warning, not {level!r}")
    return level == "blocking"


def build_plan(con: duckdb.DuckDBPyConnection, stage: str, settings: QualitySettings, now: datetime) -> Plan:
    spec = load_spec()
    plan = Plan(personal_columns=personal_columns(con, settings, spec))
    if stage == "raw":
        from quality.sheet_checks import sheet_checks

        _raw_checks(con, plan, spec, settings, now)
        sheet_checks(con, plan, spec)
    elif stage == "marts":
        _mart_checks(con, plan, spec)
    else:
        raise ValueError(f"stage must be 'raw' or 'marts', not {stage!r}")
    return plan


def _sample_columns(table: Table, checked: list[str], personal: set[str]) -> list[str]:
    wanted = [c for c in SAMPLE_KEY_COLUMNS if c in table.columns] + [
        c for c in checked if c in table.columns
    ]
    return [c for c in dict.fromkeys(wanted) if not is_personal_column(c, personal)]


def _unknown_choices(t: Table, spec: dict, live: str, first: int) -> list[Measure]:
    """A choice a program mart's rules were not written for (a new `sex = other`): the rows are counted and
    the values and the marts that leave them out are named, instead of the marts silently dropping them."""
    out = []
    for key, rule in (spec.get("known_choices") or {}).items():
        table_name, column = key.split(".", 1)
        if table_name != t.name or column not in t.columns:
            continue
        known = ", ".join("'" + v.replace("'", "''") + "'" for v in rule["values"])
        where = f"{live} AND {q(column)} IS NOT NULL AND {q(column)} NOT IN ({known})"
        alias = f"unknown_values_{first + len(out)}"
        marts = ", ".join(rule["marts"])
        text = (
            "{failing} of {rows} rows with " + f"{column} = {{{alias}}}: a value {marts} "
            "do not know (their rules leave these rows out); add it to their rules and to known_choices"
        )
        extras = {alias: f"coalesce(string_agg(DISTINCT {q(column)}, ', ' ORDER BY {q(column)}) "
                         f"FILTER (WHERE {where}), '')"}  # fmt: skip
        out.append(Measure(f"known_choices.{column}", "known_choices", text, [column], where, extras=extras))
    return out


def _raw_checks(con, plan: Plan, spec: dict, settings: QualitySettings, now: datetime) -> None:
    n = int(spec.get("failing_sample_rows", 5))
    tables = [
        t
        for t in list_tables(con, "raw\\_%")
        if not t.name.startswith("_") and t.name not in RAW_METADATA_TABLES
    ]
    by_name: dict[str, Table] = {}
    for t in tables:
        by_name.setdefault(t.name, t)
    ranges = {tuple(k.split(".", 1)): v for k, v in spec.get("plausible_ranges", {}).items()}
    area = settings.area
    future_limit = now + timedelta(minutes=int(spec.get("future_skew_minutes", 10)))

    for t in tables:
        # Required columns: validated on an empty frame carrying the table's columns.
        system = spec["system_columns"].get(t.kind, [])
        required = list(dict.fromkeys([*system, *spec["required_columns"].get(t.name, [])]))
        frame = f"columns:{t.label}"
        plan.frames[frame] = f"SELECT * FROM {t.ref} LIMIT 0"
        plan.checks.append(
            Check(
                "required_columns",
                "required_columns",
                t.label,
                _severity(spec, "required_columns"),
                frame,
                "ExpectTableColumnsToMatchSet",
                {"column_set": required, "exact_match": False},
            )
        )

        # One scan per table: every row-level rule becomes a count of failing rows.
        live = "deleted_at IS NULL" if "deleted_at" in t.columns else "TRUE"
        measures: list[Measure] = []
        if t.kind == "form":
            measures.append(_duplicates(t, "submission_id_unique", ["submission_id"], "TRUE", n))
        keys = spec.get("natural_keys", {}).get(t.name)
        if keys and set(keys) <= t.columns.keys():
            measures.append(_duplicates(t, "natural_key_unique", keys, live, n))
        if t.kind == "form":
            ts = future_limit.strftime("%Y-%m-%d %H:%M:%S")
            text = "{failing} of {rows} rows submitted after " + ts + " UTC (max {max_submitted_at})"
            where = f"submitted_at > TIMESTAMP '{ts}'"
            measures.append(
                Measure("submitted_at_not_future", "submitted_at_not_future", text, ["submitted_at"], where)
            )
        if t.kind == "repeat":
            measures.append(_duplicates(t, "row_id_unique", ["row_id"], "TRUE", n))
        for lat in [c for c in t.columns if c.endswith("_latitude")]:
            prefix = lat.removesuffix("_latitude")
            lon = f"{prefix}_longitude"
            if lon not in t.columns:
                continue
            where = (
                f"{live} AND {q(lat)} IS NOT NULL AND ({q(lat)} NOT BETWEEN {area.min_lat} AND {area.max_lat}"
                f" OR {q(lon)} IS NULL OR {q(lon)} NOT BETWEEN {area.min_lon} AND {area.max_lon})"
            )
            text = (
                "{failing} of {rows} rows with " + prefix + f" outside {area.name} ({area.min_lat}–"
                f"{area.max_lat} N, {area.min_lon}–{area.max_lon} E)"
            )
            measures.append(Measure(f"gps_in_area.{prefix}", "gps_in_area", text, [lat, lon], where))
        for (table_name, column), (lo, hi) in ranges.items():
            if table_name != t.name or column not in t.columns:
                continue
            value = f"TRY_CAST({q(column)} AS DOUBLE)"
            where = f"{live} AND {value} IS NOT NULL AND ({value} < {lo} OR {value} > {hi})"
            text = "{failing} of {rows} rows with " + f"{column} outside [{lo}, {hi}]"
            measures.append(Measure(f"plausible_range.{column}", "plausible_range", text, [column], where))
        measures += _unknown_choices(t, spec, live, len(measures))
        for rule in spec.get("date_order", []):
            if rule["table"] != t.name or "earlier_table" in rule:
                continue
            a, b = rule["earlier"], rule["later"]
            if not {a, b} <= t.columns.keys():
                continue
            where = f"{live} AND TRY_CAST({q(a)} AS DATE) > TRY_CAST({q(b)} AS DATE)"
            text = "{failing} of {rows} rows with " + f"{a} after {b}"
            measures.append(Measure(f"date_order.{a}<={b}", "date_order", text, [a, b], where))
        if not measures:
            continue
        frame = f"profile:{t.label}"
        extra = ", max(submitted_at) AS max_submitted_at" if t.kind == "form" else ""
        cols = ", ".join(f"{m.count_sql} AS m{i}" for i, m in enumerate(measures))
        cols += "".join(f", {sql} AS {alias}" for m in measures for alias, sql in m.extras.items())
        plan.frames[frame] = f"SELECT count(*) FILTER (WHERE {live}) AS rows{extra}, {cols} FROM {t.ref}"
        for i, m in enumerate(measures):
            if m.sample_sql is None:
                select = ", ".join(q(c) for c in _sample_columns(t, m.checked, plan.personal_columns))
                m.sample_sql = f"SELECT {select or 'count(*) AS rows'} FROM {t.ref} WHERE {m.where} LIMIT {n}"
            if m.flag_sql is None and m.where and t.kind == "form":
                m.flag_sql = f"SELECT submission_id FROM {t.ref} WHERE {m.where}"
            plan.checks.append(
                Check(
                    m.name,
                    m.kind,
                    t.label,
                    _severity(spec, m.kind),
                    frame,
                    "ExpectColumnValuesToBeBetween",
                    {"column": f"m{i}", "min_value": 0, "max_value": 0},
                    describe=m.text.replace("{failing}", "{m" + str(i) + "}"),
                    sample_sql=m.sample_sql,
                    flag_sql=m.flag_sql,
                )
            )

    # Dates in order across forms: compare each later event with the key's earliest earlier event.
    for rule in spec.get("date_order", []):
        if "earlier_table" not in rule:
            continue
        lt, et = by_name.get(rule["table"]), by_name.get(rule["earlier_table"])
        a, b, key = rule["earlier"], rule["later"], rule["key"]
        if lt is None or et is None or {b, key} - lt.columns.keys() or {a, key} - et.columns.keys():
            continue
        live_l = "l.deleted_at IS NULL" if "deleted_at" in lt.columns else "TRUE"
        live_e = "deleted_at IS NULL" if "deleted_at" in et.columns else "TRUE"
        earliest = (
            f"SELECT {q(key)} AS k, min(TRY_CAST({q(a)} AS DATE)) AS earliest FROM {et.ref} "
            f"WHERE {live_e} GROUP BY 1"
        )
        bad = f"TRY_CAST(l.{q(b)} AS DATE) < e.earliest"
        frame = f"date_order:{lt.label}.{b}>={et.label}.{a}"
        plan.frames[frame] = (
            f"WITH e AS ({earliest}) SELECT count(*) AS rows, count(*) FILTER (WHERE {bad}) "
            f"AS failing FROM {lt.ref} l JOIN e ON l.{q(key)} = e.k WHERE {live_l}"
        )
        cols = [c for c in _sample_columns(lt, [key, b], plan.personal_columns)]
        select = ", ".join(f"l.{q(c)}" for c in cols)
        plan.checks.append(
            Check(
                f"date_order.{rule['earlier_table']}.{a}<={b}",
                "date_order",
                lt.label,
                _severity(spec, "date_order"),
                frame,
                "ExpectColumnValuesToBeBetween",
                {"column": "failing", "min_value": 0, "max_value": 0},
                describe="{failing} of {rows} rows with " + f"{b} before the {rule['earlier_table']} {a}",
                sample_sql=f"WITH e AS ({earliest}) SELECT {select}, e.earliest AS {q(a)} FROM {lt.ref} l "
                f"JOIN e ON l.{q(key)} = e.k WHERE {live_l} AND {bad} LIMIT {n}",
                flag_sql=f"WITH e AS ({earliest}) SELECT l.submission_id FROM {lt.ref} l "
                f"JOIN e ON l.{q(key)} = e.k WHERE {live_l} AND {bad}",
            )
        )


def serving_tables() -> list[dict[str, Any]]:
    return yaml.safe_load(SERVING_TABLES_PATH.read_text())["tables"]


def previous_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of each table at its last accepted run (the last row-count check that passed)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'dq' AND table_name = 'check_results'"
    ).fetchone()[0]
    if not exists:
        return {}
    rows = con.execute(
        """SELECT table_name, arg_max(observed_value, checked_at) FROM dq.check_results
           WHERE check_name = 'row_count_not_dropped' AND passed GROUP BY 1"""
    ).fetchall()
    return {table: int(json.loads(value)["rows"]) for table, value in rows}


def _mart_checks(con, plan: Plan, spec: dict) -> None:
    marts = spec["marts"]
    schema = marts["schema"]
    n = int(spec.get("failing_sample_rows", 5))
    tables = {t.name: t for t in list_tables(con, schema)}
    for name in marts["tables"]:
        t = tables.get(name)
        if t is None:
            continue
        pct = [c for c in t.columns if c.endswith("_pct") or c in marts.get("percentage_columns_extra", [])]
        counts = [
            c
            for c in t.columns
            if c not in pct
            and (t.columns[c] in INTEGER_TYPES or c in marts.get("extra_count_columns", []))
            and c not in SAMPLE_KEY_COLUMNS
        ]
        keys = [c for c in SAMPLE_KEY_COLUMNS if c in t.columns]
        frame = f"mart:{t.label}"
        plan.frames[frame] = (
            f"SELECT {', '.join(q(c) for c in dict.fromkeys([*keys, *pct, *counts]))} FROM {t.ref}"
        )
        for c in pct:
            plan.checks.append(
                Check(
                    f"percentage_in_range.{c}",
                    "percentage_in_range",
                    t.label,
                    _severity(spec, "percentage_in_range"),
                    frame,
                    "ExpectColumnValuesToBeBetween",
                    {"column": c, "min_value": 0, "max_value": 100},
                    sample_columns=(*keys, c),
                )
            )
        for c in counts:
            plan.checks.append(
                Check(
                    f"count_not_negative.{c}",
                    "count_not_negative",
                    t.label,
                    _severity(spec, "count_not_negative"),
                    frame,
                    "ExpectColumnValuesToBeBetween",
                    {"column": c, "min_value": 0},
                    sample_columns=(*keys, c),
                )
            )

    geo = tables.get("dim_geography")
    for name in marts.get("district_every_month", []):
        t = tables.get(name)
        if t is None or not {"district_code", "month"} <= t.columns.keys():
            continue
        districts = (
            f"SELECT DISTINCT district_code FROM {geo.ref}"
            if geo and "district_code" in geo.columns
            else f"SELECT DISTINCT district_code FROM {t.ref}"
        )
        expected = con.execute(f"SELECT count(*) FROM ({districts})").fetchone()[0]
        months = (
            f"SELECT CAST(unnest(generate_series(min(month), max(month), INTERVAL 1 MONTH)) AS DATE) "
            f"AS month FROM {t.ref}"
        )
        frame = f"district_month:{t.label}"
        plan.frames[frame] = (
            f"WITH m AS ({months}) SELECT m.month, count(DISTINCT x.district_code) AS districts "
            f"FROM m LEFT JOIN {t.ref} x ON x.month = m.month AND x.district_code IN "
            f"({districts}) GROUP BY 1 ORDER BY 1"
        )
        plan.checks.append(
            Check(
                "district_every_month",
                "district_every_month",
                t.label,
                _severity(spec, "district_every_month"),
                frame,
                "ExpectColumnValuesToBeBetween",
                {"column": "districts", "min_value": expected, "max_value": expected},
                unexpected_text="{count} of {total} months without all " + f"{expected} districts",
                sample_sql=f"WITH m AS ({months}), d AS ({districts}) SELECT d.district_code, m.month FROM m "
                f"CROSS JOIN d ANTI JOIN {t.ref} x ON x.month = m.month AND x.district_code = "
                f"d.district_code ORDER BY 2, 1 LIMIT {n}",
            )
        )

    _program_mart_checks(con, plan, spec, tables)

    previous = previous_row_counts(con)
    tol = marts["row_count_tolerance_pct"]
    for entry in serving_tables():
        source = entry["from"]
        src_schema, src_name = source.split(".", 1)
        if src_schema != schema or src_name not in tables:
            continue
        t = tables[src_name]
        prev = previous.get(t.label)
        prev_sql = "NULL::BIGINT" if prev is None else str(prev)
        change = "NULL::DOUBLE" if not prev else f"round((count(*) - {prev}) * 100.0 / {prev}, 2)"
        frame = f"row_count:{t.label}"
        plan.frames[frame] = (
            f"SELECT count(*) AS rows, {prev_sql} AS previous_rows, {change} AS change_pct FROM {t.ref}"
        )
        describe = "json"  # the frame's row as JSON: the next run reads "rows" back (previous_row_counts)
        plan.checks.append(
            Check(
                "row_count_not_dropped",
                "row_count_not_dropped",
                t.label,
                _severity(spec, "row_count_not_dropped"),
                frame,
                "ExpectColumnValuesToBeBetween",
                {"column": "change_pct", "min_value": -float(tol["drop"])},
                describe=describe,
            )
        )
        plan.checks.append(
            Check(
                "row_count_growth",
                "row_count_growth",
                t.label,
                _severity(spec, "row_count_growth"),
                frame,
                "ExpectColumnValuesToBeBetween",
                {"column": "change_pct", "max_value": float(tol["growth"])},
                describe=describe,
            )
        )


def _program_mart_checks(con, plan: Plan, spec: dict, tables: dict[str, Table]) -> None:
    """An empty build is not a success: a built program mart with no rows while the form tables it is made
    from hold live rows fails (a form renamed, a filter that matches nothing, a source pointed elsewhere)."""
    from transform.programs import load_programs

    raw = {f"{t.schema.removeprefix('raw_')}.{t.name}": t for t in list_tables(con, "raw\\_%")}
    programs = {p.name: p for p in load_programs()}
    for entry in serving_tables():
        program = programs.get(entry.get("program", ""))
        src_schema, src_name = entry["from"].split(".", 1)
        t = tables.get(src_name)
        if program is None or t is None or src_schema != t.schema:
            continue
        inputs = [raw[k] for k in program.needs if k in raw]
        live = {i.ref: " WHERE deleted_at IS NULL" if "deleted_at" in i.columns else "" for i in inputs}
        counts = [f"(SELECT count(*) FROM {ref}{where})" for ref, where in live.items()]
        input_rows = " + ".join(counts) if counts else "0"
        frame = f"program_mart:{t.label}"
        plan.frames[frame] = (
            f"SELECT rows, input_rows, CASE WHEN rows > 0 OR input_rows = 0 THEN 1 ELSE 0 END AS ok FROM "
            f"(SELECT (SELECT count(*) FROM {t.ref}) AS rows, {input_rows} AS input_rows)"
        )
        plan.checks.append(
            Check(
                "program_mart_not_empty",
                "program_mart_not_empty",
                t.label,
                _severity(spec, "program_mart_not_empty"),
                frame,
                "ExpectColumnValuesToBeBetween",
                {"column": "ok", "min_value": 1},
                describe="{rows} rows built from {input_rows} live input rows (program " + program.name + ")",
            )
        )
