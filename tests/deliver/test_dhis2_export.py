"""The export files: DHIS2's JSON data value sets and its CSV import format, from the serving marts only."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from deliver.dhis2_export import (
    CSV_HEADER,
    ExportError,
    build_batch,
    format_value,
    last_complete_month,
    write_export,
)
from tests.deliver.conftest import make_mapping


def test_csv_header_is_dhis2s_and_rows_equal_the_mart(serving_file: Path, tmp_path: Path) -> None:
    mapping = make_mapping("http://127.0.0.1:8767")
    written = write_export(mapping, serving_file, tmp_path, "202503", complete_date="2025-04-05")
    csv_path = tmp_path / "dhis2_202503.csv"
    assert csv_path in written
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "dataelement,period,orgunit,catoptcombo,attroptcombo,value,storedby,lastupd,comment"
    assert lines[0].split(",") == CSV_HEADER
    rows = list(csv.DictReader(lines))
    de_of = {e.indicator: e.data_element for e in mapping.data_elements}
    with duckdb.connect(str(serving_file), read_only=True) as con:
        mart = con.execute(
            """select g.district_code, h.indicator_code, h.value from mart_hmis_monthly h
               join (select distinct state, district, district_code from dim_geography) g
               using (state, district)
               where h.month = date '2025-03-01' and h.value is not null"""
        ).fetchall()
    want = {(de_of[i], mapping.org_units[d]): format_value(v) for d, i, v in mart}
    got = {(r["dataelement"], r["orgunit"]): r["value"] for r in rows}
    assert got == want and all(r["period"] == "202503" for r in rows)


def test_json_sets_have_dhis2s_fields(serving_file: Path, tmp_path: Path) -> None:
    mapping = make_mapping("http://127.0.0.1:8767")
    write_export(mapping, serving_file, tmp_path, "2025-03", complete_date="2025-04-05")
    doc = json.loads((tmp_path / "dhis2_202503" / "MH_PUN.json").read_text())
    assert list(doc) == ["dataSet", "completeDate", "period", "orgUnit", "dataValues"]
    assert (
        doc["dataSet"] == "SGM_MCH_MONTHLY" and doc["period"] == "202503" and doc["orgUnit"] == "j4SKTfYWl6A"
    )
    assert doc["completeDate"] == "2025-04-05"
    assert all(set(v) == {"dataElement", "value"} for v in doc["dataValues"])
    assert len(list((tmp_path / "dhis2_202503").glob("*.json"))) == 9


def test_values_are_written_as_dhis2_stores_them() -> None:
    assert [format_value(v) for v in (12.0, 0.0, 66.67, 50.5, 1234567.0)] == [
        "12",
        "0",
        "66.67",
        "50.5",
        "1234567",
    ]


def test_last_complete_month_and_bad_periods(serving_file: Path) -> None:
    mapping = make_mapping("http://127.0.0.1:8767")
    assert last_complete_month(serving_file, mapping, today=date(2026, 1, 2)) == "202503"
    assert last_complete_month(serving_file, mapping, today=date(2025, 3, 31)) == "202502"
    with pytest.raises(ExportError, match="no complete month before 2025-01"):
        last_complete_month(serving_file, mapping, today=date(2025, 1, 20))
    with pytest.raises(
        ExportError, match=r"period 202412: no rows in mart_hmis_monthly .* 2025-01 to 2025-03"
    ):
        build_batch(mapping, serving_file, "202412")
    with pytest.raises(ExportError, match="period: '202513' is not a month as YYYYMM"):
        build_batch(mapping, serving_file, "202513")


def test_only_the_published_file_is_read(tmp_path: Path) -> None:
    mapping = make_mapping("http://127.0.0.1:8767")
    with pytest.raises(ExportError, match="serving warehouse not found: .*publish it first"):
        build_batch(mapping, tmp_path / "serving.duckdb", "202501")
