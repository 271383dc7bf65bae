"""The Dagster path loads a retyped question too, and its run summary (what `make run` prints and alerts
carry) names the change."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import httpx
import yaml

from demo.emulators import running
from demo.generator.retype import redeploy_kobo_retyped
from orchestration.assets_extract import build_source_assets
from orchestration.resources import build_resources
from orchestration.summary import summarize_run
from sangam.config import load_config
from tests.conftest import sources_doc


def test_the_kobo_asset_widens_a_retyped_question_and_the_summary_says_so(
    demo_world: Path, tmp_path: Path
) -> None:
    world = tmp_path / "world"
    shutil.copytree(demo_world, world)
    with running(world) as servers:
        doc = sources_doc(servers.kobo_url, servers.odk_url, world / "sheets", tmp_path / "wh.duckdb")
        doc["sources"] = [s for s in doc["sources"] if s["kind"] == "kobo"]
        path = tmp_path / "sources.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        config = load_config(path)
        asset = build_source_assets(config, config.source("kobo"))
        resources = build_resources(config, path)
        with dg.instance_for_test() as instance:
            first = dg.materialize([asset], resources=resources, instance=instance, raise_on_error=False)
            assert first.success
            vuid = redeploy_kobo_retyped(world, "pregnancy_registration", "age_years", "text", ["12a"])
            httpx.post(f"{servers.kobo_url}/_emulator/reload").raise_for_status()
            second = dg.materialize([asset], resources=resources, instance=instance, raise_on_error=False)
            assert second.success, [e.message for e in second.all_events if e.is_step_failure]
            text = summarize_run(instance, second.run_id).text()
    assert "type change: kobo/pregnancy_registration: pregnancy_registration.age_years changed BIGINT" in text
    assert vuid in text
