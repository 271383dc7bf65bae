"""The Dagster path of one failing form: the source's other forms are loaded and materialized, the step
fails naming the form and its error (so the run is seen and alerted), the run summary says it, and the next
run loads the form."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import httpx
import yaml

from orchestration.assets_extract import build_source_assets
from orchestration.resources import build_resources
from orchestration.summary import summarize_run
from sangam.config import load_config
from tests.conftest import sources_doc


def test_failing_form_fails_the_step_and_the_others_materialize(
    emulators, demo_world: Path, tmp_path: Path
) -> None:
    (tmp_path / "warehouse").mkdir()
    doc = sources_doc(
        emulators.kobo_url,
        emulators.odk_url,
        demo_world / "sheets",
        tmp_path / "warehouse" / "warehouse.duckdb",
    )
    for src in doc["sources"]:
        if src["kind"] in ("kobo", "odk"):
            src["max_retries"] = 1
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(doc, sort_keys=False))
    config = load_config(sources)
    assets = build_source_assets(config, config.source("odk"), ["delivery__baby", "_sangam_loads"])
    resources = build_resources(config, sources)
    fault = {"fault": "503", "times": 100_000, "path_contains": "/forms/delivery.svc/", "retry_after": 0}
    httpx.post(f"{emulators.odk_url}/_emulator/faults", json=fault, timeout=5).raise_for_status()
    with dg.DagsterInstance.ephemeral() as instance:
        try:
            hit = dg.materialize([assets], resources=resources, instance=instance, raise_on_error=False)
        finally:
            httpx.delete(f"{emulators.odk_url}/_emulator/faults", timeout=5).raise_for_status()
        assert not hit.success
        done = {e.asset_key.path[-1] for e in hit.get_asset_materialization_events()}
        assert {"anc_visit", "scheme_application", "_sangam_loads"} <= done
        assert not done & {"delivery", "delivery__baby"}
        text = summarize_run(instance, hit.run_id).text()
        print(text)
        assert "extract_odk" in text and "form delivery" in text and "503" in text, text

        again = dg.materialize([assets], resources=resources, instance=instance, raise_on_error=False)
        assert again.success
        assert "delivery" in {e.asset_key.path[-1] for e in again.get_asset_materialization_events()}
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        n, distinct = con.execute(
            "select count(*), count(distinct submission_id) from raw_odk.delivery"
        ).fetchone()
    assert n == distinct > 0
