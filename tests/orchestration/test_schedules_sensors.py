"""Schedules come from sources.yaml and start RUNNING; the sheets sensor fires on a new or changed file."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.definitions import build_definitions
from orchestration.schedules import build_schedules
from orchestration.sensors import spreadsheet_sensor
from sangam.config import load_config


def test_a_schedule_per_source_cron_and_the_daily_full_build(offline_sources: Path) -> None:
    config = load_config(offline_sources, require_secrets=False)
    schedules = {s.name: s for s in build_schedules(config)}
    assert schedules["full_build_schedule"].cron_schedule == config.schedules["full_build"]
    assert schedules["full_build_schedule"].job_name == "full_build"
    for src in config.sources:
        s = schedules[f"{src.name}_schedule"]
        assert s.cron_schedule == src.schedule and s.job_name == f"refresh_{src.name}"
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())


def test_schedules_follow_an_edited_sources_yaml(offline_sources: Path) -> None:
    doc = yaml.safe_load(offline_sources.read_text())
    doc["sources"][0]["schedule"] = "15 3 * * 1"
    doc["schedules"]["full_build"] = "0 4 * * *"
    offline_sources.write_text(yaml.safe_dump(doc))
    schedules = {s.name: s for s in build_schedules(load_config(offline_sources, require_secrets=False))}
    assert schedules[f"{doc['sources'][0]['name']}_schedule"].cron_schedule == "15 3 * * 1"
    assert schedules["full_build_schedule"].cron_schedule == "0 4 * * *"


def test_schedules_evaluate_to_runs_of_their_jobs(offline_sources: Path) -> None:
    defs = build_definitions(load_config(offline_sources, require_secrets=False), offline_sources)
    repo = defs.get_repository_def()
    jobs = {j.name for j in repo.get_all_jobs()}
    when = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    for schedule in defs.schedules:
        with dg.instance_for_test() as instance:
            ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
            data = schedule.evaluate_tick(ctx)
        assert data.run_requests and len(data.run_requests) == 1, schedule.name
        assert schedule.job_name in jobs


def _evaluate(sensor, cursor: str | None):
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
        return sensor.evaluate_tick(ctx)


def test_spreadsheet_sensor_fires_on_new_and_changed_files_only(tmp_path: Path, demo_world: Path) -> None:
    from tests.orchestration.conftest import write_sources

    sheets = tmp_path / "sheets"
    shutil.copytree(demo_world / "sheets", sheets)
    path = write_sources(
        tmp_path / "sources.yaml", "http://127.0.0.1:9", "http://127.0.0.1:9", sheets, tmp_path
    )
    source = load_config(path, require_secrets=False).source("sheets")
    sensor = spreadsheet_sensor(source)
    assert sensor.job_name == "refresh_sheets"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING

    first = _evaluate(sensor, None)  # files present before the first tick count as new
    assert len(first.run_requests) == 1
    cursor = first.cursor

    quiet = _evaluate(sensor, cursor)
    assert not quiet.run_requests and quiet.skip_message

    # touched but unchanged: no run (the content hash decides)
    roster = next(sheets.glob("field_workers*.xlsx"))
    os.utime(roster, ns=(roster.stat().st_atime_ns, roster.stat().st_mtime_ns + 5_000_000_000))
    touched = _evaluate(sensor, cursor)
    assert not touched.run_requests
    cursor = touched.cursor or cursor

    # a new partner report lands
    partner_dir = sheets / "partner_monthly"
    template = next(partner_dir.glob("*.csv"))
    new_file = partner_dir / "partner_2099_01.csv"
    new_file.write_text(template.read_text())
    fired = _evaluate(sensor, cursor)
    assert len(fired.run_requests) == 1
    request = fired.run_requests[0]
    assert "partner_monthly/partner_2099_01.csv" in request.tags["sangam/changed_files"]
    cursor = fired.cursor

    # a replaced file of the same size with different content fires again, under a new run key
    text = new_file.read_text()
    new_file.write_text(text.replace("1", "2", 1) if "1" in text else text + "x")
    again = _evaluate(sensor, cursor)
    assert len(again.run_requests) == 1 and again.run_requests[0].run_key != request.run_key

    # files the config does not watch are ignored
    (sheets / "notes.txt").write_text("not a data file")
    ignored = _evaluate(sensor, again.cursor)
    assert not ignored.run_requests


def test_spreadsheet_sensor_skips_a_missing_folder(tmp_path: Path) -> None:
    from tests.orchestration.conftest import write_sources

    path = write_sources(
        tmp_path / "sources.yaml", "http://127.0.0.1:9", "http://127.0.0.1:9", tmp_path / "absent", tmp_path
    )
    sensor = spreadsheet_sensor(load_config(path, require_secrets=False).source("sheets"))
    result = _evaluate(sensor, None)
    assert not result.run_requests and "does not exist" in (result.skip_message or "")


@pytest.mark.parametrize("hours,age,passes", [(48, 10, True), (48, 72, False)])
def test_freshness_rule(hours: float, age: float, passes: bool) -> None:
    from datetime import timedelta

    from orchestration.checks_freshness import evaluate

    now = datetime(2026, 11, 26, 12, 0)
    passed, metadata = evaluate(now - timedelta(hours=age), hours, now)
    assert passed is passes and metadata["age_hours"].value == age
    assert evaluate(None, hours, now)[0] is False


def test_first_tick_ignores_files_older_than_the_last_load(tmp_path: Path, demo_world: Path) -> None:
    from tests.orchestration.conftest import write_sources

    sheets = tmp_path / "sheets"
    shutil.copytree(demo_world / "sheets", sheets)
    nowhere = "http://127.0.0.1:9"
    source = load_config(
        write_sources(tmp_path / "sources.yaml", nowhere, nowhere, sheets, tmp_path), require_secrets=False
    ).source("sheets")
    sensor = spreadsheet_sensor(source)
    with dg.instance_for_test() as instance:
        for spec in source.files:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(dg.AssetKey([source.dataset, spec.table]))
            )
        quiet = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not quiet.run_requests and quiet.cursor
        fresh = sheets / "partner_monthly" / "partner_2099_02.csv"
        fresh.write_text(next((sheets / "partner_monthly").glob("partner_20*.csv")).read_text())
        fired = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert [r.tags["sangam/changed_files"] for r in fired.run_requests] == [
        "partner_monthly/partner_2099_02.csv"
    ]
