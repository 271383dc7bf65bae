"""The Dagster asset of the DHIS2 push: the import summary as metadata, and a rejected push fails the run with
an alert that names the rejected values."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.assets_dhis2 import DHIS2_KEY, build_dhis2_definitions
from orchestration.resources import SangamConfigResource
from tests.deliver.conftest import mapping_doc
from tests.deliver.test_dhis2_push import _sources_with_serving


@pytest.fixture()
def wiring(dhis2, serving_file: Path, tmp_path: Path):
    url, app = dhis2
    doc = mapping_doc()
    doc["server"]["url"] = url
    doc["schedule"] = {"enabled": True, "day_of_month": 3, "hour": 7}
    mapping = tmp_path / "dhis2_mapping.yaml"
    mapping.write_text(yaml.safe_dump(doc))
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(_sources_with_serving(serving_file)))
    assets, jobs, schedules = build_dhis2_definitions(str(mapping))
    return app, assets, jobs, schedules, {"sangam": SangamConfigResource(sources_path=str(sources))}


def _run(assets, resources, instance, period: str):
    config = {"ops": {"dhis2__data_value_sets": {"config": {"period": period}}}}
    return dg.materialize(
        assets, resources=resources, run_config=config, instance=instance, raise_on_error=False
    )


def test_asset_records_the_import_summary_and_a_second_run_changes_nothing(wiring) -> None:
    app, assets, jobs, schedules, resources = wiring
    with dg.instance_for_test() as instance:
        first = _run(assets, resources, instance, "202501")
        assert first.success
        md = first.asset_materializations_for_node("dhis2__data_value_sets")[0].metadata
        assert md["period"].value == "202501" and md["status"].value == "SUCCESS"
        assert md["importCount"].value["imported"] == md["values"].value > 0
        assert md["org_units_sent"].value == 9
        second = _run(assets, resources, instance, "202501")
        md2 = second.asset_materializations_for_node("dhis2__data_value_sets")[0].metadata
        assert md2["importCount"].value == {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
        assert md2["org_units_unchanged"].value == 9
    (schedule,) = schedules
    assert schedule.cron_schedule == "0 7 3 * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert assets[0].asset_deps[DHIS2_KEY] == {dg.AssetKey(["serving", "published_marts"])}


def test_the_schedule_is_off_by_default() -> None:
    _, _, schedules = build_dhis2_definitions()
    assert schedules[0].default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedules[0].cron_schedule == "0 6 5 * *"


def test_conflicts_fail_the_run_and_the_alert_names_them(wiring) -> None:
    from orchestration.alerts import alert_from_failure
    from orchestration.resources import AlertChannels

    app, assets, _, _, resources = wiring
    # the server's data element now takes integers only: every fractional percentage is a conflict
    element = app.meta.find("dataElements", "SGM_ANC4_PCT", "CODE")
    saved = element["valueType"]
    element["valueType"] = "INTEGER"
    try:
        with dg.instance_for_test() as instance:
            result = _run(assets, resources, instance, "202502")
            assert not result.success
            ctx = dg.build_run_status_sensor_context(
                sensor_name="alert_on_run_failure",
                dagster_instance=instance,
                dagster_run=result.dagster_run,
                dagster_event=result.get_run_failure_event(),
                resources={"alerts": AlertChannels()},
            ).for_run_failure()
            alert = alert_from_failure(ctx)
    finally:
        element["valueType"] = saved
    assert "rejected" in alert.error and "in the dry run (nothing was imported)" in alert.error
    assert "data element SGM_ANC4_PCT (ANC4_PCT)" in alert.error and "E7619" in alert.error
    assert app.values == {} and app.completions == {}  # nor any month registered complete
