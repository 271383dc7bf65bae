"""Write-audit-publish on the small hand-built warehouse."""

from __future__ import annotations

import hashlib
import os
import time

import duckdb
import pytest

from quality.checks import run_checks
from quality.publish import BlockingCheckFailed, PublishError, ServingPaths, publish
from quality.suites import serving_tables
from tests.quality.pii_scan import personal_values_from_raw, scan
from tests.quality.test_gates import sql

PERSONAL = {"woman_name", "child_name", "head_name", "phone", "aadhaar", "home_gps", "worker_name"}


def checked_publish(paths: ServingPaths):
    reports = [run_checks(paths.warehouse_path, paths, stage=s) for s in ("raw", "marts")]
    return publish(paths, reports)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_passing_run_publishes_exactly_the_serving_tables(paths: ServingPaths) -> None:
    result = checked_publish(paths)
    assert result.serving_path == paths.serving_path and paths.serving_path.exists()
    names = [t["name"] for t in serving_tables()]
    assert list(result.tables) == names
    assert not list(paths.serving_path.parent.glob("*.tmp")) and not list(
        paths.serving_path.parent.glob("*.wal")
    )
    with duckdb.connect(str(paths.serving_path), read_only=True) as con:
        served = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert served == set(names)  # dim_field_worker (worker names) is not served
        assert con.execute("SELECT count(*) FROM mart_program_indicators_monthly").fetchone()[0] == 18
        history_columns = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'dq_check_history'"
            ).fetchall()
        ]
        assert history_columns == [
            "run_id",
            "checked_at",
            "check_name",
            "table_name",
            "blocking",
            "passed",
            "observed_value",
        ]
        rows = con.execute("SELECT count(*) FROM dq_check_history").fetchone()[0]
    assert rows == len(sql(paths, "SELECT * FROM dq.check_results")) == result.tables["dq_check_history"]


def test_blocking_failure_leaves_serving_byte_identical_and_names_the_check(paths: ServingPaths) -> None:
    checked_publish(paths)
    before, mtime = digest(paths.serving_path), paths.serving_path.stat().st_mtime_ns
    sql(
        paths,
        "UPDATE marts.mart_program_indicators_monthly SET institutional_delivery_pct = 187.5 "
        "WHERE district_code = 'MH_PUN' AND month = DATE '2025-05-01'",
    )
    sql(paths, "UPDATE marts.mart_hmis_monthly SET value = value + 1")  # would change the served file
    with pytest.raises(BlockingCheckFailed) as raised:
        checked_publish(paths)
    message = str(raised.value)
    assert "percentage_in_range.institutional_delivery_pct" in message and "187.5" in message
    assert [f.name for f in raised.value.failures] == ["percentage_in_range.institutional_delivery_pct"]
    assert digest(paths.serving_path) == before and paths.serving_path.stat().st_mtime_ns == mtime
    assert not list(paths.serving_path.parent.glob("*.tmp"))


def test_raw_blocking_failure_also_stops_publication(paths: ServingPaths) -> None:
    checked_publish(paths)
    before = digest(paths.serving_path)
    sql(
        paths,
        "INSERT INTO raw_kobo.pregnancy_registration SELECT * FROM raw_kobo.pregnancy_registration LIMIT 3",
    )
    with pytest.raises(
        BlockingCheckFailed,
        match=r"submission_id_unique on raw_kobo.pregnancy_registration: "
        r"observed 3 duplicate submission_id values in 43 rows",
    ):
        checked_publish(paths)
    assert digest(paths.serving_path) == before


def test_warning_still_publishes(paths: ServingPaths) -> None:
    checked_publish(paths)
    before = digest(paths.serving_path)
    sql(
        paths,
        "UPDATE raw_kobo.pregnancy_registration SET home_gps_latitude = 0, home_gps_longitude = 0 "
        "WHERE woman_id = 'W0012'",
    )
    sql(paths, "UPDATE marts.mart_hmis_monthly SET value = 999 WHERE indicator_code = 'HMIS_1.1'")
    result = checked_publish(paths)
    assert [w.name for w in result.warnings] == ["gps_in_area.home_gps"]
    assert digest(paths.serving_path) != before
    with duckdb.connect(str(paths.serving_path), read_only=True) as con:
        assert con.execute("SELECT DISTINCT value FROM mart_hmis_monthly").fetchall() == [(999.0,)]
        assert con.execute(
            "SELECT count(*) FROM dq_check_history WHERE NOT passed AND NOT blocking"
        ).fetchone()[0]


