"""Incremental staging: a second build reads only submissions loaded since the first, and still applies
edits, server deletes, removed repeat rows and new submissions exactly as a full build would."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.transform import raw_fixture
from transform.dbt_runner import build


def _snapshot(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: con.execute(f"select * from staging.{t} order by all").fetchall()
            for t in ("stg_odk__delivery", "stg_odk__delivery__baby", "stg_kobo__pregnancy_registration")
        } | {
            "mart": con.execute("select * from marts.mart_program_indicators_monthly order by all").fetchall()
        }


def test_second_build_applies_changes_like_a_full_build(tmp_path: Path):
    wh = raw_fixture.build(tmp_path / "warehouse.duckdb")
    assert build(wh, target_path=tmp_path / "target").success
    with duckdb.connect(str(wh)) as con:
        later = "timestamp '2025-04-01 00:00:00'"
        # d1 edited (place phc → home), d2 deleted on the server, a new delivery d4 with one baby
        con.execute(f"update raw_odk.delivery set place = 'home', updated_at = {later}, _loaded_at = {later} "
                    "where submission_id = 'd1'")  # fmt: skip
        con.execute(f"update raw_odk.delivery set deleted_at = {later}, _loaded_at = {later} "
                    "where submission_id = 'd2'")  # fmt: skip
        con.execute(
            f"""insert into raw_odk.delivery (submission_id, instance_id, root_uuid, submitted_at,
                form_version, _loaded_at, woman_id, delivery_date, place, state, district, block, village,
                worker_id)
            values ('d4', 'uuid:d4', 'uuid:d4', '2025-03-28 10:00:00', 'v1', {later}, 'w4', '2025-03-27',
                    'chc', 'MH', 'MH_PUN', 'MH_PUN_B1', 'MH_PUN_B1_V01', 'W01')"""
        )
        baby = f"('d4', 'd4-b1', 1, null, {later}, 'male', 3.0, 'live_birth')"
        con.execute(f"insert into raw_odk.delivery__baby values {baby}")
        # a KoBo hard delete found by reconciliation: registration 1 (w1)
        con.execute(f"update raw_kobo.pregnancy_registration set deleted_at = {later}, _loaded_at = {later} "
                    "where submission_id = '1'")  # fmt: skip
    incremental = build(wh, target_path=tmp_path / "target")
    assert incremental.success, incremental.failures
    after_incremental = _snapshot(wh)
    assert build(wh, target_path=tmp_path / "target", full_refresh=True).success
    assert after_incremental == _snapshot(wh)
    deliveries = {r[0] for r in after_incremental["stg_odk__delivery"]}
    assert deliveries == {"d1", "d4"}
    assert {r[0] for r in after_incremental["stg_odk__delivery__baby"]} == {"d1", "d4"}
    assert "1" not in {r[0] for r in after_incremental["stg_kobo__pregnancy_registration"]}
