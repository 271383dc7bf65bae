"""DHIS2 dataValueSets from the published serving marts (never the pipeline's own warehouse), as JSON and CSV.

The JSON is DHIS2's import format (Web API guide, "Data values": `dataSet`, `completeDate`, `period`,
`orgUnit`, `attributeOptionCombo`, `dataValues[{dataElement, categoryOptionCombo, value, comment}]`), one set
per organisation unit, so each set can also register that unit's month complete. The CSV is DHIS2's CSV
import format, one file per period with the header
`dataelement,period,orgunit,catoptcombo,attroptcombo,value,storedby,lastupd,comment`.

A null mart value (a percentage without denominator) is not sent: DHIS2 stores no empty values.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from deliver.dhis2_mapping import Dhis2Mapping

log = logging.getLogger("sangam.deliver")
CSV_HEADER = [
    "dataelement",
    "period",
    "orgunit",
    "catoptcombo",
    "attroptcombo",
    "value",
    "storedby",
    "lastupd",
    "comment",
]
_PERIOD_RE = re.compile(r"^(\d{4})(0[1-9]|1[0-2])$")


class ExportError(RuntimeError):
    """The serving marts cannot give what was asked (no file, no such period, a mapped indicator missing)."""


@dataclass(frozen=True)
class DataValueSet:
    """One organisation unit's values for one period, identifiers written in the mapping's id schemes."""

    district_code: str
    org_unit: str
    period: str
    values: tuple[dict[str, str], ...]

    def as_json(self, mapping: Dhis2Mapping, complete_date: str | None) -> dict[str, Any]:
        doc: dict[str, Any] = {"dataSet": mapping.data_set}
        if complete_date:
            doc["completeDate"] = complete_date
        doc["period"] = self.period
        doc["orgUnit"] = self.org_unit
        if mapping.attribute_option_combo:
            doc["attributeOptionCombo"] = mapping.attribute_option_combo
        doc["dataValues"] = [dict(v) for v in self.values]
        return doc


@dataclass
class ExportBatch:
    period: str
    sets: list[DataValueSet]
    unmapped_districts: list[str] = field(default_factory=list)  # in the mart, not in org_units
    null_values: int = 0  # mart values left out because they are null

    @property
    def value_count(self) -> int:
        return sum(len(s.values) for s in self.sets)


def parse_period(text: str) -> str:
    """`YYYYMM` (DHIS2's monthly ISO period); also accepts `YYYY-MM`."""
    value = text.strip().replace("-", "")
    if not _PERIOD_RE.match(value):
        raise ExportError(f"period: {text!r} is not a month as YYYYMM (e.g. 202501)")
    return value


def format_value(value: float) -> str:
    """A mart number as DHIS2 stores it: integers without a decimal point, others to at most 2 decimals."""
    number = float(value)
    if number.is_integer():
        return str(int(number))
    return f"{number:.2f}".rstrip("0").rstrip(".")


def _connect(serving_path: Path) -> duckdb.DuckDBPyConnection:
    if not Path(serving_path).is_file():
        raise ExportError(f"serving warehouse not found: {serving_path} (publish it first: make run)")
    return duckdb.connect(str(serving_path), read_only=True)


def _months(con: duckdb.DuckDBPyConnection, table: str) -> list[date]:
    try:
        return [r[0] for r in con.execute(f"select distinct month from {table} order by month").fetchall()]
    except duckdb.CatalogException as exc:
        raise ExportError(
            f"the serving warehouse has no table {table} (is it in quality/serving_tables.yaml?)"
        ) from exc


def last_complete_month(serving_path: Path, mapping: Dhis2Mapping, today: date | None = None) -> str:
    """The mart's latest month that is over (before today's month): the one a monthly report is due for."""
    today = today or date.today()
    with _connect(serving_path) as con:
        months = [m for m in _months(con, mapping.source) if m < today.replace(day=1)]
    if not months:
        raise ExportError(f"{mapping.source} in {serving_path} has no complete month before {today:%Y-%m}")
    return months[-1].strftime("%Y%m")


def build_batch(mapping: Dhis2Mapping, serving_path: Path, period: str) -> ExportBatch:
    period = parse_period(period)
    month = date(int(period[:4]), int(period[4:]), 1)
    with _connect(serving_path) as con:
        months = _months(con, mapping.source)
        if month not in months:
            have = f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}" if months else "none"
            raise ExportError(
                f"period {period}: no rows in {mapping.source} of {serving_path} (months: {have})"
            )
        indicators = {
            r[0] for r in con.execute(f"select distinct indicator_code from {mapping.source}").fetchall()
        }
        missing = [e.indicator for e in mapping.data_elements if e.indicator not in indicators]
        if missing:
            raise ExportError(
                f"{mapping.path.name}: data_elements.{missing[0]}: no such indicator_code in "
                f"{mapping.source} (unknown: {', '.join(missing)})"
            )
        # the mart names its districts; dim_geography gives their codes, which the mapping is keyed by
        rows = con.execute(
            f"""
            select g.district_code, h.indicator_code, h.value
            from {mapping.source} h
            join (select distinct state, district, district_code from dim_geography) g
              on g.state = h.state and g.district = h.district
            where h.month = ?
            order by g.district_code, h.indicator_code
            """,
            [month],
        ).fetchall()
    by_district: dict[str, list[dict[str, str]]] = {}
    unmapped: set[str] = set()
    nulls = 0
    for district, indicator, value in rows:
        element = mapping.element(indicator)
        if element is None:
            continue
        if district not in mapping.org_units:
            unmapped.add(district)
            continue
        if value is None:
            nulls += 1
            continue
        dv = {"dataElement": element.data_element}
        if element.category_option_combo:
            dv["categoryOptionCombo"] = element.category_option_combo
        dv["value"] = format_value(value)
        by_district.setdefault(district, []).append(dv)
    if unmapped:
        log.warning(
            "districts without an organisation unit in %s, not sent: %s", mapping.path.name, sorted(unmapped)
        )
    sets = [
        DataValueSet(d, mapping.org_units[d], period, tuple(values))
        for d, values in sorted(by_district.items())
    ]
    return ExportBatch(period, sets, sorted(unmapped), nulls)


def csv_rows(batch: ExportBatch, mapping: Dhis2Mapping) -> list[list[str]]:
    rows = []
    for s in batch.sets:
        for v in s.values:
            rows.append(
                [
                    v["dataElement"],
                    s.period,
                    s.org_unit,
                    v.get("categoryOptionCombo", ""),
                    mapping.attribute_option_combo or "",
                    v["value"],
                    "",
                    "",
                    v.get("comment", ""),
                ]
            )
    return rows


def write_export(
    mapping: Dhis2Mapping, serving_path: Path, out_dir: Path, period: str, complete_date: str | None = None
) -> list[Path]:
    """exports/dhis2/dhis2_<period>.csv and dhis2_<period>/<org unit>.json (written whole, then renamed)."""
    batch = build_batch(mapping, serving_path, period)
    complete_date = complete_date or (date.today().isoformat() if mapping.mark_complete else None)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    csv_path = out_dir / f"dhis2_{batch.period}.csv"
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(csv_rows(batch, mapping))
    os.replace(tmp, csv_path)
    written.append(csv_path)
    json_dir = out_dir / f"dhis2_{batch.period}"
    json_dir.mkdir(exist_ok=True)
    for s in batch.sets:
        path = json_dir / f"{s.district_code}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(s.as_json(mapping, complete_date), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    log.info(
        "wrote the DHIS2 export of %s: %d values, %d files in %s",
        batch.period,
        batch.value_count,
        len(written),
        out_dir,
    )
    return written
