"""Spreadsheets as NGOs in India write them: Hindi headers, Excel serial and day-first dates, broken files.
Each is loaded (or quarantined) and the run says what happened in plain words."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import openpyxl
import pytest

from extract.run import LoadReport, run_source
from sangam.config import ConfigError, parse_config

HINDI_HEADER = ["क्रमांक", "लाभार्थी का नाम", "ज़िला", "जन्म तिथि", "पंजीकरण दिनांक", "महीना", "Mahina", "!!"]
HINDI_ROWS = [
    # serial DOB (Excel number cells), dd/mm/yyyy text registration dates, one real date cell
    [1, "सीता देवी", "पटना", 45474, "15/08/2024", "जुलाई", 7, "x"],
    [2, "गीता कुमारी", "गया", 45292, "01/02/2024", "जनवरी", 1, "y"],
    [3, "राधा", "पटना", 44927, datetime(2024, 3, 5), "मार्च", 3, None],
    [4, "मीना", "गया", 45000, "31/02/2024", "मार्च", 3, None],  # no 31 February: not a date
    [5, "लता", "पटना", 45100, "पता नहीं", "जून", 6, None],  # "don't know": not a date
]


def _q(wh: Path, sql: str):
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql).fetchall()


def _hindi_sheet(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["लाभार्थी सूची — पटना प्रखंड"])  # a title row, merged across the sheet
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HINDI_HEADER))
    ws.append(HINDI_HEADER)
    for row in HINDI_ROWS:
        ws.append(row)
    wb.save(path)


def _config(folder: Path, wh: Path, files: list[dict]):
    return parse_config(
        {
            "warehouse": {"path": str(wh), "serving_path": str(wh.parent / "s.duckdb"),
                          "exports_dir": str(wh.parent / "exports")},
            "sources": [{"name": "sheets", "kind": "spreadsheets", "path": str(folder), "files": files}],
        }
    )  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "sheets"
    d.mkdir()
    return d


def _columns(wh: Path, table: str) -> dict[str, str]:
    rows = _q(
        wh, f"select column_name, data_type from information_schema.columns where table_name = '{table}'"
    )
    return dict(rows)


def test_hindi_headers_become_readable_stable_names_and_collisions_are_reported(folder, tmp_path) -> None:
    _hindi_sheet(folder / "beneficiaries_patna.xlsx")
    config = _config(
        folder, tmp_path / "wh.duckdb", [{"pattern": "beneficiaries*.xlsx", "table": "beneficiaries"}]
    )
    result = run_source(config.source("sheets"), config)
    assert result.ok, result.error
    cols = _columns(config.warehouse.path, "beneficiaries")
    names = [c for c in cols if not c.startswith("_")]
    assert names == ["kramamka", "labharthi_ka_nama", "zila", "janma_tithi", "pamjikarana_dinamka", "mahina",
                     "mahina_2", "column_h"]  # fmt: skip
    # the collision (महीना and Mahina both read "mahina") is recorded and told, naming both headers
    notes = _q(config.warehouse.path, "select kind, column_name, detail from raw_sheets._sangam_sheet_notes "
                                      "where kind = 'duplicate_name'")  # fmt: skip
    assert len(notes) == 1 and notes[0][1] == "mahina_2"
    assert "महीना" in notes[0][2] and "Mahina" in notes[0][2]
    assert any("mahina_2" in w and "Mahina" in w for w in result.warnings), result.warnings
    # a second file with the same headers gets the same names: the rows land in the same columns
    _hindi_sheet(folder / "beneficiaries_gaya.xlsx")
    assert run_source(config.source("sheets"), config).ok
    assert _columns(config.warehouse.path, "beneficiaries") == cols
    assert _q(
        config.warehouse.path, "select count(*), count(labharthi_ka_nama) from raw_sheets.beneficiaries"
    )[0] == (10, 10)


def test_serial_and_day_first_dates_become_dates_and_bad_ones_are_counted(folder, tmp_path) -> None:
    _hindi_sheet(folder / "beneficiaries_patna.xlsx")
    config = _config(
        folder, tmp_path / "wh.duckdb", [{"pattern": "beneficiaries*.xlsx", "table": "beneficiaries"}]
    )
    result = run_source(config.source("sheets"), config)
    wh = config.warehouse.path
    cols = _columns(wh, "beneficiaries")
    assert cols["janma_tithi"] == "DATE" and cols["pamjikarana_dinamka"] == "DATE"
    rows = _q(
        wh, "select kramamka, janma_tithi, pamjikarana_dinamka from raw_sheets.beneficiaries order by 1"
    )
    assert rows == [
        (1, date(2024, 7, 1), date(2024, 8, 15)),
        (2, date(2024, 1, 1), date(2024, 2, 1)),
        (3, date(2023, 1, 1), date(2024, 3, 5)),
        (4, date(2023, 3, 15), None),
        (5, date(2023, 6, 23), None),
    ]
    # the two values that are no dates are counted by column, with their rows, and told
    notes = _q(
        wh, "select column_name, count, rows from raw_sheets._sangam_sheet_notes where kind = 'unparsed_date'"
    )
    assert notes == [("pamjikarana_dinamka", 2, "6, 7")]
    assert result.status == "warning"
    told = [w for w in result.warnings if "pamjikarana_dinamka" in w]
    assert told and "2 values" in told[0] and "rows 6, 7" in told[0] and "beneficiaries_patna.xlsx" in told[0]
    # no personal value (the names, the unparsed text itself) is in what the user is told
    assert not any("सीता" in w or "पता नहीं" in w for w in result.warnings)


def test_date_order_is_configured_per_file(folder, tmp_path) -> None:
    (folder / "visits_us.csv").write_text("Visit,Count\n08/15/2024,3\n12/01/2024,4\n")
    (folder / "visits_in.csv").write_text("Visit,Count\n15/08/2024,3\n01/12/2024,4\n")
    (folder / "visits_iso.csv").write_text("Visit,Count\n2024/08/15,3\n2024/12/01,4\n")
    files = [
        {"pattern": "visits_us.csv", "table": "visits_us", "date_order": "mdy"},
        {"pattern": "visits_in.csv", "table": "visits_in"},  # day first by default
        {"pattern": "visits_iso.csv", "table": "visits_iso", "date_order": "ymd"},
    ]
    config = _config(folder, tmp_path / "wh.duckdb", files)
    result = run_source(config.source("sheets"), config)
    assert result.ok and result.status == "ok", (result.error, result.warnings)
    for table in ("visits_us", "visits_in", "visits_iso"):
        assert _q(config.warehouse.path, f"select visit from raw_sheets.{table} order by 1") == [
            (date(2024, 8, 15),),
            (date(2024, 12, 1),),
        ], table


def test_a_bad_date_order_names_the_key(folder, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"^sources\[0\]\.files\[0\]\.date_order: .*dmy, mdy, ymd"):
        _config(folder, tmp_path / "wh.duckdb", [{"pattern": "*.csv", "table": "t", "date_order": "dd/mm"}])


def test_a_quarantined_file_marks_the_source_as_warning_until_it_is_fixed(folder, tmp_path) -> None:
    _hindi_sheet(folder / "targets_march.xlsx")
    (folder / "targets_april.xlsx").write_bytes(b"PK\x03\x04 a truncated upload")
    config = _config(folder, tmp_path / "wh.duckdb", [{"pattern": "targets*.xlsx", "table": "targets"}])
    src = config.source("sheets")
    first = run_source(src, config)
    assert first.ok and first.status == "warning"
    quarantined = [w for w in first.warnings if "targets_april.xlsx" in w]
    assert quarantined and "quarantined" in quarantined[0] and "unreadable" in quarantined[0]
    text = LoadReport([first], config.warehouse.path).summary()
    assert "WARN" in text and "targets_april.xlsx" in text and "unreadable" in text
    assert "All sources loaded." not in text
    # the next run reads nothing new, but the file is still broken: still told
    second = run_source(src, config)
    assert second.status == "warning" and any("targets_april.xlsx" in w for w in second.warnings)
    # fixed: loaded, and the warning is gone (the quarantine row stays as history)
    _hindi_sheet(folder / "targets_april.xlsx")
    third = run_source(src, config)
    assert not any("targets_april.xlsx quarantined" in w for w in third.warnings), third.warnings
    april = "select count(*) from raw_sheets.targets where _source_file = 'targets_april.xlsx'"
    assert _q(config.warehouse.path, april)[0][0] == len(HINDI_ROWS)
    # removed instead of fixed: no longer told either
    (folder / "targets_may.xlsx").write_bytes(b"not a workbook")
    assert any("targets_may.xlsx" in w for w in run_source(src, config).warnings)
    (folder / "targets_may.xlsx").unlink()
    assert not any("targets_may.xlsx" in w for w in run_source(src, config).warnings)


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("15/08/2024", "dmy", date(2024, 8, 15)),
        ("5-8-24", "dmy", date(2024, 8, 5)),
        ("15.08.2024", "dmy", date(2024, 8, 15)),
        ("15-Aug-2024", "mdy", date(2024, 8, 15)),  # a month name is never ambiguous
        ("15 August 2024", "dmy", date(2024, 8, 15)),
        ("2024-08-15", "mdy", date(2024, 8, 15)),  # a 4-digit first part is always year-month-day
        ("15/08/2024 00:00:00", "dmy", date(2024, 8, 15)),  # Excel's CSV export of a date cell
        ("08/15/2024", "dmy", None),
        ("31/02/2024", "dmy", None),
        ("15/08/2024 10:30", "dmy", None),  # a time of day: not a date
        ("1.2.3", "dmy", None),  # a version number
        ("15/08/3024", "dmy", None),
        ("2024-07", "dmy", None),
    ],
)
def test_text_dates(text: str, order: str, expected: date | None) -> None:
    from extract.sheet_dates import text_date

    assert text_date(text, order) == expected
