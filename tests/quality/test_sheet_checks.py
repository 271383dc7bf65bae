"""A quarantined spreadsheet file and unreadable dates are warnings in dq history, so the Data quality
dashboard (which reads the published dq_check_history) shows a row naming the file and the reason."""

from __future__ import annotations

from pathlib import Path

import duckdb

from extract.run import run_source
from quality.publish import ServingPaths
from sangam.config import parse_config
from tests.extract.test_sheets_india import HINDI_ROWS, _hindi_sheet
from tests.quality.test_publish import checked_publish


def _load_sheets(paths: ServingPaths, folder: Path) -> None:
    doc = {
        "warehouse": {"path": str(paths.warehouse_path), "serving_path": str(paths.serving_path)},
        "sources": [{"name": "sheets", "kind": "spreadsheets", "path": str(folder),
                     "files": [{"pattern": "targets*.xlsx", "table": "targets"}]}],
    }  # fmt: skip
    config = parse_config(doc)
    assert run_source(config.source("sheets"), config).ok


def _history(path: Path, check: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT table_name, blocking, passed, observed_value FROM dq_check_history WHERE check_name = ? "
            "ORDER BY checked_at",
            [check],
        ).fetchall()


def test_a_quarantined_file_is_a_warning_row_on_the_data_quality_dashboard(
    paths: ServingPaths, tmp_path
) -> None:
    folder = tmp_path / "sheets"
    folder.mkdir()
    _hindi_sheet(folder / "targets_march.xlsx")
    (folder / "targets_april.xlsx").write_bytes(b"PK\x03\x04 a truncated upload")
    _load_sheets(paths, folder)

    result = checked_publish(paths)  # warnings never stop publication
    assert "dq_check_history" in result.tables
    [(table, blocking, passed, observed)] = _history(paths.serving_path, "sheet_quarantine")
    assert (table, blocking, passed) == ("raw_sheets.targets", False, False)
    assert "targets_april.xlsx quarantined: unreadable" in observed and observed.startswith("1 file")
    [(table, blocking, passed, observed)] = _history(paths.serving_path, "sheet_dates_read")
    assert (table, blocking, passed) == ("raw_sheets.targets", False, False)
    assert "pamjikarana_dinamka: 2 values not read as dates (rows 6, 7)" in observed

    # fixed: the next run's row passes (and says so)
    _hindi_sheet(folder / "targets_april.xlsx")
    _load_sheets(paths, folder)
    checked_publish(paths)
    latest = _history(paths.serving_path, "sheet_quarantine")[-1]
    assert latest[2] is True and latest[3].startswith("0 file"), latest
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw_sheets.targets").fetchone()[0] == 2 * len(HINDI_ROWS)
