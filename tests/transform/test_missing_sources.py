"""One bad source does not stop the others: raw tables that are not loaded read as empty, and the marts
are still built from what is there."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.transform import raw_fixture
from transform.dbt_runner import build


def test_build_without_odk_tables_and_targets_sheet(tmp_path: Path):
    wh = raw_fixture.build(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(wh)) as con:
        # ODK never loaded (its first extraction failed) and the targets sheet is missing
        con.execute("drop schema raw_odk cascade")
        con.execute("drop table raw_sheets.district_targets")
    result = build(wh, target_path=tmp_path / "target")
    assert result.success, result.failures
    with duckdb.connect(str(wh), read_only=True) as con:
        rows = con.execute(
            """select district_code, registered_pregnant_women, deliveries, target_registrations, home_visits
               from marts.mart_program_indicators_monthly where month = date '2025-03-01' order by 1"""
        ).fetchall()
        schemes = con.execute("select count(*) from marts.mart_scheme_applications").fetchone()[0]
    # KoBo registrations and child visits still count; no deliveries, ANC visits, schemes or targets
    assert rows == [("MH_NAS", 1, 0, None, 0), ("MH_PUN", 1, 0, None, 4)]
    assert schemes == 0