def test_personal_column_in_a_serving_table_refuses_to_publish(paths: ServingPaths) -> None:
    checked_publish(paths)
    before = digest(paths.serving_path)
    sql(paths, "ALTER TABLE marts.mart_hmis_monthly ADD COLUMN phone VARCHAR")
    with pytest.raises(PublishError, match=r"mart_hmis_monthly: .* personal column\(s\) \['phone'\]"):
        checked_publish(paths)
    sql(paths, "ALTER TABLE marts.mart_hmis_monthly DROP COLUMN phone")
    sql(
        paths,
        "UPDATE marts.mart_hmis_monthly SET indicator_name = '9876543210' WHERE month = DATE '2025-02-01'",
    )
    with pytest.raises(PublishError, match=r"column indicator_name holds phone- or Aadhaar-shaped values"):
        checked_publish(paths)
    assert digest(paths.serving_path) == before


def test_a_failure_while_copying_leaves_serving_untouched_and_no_temp_file(paths: ServingPaths) -> None:
    checked_publish(paths)
    before = digest(paths.serving_path)
    stale = paths.serving_path.with_name("serving.duckdb.deadbeef.tmp")
    stale.write_bytes(b"left by a crashed publication")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    sql(paths, "DROP TABLE marts.mart_hmis_monthly")
    with pytest.raises(
        PublishError, match="serving table mart_hmis_monthly: marts.mart_hmis_monthly not found"
    ):
        # The checks skip a missing mart (no blocking failure): the copy itself fails half-way.
        publish(paths, run_checks(paths.warehouse_path, paths, stage="marts"))
    assert digest(paths.serving_path) == before
    assert list(paths.serving_path.parent.glob("*.tmp")) == []  # its own temp file and the stale one


def test_no_personal_data_served(paths: ServingPaths) -> None:
    checked_publish(paths)
    known = personal_values_from_raw(paths.warehouse_path, PERSONAL)
    assert len(known.texts) == 3 * 40 and len(known.coordinates) > 70  # names, phones, Aadhaar; lat, lon
    assert scan(paths.serving_path, PERSONAL, known) == []


def test_the_scan_finds_personal_data_when_there_is_some(paths: ServingPaths, tmp_path) -> None:
    """The scanner itself can fail: a file with a leaked name, phone and coordinate is caught."""
    known = personal_values_from_raw(paths.warehouse_path, PERSONAL)
    leaky = tmp_path / "leaky.duckdb"
    with duckdb.connect(str(leaky)) as con:
        con.execute("CREATE TABLE t (who VARCHAR, lat DOUBLE, contact VARCHAR, aadhaar_hash VARCHAR)")
        con.execute("INSERT INTO t VALUES ('Sunita Devi 3', 18.503702, '+91 9800000004', 'x')")
    findings = scan(leaky, PERSONAL, known)
    assert "t.aadhaar_hash: personal column name" in findings
    assert "t.who: personal value 'Sunita Devi 3'" in findings
    assert "t.lat: home GPS coordinate 18.503702" in findings
    assert "t.contact: personal value '+91 9800000004'" in findings


def test_no_check_results_no_publication(paths: ServingPaths) -> None:
    with pytest.raises(PublishError, match="no check results"):
        publish(paths, [])
    assert not paths.serving_path.exists()


def test_publish_without_a_report_runs_the_marts_checks(paths: ServingPaths) -> None:
    result = publish(paths)
    assert paths.serving_path.exists() and result.tables["dq_check_history"] > 0
    assert os.path.getsize(paths.serving_path) == result.size_bytes
