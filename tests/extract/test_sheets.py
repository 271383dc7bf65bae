"""Spreadsheet folders: messy real-world files load; bad files are quarantined; only changed files reload."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import openpyxl
import pytest

from extract.run import run_source
from extract.sheets import BadFile, find_header, parse_file
from sangam.config import parse_config
from tests.extract.conftest import config_doc


def _q(wh: Path, sql: str):
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def sheets(demo_world: Path, tmp_path: Path):
    folder = tmp_path / "sheets"
    shutil.copytree(demo_world / "sheets", folder)
    doc = config_doc("http://127.0.0.1:9", "http://127.0.0.1:9", folder, tmp_path / "wh.duckdb")
    config = parse_config(doc)
    return folder, config


def test_messy_sheets_load_typed(sheets) -> None:
    folder, config = sheets
    result = run_source(config.source("sheets"), config)
    assert result.ok, result.error
    wh = config.warehouse.path
    # title rows and merged cells above the header: detected; trailing blank rows: dropped
    n, blank = _q(wh, "select count(*), count(*) - count(worker_id) from raw_sheets.field_workers")[0]
    assert blank == 0 and n >= 100
    wb = openpyxl.load_workbook(folder / "field_workers.xlsx")
    ids = [r[0] for r in wb.worksheets[0].iter_rows(values_only=True) if r[0] and str(r[0]).startswith("FW")]
    assert n == len(ids)
    # Excel serials in a date-named column become dates, matching the year/month columns
    rows = _q(wh, "select year, month, month_start from raw_sheets.district_targets")
    assert rows and all(ms == date(y, m, 1) for y, m, ms in rows)
    # the renamed header ("Beneficiaries Reached") maps onto the same column in every month
    files, missing = _q(wh, "select count(distinct _source_file), count(*) - count(beneficiaries_reached) "
                            "from raw_sheets.partner_monthly")[0]  # fmt: skip
    assert files == len(list((folder / "partner_monthly").glob("*.csv"))) and missing == 0
    cols = {r[0] for r in _q(wh, "select column_name from information_schema.columns "
                                 "where table_name = 'partner_monthly'")}  # fmt: skip
    assert {"district", "month", "beneficiaries_reached", "_source_file", "_source_row", "_loaded_at"} <= cols
    assert not any(c.startswith("beneficiaries_reached_") for c in cols)
    phone = _q(wh, "select data_type from information_schema.columns where table_schema = 'raw_sheets' "
                   "and table_name = 'field_workers' and column_name = 'phone'")  # fmt: skip
    assert phone == [("VARCHAR",)]


def test_bad_files_are_quarantined_and_others_load(sheets) -> None:
    folder, config = sheets
    (folder / "field_workers_broken.xlsx").write_bytes(b"this is not a zip file")
    wb = openpyxl.Workbook()
    wb.active.append(["State", "District", "Year", "Month"])  # no target_registrations
    wb.active.append(["Bihar", "Patna", 2025, 1])
    wb.save(folder / "district_targets_incomplete.xlsx")
    (folder / "partner_monthly" / "partner_2099_01.csv").write_text(
        "district,month,beneficiaries_reached\nPatna,2099-01,5\nGaya,2099-01,\n"
    )
    result = run_source(config.source("sheets"), config)
    assert result.ok, result.error
    wh = config.warehouse.path
    q = {r[0]: r for r in _q(wh, "select file, reason, row, content_hash from raw_sheets._sangam_quarantine")}
    assert q["field_workers_broken.xlsx"][1].startswith("unreadable")
    assert "missing required columns: target_registrations" in q["district_targets_incomplete.xlsx"][1]
    bad_row = q["partner_monthly/partner_2099_01.csv"]
    assert bad_row[2] == 3 and "beneficiaries_reached" in bad_row[1] and len(bad_row[3]) == 64
    assert _q(wh, "select count(*) from raw_sheets.field_workers")[0][0] > 0
    assert _q(wh, "select count(*) from raw_sheets.partner_monthly where district = 'Patna' "
                  "and month = '2099-01'")[0][0] == 1  # fmt: skip

    # fixing the file loads it on the next run; the quarantine is history, not repeated
    shutil.copy(folder / "field_workers.xlsx", folder / "field_workers_broken.xlsx")
    again = run_source(config.source("sheets"), config)
    assert again.ok
    assert _q(wh, "select count(distinct _source_file) from raw_sheets.field_workers")[0][0] == 2
    assert (
        _q(wh, "select count(*) from raw_sheets._sangam_quarantine where file = 'field_workers_broken.xlsx'")[
            0
        ][0]
        == 1
    )


def test_only_new_or_changed_files_reload(sheets) -> None:
    folder, config = sheets
    src = config.source("sheets")
    assert run_source(src, config).ok
    wh = config.warehouse.path
    before = dict(_q(wh, "select _source_file, max(_loaded_at) from raw_sheets.partner_monthly group by 1"))
    second = run_source(src, config)
    assert second.ok and not any(
        second.rows.get(t) for t in ("field_workers", "district_targets", "partner_monthly")
    )
    target = sorted((folder / "partner_monthly").glob("*.csv"))[0]
    target.write_text(target.read_text().rstrip("\n") + "\nNewtown,2024-07,7,1\n")
    third = run_source(src, config)
    assert third.ok
    after = dict(_q(wh, "select _source_file, max(_loaded_at) from raw_sheets.partner_monthly group by 1"))
    changed = {f for f in after if after[f] != before.get(f)}
    assert changed == {f"partner_monthly/{target.name}"}
    rel = f"partner_monthly/{target.name}"
    stored = _q(wh, f"select count(*) from raw_sheets.partner_monthly where _source_file = '{rel}'")[0][0]
    data_lines = [
        ln for ln in target.read_text().splitlines()[1:] if ln.strip(", ")
    ]  # blank rows are dropped
    assert stored == len(data_lines)


def test_runs_in_one_clock_second_report_their_own_rows(sheets, monkeypatch) -> None:
    """Two runs that start within one second (a fast machine, a coarse clock) each count only their own rows:
    a run reads its counts back from `_sangam_loads` by its run id."""
    import extract.run

    folder, config = sheets
    frozen = datetime(2026, 1, 1, 12, 0, 0)
    monkeypatch.setattr(extract.run, "utcnow", lambda: frozen)
    src = config.source("sheets")
    first = run_source(src, config)
    second = run_source(src, config)
    assert first.ok and second.ok and first.run_id != second.run_id
    assert first.rows.get("partner_monthly")
    assert not any(second.rows.values()), second.rows


def test_header_detection_and_configured_header(tmp_path: Path) -> None:
    rows = [
        ["Programme report"] * 4,
        [None] * 4,
        ["Worker ID", "Name", "Joined", "Visits"],
        ["FW1", "A", 45474, 3],
    ]
    assert find_header(rows, [], {}) == 2
    assert find_header(rows, ["worker_id", "visits"], {}) == 2
    with pytest.raises(BadFile, match="no header row"):
        find_header([["only a title"], [None]], [], {})
    path = tmp_path / "x.csv"
    path.write_text("note: exported\nworker_id,visits_done\nFW1,4\n\n\n")
    spec = {"header_row": 2, "table": "x", "required_columns": ["worker_id"]}
    tbl, issues, notes = parse_file(path, "x.csv", spec, datetime(2026, 1, 1))
    assert (
        tbl.column_names[:2] == ["worker_id", "visits_done"]
        and tbl.num_rows == 1
        and not issues
        and not notes
    )
    assert tbl.column("_source_row").to_pylist() == [3]
