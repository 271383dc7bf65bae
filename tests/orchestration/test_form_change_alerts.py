"""In Dagster, a new form version is told where the data team looks: the form asset's `form_changes` metadata,
the run summary and an alert on the webhook (a run that succeeded with form changes sends one); a rerun with
nothing new says nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import yaml
from dagster_dlt import DagsterDltResource

from demo.emulators import running
from orchestration.alerts import alert_on_form_changes
from orchestration.assets_extract import build_source_assets
from orchestration.resources import AlertChannels, SangamConfigResource
from orchestration.summary import summarize_run
from sangam.config import load_config
from tests.conftest import sources_doc
from tests.extract.form_versions import publish_odk_version
from tests.extract.test_form_changes import _odk_delivery_v2
from tests.orchestration.receivers import webhook_receiver

KEY = dg.AssetKey(["raw_odk", "delivery"])


def _alert(instance: dg.DagsterInstance, result, url_env: str) -> None:
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_form_changes",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
        resources={"alerts": AlertChannels(webhook_url_env=url_env)},
    )
    alert_on_form_changes(context)


def test_new_odk_version_in_metadata_summary_and_webhook(demo_world: Path, tmp_path: Path, monkeypatch):
    world = tmp_path / "world"
    shutil.copytree(demo_world, world)
    with running(world) as servers, dg.DagsterInstance.ephemeral() as instance, webhook_receiver() as hook:
        url, posts = hook
        monkeypatch.setenv("SANGAM_TEST_WEBHOOK", url)
        wh = tmp_path / "warehouse" / "warehouse.duckdb"
        sources = tmp_path / "sources.yaml"
        doc = sources_doc(servers.kobo_url, servers.odk_url, world / "sheets", wh)
        sources.write_text(yaml.safe_dump(doc))
        config = load_config(sources)
        extract = build_source_assets(config, config.source("odk"))
        resources = {"sangam": SangamConfigResource(sources_path=str(sources)), "dlt": DagsterDltResource()}

        def materialize():
            result = dg.materialize([extract], instance=instance, resources=resources)
            assert result.success
            [meta] = [m.metadata for m in result.asset_materializations_for_node(extract.op.name)
                      if m.asset_key == KEY]  # fmt: skip
            return result, meta["form_changes"].value

        first, changes = materialize()
        assert changes == []  # the first load has nothing to compare with
        _alert(instance, first, "SANGAM_TEST_WEBHOOK")
        assert posts == []

        publish_odk_version(world, servers.odk_url, _odk_delivery_v2())
        second, changes = materialize()
        assert len(changes) == 1 and changes[0].startswith("delivery v2: added baby_length_cm (decimal); ")
        text = summarize_run(instance, second.run_id).text()
        assert f"Form changes:\n  raw_odk/delivery: {changes[0]}" in text
        _alert(instance, second, "SANGAM_TEST_WEBHOOK")
        assert len(posts) == 1
        payload = posts[0]["json"]["text"]
        assert "Sangam run changed forms" in payload and f"raw_odk: {changes[0]}" in payload

        third, changes = materialize()
        assert changes == [] and "Form changes:" not in summarize_run(instance, third.run_id).text()
        _alert(instance, third, "SANGAM_TEST_WEBHOOK")
        assert len(posts) == 1


def test_a_failed_run_alert_also_carries_its_form_changes() -> None:
    from orchestration.alerts import Alert

    line = "raw_kobo: child_health v3: added muac_cm (decimal); removed oedema"
    alert = Alert("full_refresh", "r1", ("dbt_build",), "dbt_build: boom", "http://x/runs/r1", (line,))
    assert alert.title == "Sangam run failed: full_refresh"
    assert "Error: dbt_build: boom\nForm changes:\n  " + line in alert.text
    body = alert.slack_payload()["blocks"][-1]["text"]["text"]
    assert "dbt_build: boom" in body and line in body
