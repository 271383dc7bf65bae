"""Quality gates on the small hand-built warehouse: each rule catches what it is meant to, with the right
severity, an observed value and a failing sample without personal data; history is appended every run."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from quality.checks import CheckReport, accept_row_counts, run_checks
from quality.publish import ServingPaths
from quality.settings import Area, load_settings


def sql(paths: ServingPaths, statement: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse_path)) as con:
        return con.execute(statement, params or []).fetchall()


def result(report: CheckReport, name: str, table: str | None = None):
    matches = [r for r in report.results if r.name == name and (table is None or r.table == table)]
    assert len(matches) == 1, [(r.name, r.table) for r in report.results]
    return matches[0]


def test_clean_warehouse_passes_every_check(paths: ServingPaths) -> None:
    raw = run_checks(paths.warehouse_path, paths, stage="raw")
    marts = run_checks(paths.warehouse_path, paths, stage="marts")
    assert raw.passed and marts.passed
    assert not raw.warnings and not marts.warnings, [r for r in raw.warnings + marts.warnings]
    kinds = {r.kind for r in raw.results}
    assert {
        "required_columns",
        "submission_id_unique",
        "submitted_at_not_future",
        "gps_in_area",
        "plausible_range",
        "date_order",
    } <= kinds
    assert {"percentage_in_range", "count_not_negative", "district_every_month", "row_count_not_dropped"} <= {
        r.kind for r in marts.results
    }
    # A check on a table that exists only in a cross-form rule: anc visits before their registration.
    assert result(raw, "date_order.pregnancy_registration.registration_date<=visit_date").passed


def test_gps_outside_area_is_a_warning_without_personal_fields_in_the_sample(paths: ServingPaths) -> None:
    sql(
        paths,
        "UPDATE raw_kobo.pregnancy_registration SET home_gps_latitude = 51.5, home_gps_longitude = -0.12 "
        "WHERE woman_id IN ('W0003', 'W0007')",
    )
    report = run_checks(paths.warehouse_path, paths, stage="raw")
    gps = result(report, "gps_in_area.home_gps")
    assert not gps.passed and not gps.blocking and report.passed
    assert gps.observed_value.startswith("2 of 40 rows")
    assert len(gps.failing_sample) == 2
    for row in gps.failing_sample:
        assert row["submission_id"] in {"1003", "1007"}
        assert not {"woman_name", "phone", "aadhaar", "home_gps_latitude", "home_gps_longitude"} & row.keys()


def test_implausible_age_and_dates_out_of_order_are_warnings(paths: ServingPaths) -> None:
    sql(paths, "UPDATE raw_kobo.pregnancy_registration SET age_years = 7 WHERE woman_id = 'W0001'")
    sql(
        paths,
        "UPDATE raw_kobo.pregnancy_registration SET lmp_date = registration_date + 3 "
        "WHERE woman_id = 'W0002'",
    )
    sql(paths, "UPDATE raw_odk.anc_visit SET visit_date = DATE '2024-01-01' WHERE woman_id = 'W0004'")
    report = run_checks(paths.warehouse_path, paths, stage="raw")
    age = result(report, "plausible_range.age_years")
    assert not age.passed and not age.blocking
    assert age.failing_sample == [
        {
            "submission_id": "1001",
            "worker_id": "FW0001",
            "village": "MH_NAG_B1_V01",
            "district": "MH_NAG",
            "age_years": 7,
        }
    ]
    assert not result(report, "date_order.lmp_date<=registration_date").passed
    cross = result(report, "date_order.pregnancy_registration.registration_date<=visit_date")
    assert not cross.passed and cross.failing_sample[0]["woman_id"] == "W0004"
    assert report.passed  # warnings only


def test_duplicate_submission_ids_block(paths: ServingPaths) -> None:
    sql(paths, "INSERT INTO raw_odk.anc_visit SELECT * FROM raw_odk.anc_visit WHERE woman_id = 'W0005'")
    report = run_checks(paths.warehouse_path, paths, stage="raw")
    dup = result(report, "submission_id_unique", "raw_odk.anc_visit")
    assert not dup.passed and dup.blocking and not report.passed
    assert dup.observed_value == "1 duplicate submission_id values in 41 rows"
    assert dup.failing_sample == [{"submission_id": "uuid:anc5", "copies": 2}]


def test_future_submission_time_blocks(paths: ServingPaths) -> None:
    future = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=6)
    sql(
        paths,
        "UPDATE raw_kobo.pregnancy_registration SET submitted_at = ? WHERE woman_id = 'W0009'",
        [future],
    )
    report = run_checks(paths.warehouse_path, paths, stage="raw")
    check = result(report, "submitted_at_not_future", "raw_kobo.pregnancy_registration")
    assert check.blocking and not check.passed
    assert check.observed_value.startswith("1 of 40 rows submitted after")


def test_missing_required_column_blocks(paths: ServingPaths) -> None:
    sql(paths, "ALTER TABLE raw_odk.anc_visit DROP COLUMN village")
    report = run_checks(paths.warehouse_path, paths, stage="raw")
    check = result(report, "required_columns", "raw_odk.anc_visit")
    assert check.blocking and not check.passed
    assert check.observed_value == "missing columns: village"


def test_percentage_over_100_and_negative_count_block(paths: ServingPaths) -> None:
    sql(
        paths,
        "UPDATE marts.mart_program_indicators_monthly SET anc4_pct = 150 WHERE district_code = 'BR_GAY' "
        "AND month = DATE '2025-03-01'",
    )
    sql(
        paths,
        "UPDATE marts.mart_scheme_applications SET pending = -2 WHERE scheme = 'jsy' AND "
        "district_code = 'MH_PUN' AND month = DATE '2025-02-01'",
    )
    report = run_checks(paths.warehouse_path, paths, stage="marts")
    pct = result(report, "percentage_in_range.anc4_pct", "marts.mart_program_indicators_monthly")
    assert pct.blocking and not pct.passed
    assert pct.observed_value == "1 of 18 rows outside [0, 100], e.g. [150.0]"
    assert pct.failing_sample == [
        {"district": "Gaya", "district_code": "BR_GAY", "month": "2025-03-01", "anc4_pct": 150.0}
    ]
    neg = result(report, "count_not_negative.pending")
    assert neg.blocking and not neg.passed
    assert neg.failing_sample[0]["scheme"] == "jsy" and neg.failing_sample[0]["pending"] == -2
    assert {r.name for r in report.blocking_failures} == {
        "percentage_in_range.anc4_pct",
        "count_not_negative.pending",
    }


def test_missing_district_month_is_found_and_named(paths: ServingPaths) -> None:
    sql(
        paths,
        "DELETE FROM marts.mart_program_indicators_monthly WHERE district_code = 'MH_NAG' "
        "AND month = DATE '2025-04-01'",
    )
    report = run_checks(paths.warehouse_path, paths, stage="marts")
    check = result(report, "district_every_month")
    # blocking (checks.yaml): the mart is dense by contract, so a missing district-month stops publication
    assert not check.passed and check.blocking
    assert not report.passed and [r.name for r in report.blocking_failures] == ["district_every_month"]
    assert check.observed_value == "1 of 6 months without all 3 districts"
    assert check.failing_sample == [{"district_code": "MH_NAG", "month": "2025-04-01"}]


def test_row_counts_are_compared_with_the_last_accepted_run(paths: ServingPaths) -> None:
    first = run_checks(paths.warehouse_path, paths, stage="marts")
    assert json.loads(result(first, "row_count_not_dropped", "marts.mart_hmis_monthly").observed_value) == {
        "rows": 18,
        "previous_rows": None,
        "change_pct": None,
    }
    sql(paths, "DELETE FROM marts.mart_hmis_monthly WHERE month >= DATE '2025-04-01'")  # 18 -> 9 rows
    dropped = run_checks(paths.warehouse_path, paths, stage="marts")
    check = result(dropped, "row_count_not_dropped", "marts.mart_hmis_monthly")
    assert check.blocking and not check.passed
    assert json.loads(check.observed_value) == {"rows": 9, "previous_rows": 18, "change_pct": -50.0}
    # Still compared with the last *accepted* count: a failed run does not become the new baseline.
    again = run_checks(paths.warehouse_path, paths, stage="marts")
    assert not result(again, "row_count_not_dropped", "marts.mart_hmis_monthly").passed

    # A legitimate drop is accepted by an operator: it becomes the baseline, and the next run passes.
    with pytest.raises(ValueError, match="no checked mart named mart_nonexistent"):
        accept_row_counts(paths.warehouse_path, ["mart_nonexistent"], reason="typo")
    assert accept_row_counts(paths.warehouse_path, ["mart_hmis_monthly"], reason="two districts left") == {
        "marts.mart_hmis_monthly": 9
    }
    accepted = run_checks(paths.warehouse_path, paths, stage="marts")
    check = result(accepted, "row_count_not_dropped", "marts.mart_hmis_monthly")
    assert check.passed and json.loads(check.observed_value)["previous_rows"] == 9

    sql(paths, "INSERT INTO marts.mart_scheme_applications SELECT * FROM marts.mart_scheme_applications")
    grown = run_checks(paths.warehouse_path, paths, stage="marts")
    growth = result(grown, "row_count_growth", "marts.mart_scheme_applications")
    assert not growth.passed and not growth.blocking
    assert json.loads(growth.observed_value)["change_pct"] == 100.0


def test_every_run_appends_history(paths: ServingPaths) -> None:
    sql(paths, "UPDATE raw_kobo.pregnancy_registration SET age_years = 99 WHERE woman_id = 'W0011'")
    first = run_checks(paths.warehouse_path, paths, stage="raw")
    second = run_checks(paths.warehouse_path, paths, stage="raw")
    rows = sql(paths, "SELECT run_id, count(*), count(DISTINCT checked_at) FROM dq.check_results GROUP BY 1")
    assert sorted(rows) == sorted(
        [(first.run_id, len(first.results), 1), (second.run_id, len(second.results), 1)]
    )
    stored = sql(
        paths,
        "SELECT table_name, blocking, passed, observed_value, failing_sample FROM dq.check_results "
        "WHERE run_id = ? AND check_name = 'plausible_range.age_years'",
        [second.run_id],
    )
    table, blocking, passed, observed, sample = stored[0]
    assert (table, blocking, passed) == ("raw_kobo.pregnancy_registration", False, False)
    assert observed == "1 of 40 rows with age_years outside [13, 55]"
    assert json.loads(sample)[0]["submission_id"] == "1011"
    assert "Sunita" not in sample and "98000000" not in sample


def test_submission_flags_feed_the_field_worker_scores(paths: ServingPaths) -> None:
    run_checks(paths.warehouse_path, paths, stage="raw")
    assert sql(paths, "SELECT count(*) FROM dq.submission_flags") == [(0,)]

    sql(
        paths,
        "UPDATE raw_kobo.pregnancy_registration SET lmp_date = registration_date + 1 "
        "WHERE woman_id = 'W0000'",
    )
    sql(paths, "UPDATE raw_odk.anc_visit SET visit_date = DATE '2024-12-01' WHERE woman_id = 'W0006'")
    # W0002 registered again a day later under a new submission id: the later one is the resubmission.
    sql(
        paths,
        "INSERT INTO raw_kobo.pregnancy_registration SELECT * REPLACE ('9002' AS submission_id, "
        "submitted_at + INTERVAL 1 DAY AS submitted_at) FROM raw_kobo.pregnancy_registration "
        "WHERE woman_id = 'W0002'",
    )
    # GPS outside the area is flagged by dbt itself, so it is not repeated here.
    sql(paths, "UPDATE raw_kobo.pregnancy_registration SET home_gps_latitude = 0 WHERE woman_id = 'W0003'")
    report = run_checks(paths.warehouse_path, paths, stage="raw")
    assert report.passed
    assert not result(report, "natural_key_unique", "raw_kobo.pregnancy_registration").passed
    flags = sql(paths, "SELECT source, form, submission_id, flag FROM dq.submission_flags ORDER BY ALL")
    assert flags == [
        ("kobo", "pregnancy_registration", "1000", "date_order.lmp_date<=registration_date"),
        ("kobo", "pregnancy_registration", "9002", "natural_key_unique"),
        ("odk", "anc_visit", "uuid:anc6", "date_order.pregnancy_registration.registration_date<=visit_date"),
    ]


def test_roster_listing_a_worker_twice_is_found(paths: ServingPaths) -> None:
    sql(paths, "CREATE SCHEMA raw_sheets")
    sql(
        paths,
        "CREATE TABLE raw_sheets.field_workers AS SELECT * FROM (VALUES ('FW0001', 'Asha Kumari', 'SV01', "
        "'MH_PUN', '9812345678'), ('FW0002', 'Rekha Devi', 'SV01', 'MH_PUN', '9812345679'), ('FW0001', "
        "'Asha Kumari', 'SV01', 'MH_PUN', '9812345678')) "
        "t(worker_id, worker_name, supervisor_id, district, phone)",
    )
    report = run_checks(paths.warehouse_path, paths, stage="raw")
    assert result(report, "required_columns", "raw_sheets.field_workers").passed
    dup = result(report, "natural_key_unique", "raw_sheets.field_workers")
    assert not dup.passed and not dup.blocking
    assert dup.observed_value == "1 duplicate worker_id values in 3 rows"
    assert dup.failing_sample == [{"worker_id": "FW0001", "copies": 2}]


def test_gps_area_comes_from_the_config(paths: ServingPaths) -> None:
    """sources.yaml `area` sets the box: a narrower one (around Pune) puts the farther homes outside it."""
    base = load_settings(paths)
    pune = dataclasses.replace(base, area=Area("Pune", 18.4, 18.52, 73.7, 73.9))
    report = run_checks(paths.warehouse_path, pune, stage="raw")
    gps = result(report, "gps_in_area.home_gps")
    # home_gps latitude of woman i is 18.5 + 0.001234 i: above 18.52 from i = 17 on (23 of 40).
    assert gps.observed_value.startswith("23 of 40 rows with home_gps outside Pune (18.4–18.52 N")


def test_phone_shaped_values_are_masked_in_samples(paths: ServingPaths) -> None:
    sql(
        paths,
        "UPDATE raw_kobo.pregnancy_registration SET age_years = 3, village = '+91 98123 45678' "
        "WHERE woman_id = 'W0008'",
    )
    sample = result(
        run_checks(paths.warehouse_path, paths, stage="raw"), "plausible_range.age_years"
    ).failing_sample
    assert sample == [
        {
            "submission_id": "1008",
            "worker_id": "FW0003",
            "village": "[redacted]",
            "district": "BR_GAY",
            "age_years": 3,
        }
    ]


def test_form_changes_table_is_metadata_not_a_sheet_to_check(paths: ServingPaths) -> None:
    """extract.form_changes writes raw_<source>.form_changes and _sangam_form_snapshot: no raw check
    reads them as a data table (a `sheet` without `_source_file` would fail required_columns)."""
    from extract.form_changes import FORM_CHANGES_TABLE, SNAPSHOT_TABLE

    sql(paths, f"create table raw_kobo.{FORM_CHANGES_TABLE} (source varchar, form varchar, version varchar, "
               "kind varchar, question varchar, detail varchar, detected_at timestamp)")  # fmt: skip
    sql(paths, f"insert into raw_kobo.{FORM_CHANGES_TABLE} values ('kobo', 'child_health', 'v3', "
               "'question_added', 'muac_cm', 'decimal', now()::timestamp)")  # fmt: skip
    sql(paths, f"create table raw_kobo.{SNAPSHOT_TABLE} (form varchar)")
    raw = run_checks(paths.warehouse_path, paths, stage="raw")
    assert raw.passed and not raw.warnings, raw.warnings
    assert not [r for r in raw.results if r.table in (FORM_CHANGES_TABLE, SNAPSHOT_TABLE)]


def test_a_choice_the_marts_do_not_know_is_a_warning_naming_value_and_marts(paths: ServingPaths) -> None:
    """A new form version adds `sex = other`: the z-score and indicator rules leave those children out, so the
    raw stage says so (warning, still published) instead of the marts dropping them silently."""
    sql(paths, "CREATE TABLE raw_kobo.child_health__child AS SELECT 's' || (i // 2) AS submission_id, "
               "'r' || i AS row_id, 1 + i % 2 AS repeat_index, NULL::VARCHAR AS parent_row_id, "
               "now()::TIMESTAMP AS _loaded_at, CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END AS sex "
               ", 'C' || i AS child_id, DATE '2024-01-01' AS dob, 9.5 AS weight_kg, 80.0 AS height_cm, "
               "'bcg' AS vaccines FROM range(10) r(i)")  # fmt: skip
    clean = run_checks(paths.warehouse_path, paths, stage="raw")
    assert result(clean, "known_choices.sex").passed
    sql(paths, "UPDATE raw_kobo.child_health__child SET sex = 'other' WHERE row_id IN ('r1', 'r2', 'r3')")
    report = run_checks(paths.warehouse_path, paths, stage="raw")
    check = result(report, "known_choices.sex")
    assert not check.passed and not check.blocking and report.passed
    assert check.observed_value.startswith("3 of ") and "sex = other" in check.observed_value
    assert (
        "fct_child_growth" in check.observed_value
        and "mart_program_indicators_monthly" in check.observed_value
    )
