"""The demo world loaded from the emulators into a warehouse and built by dbt (for the transform tests)."""

from __future__ import annotations

from pathlib import Path

from sangam.config import SangamConfig, parse_config
from tests.conftest import REPO, sources_doc
from transform.dbt_runner import build
from transform.dbt_vars import config_vars


def demo_config(world: Path, emulators, warehouse: Path, reconcile_every_hours: float | None = None):
    urls = (emulators.kobo_url, emulators.odk_url)
    doc = sources_doc(*urls, world / "sheets", warehouse, world=world)
    if reconcile_every_hours is not None:
        for src in doc["sources"]:
            if src["kind"] == "kobo":
                src["reconcile_deletes_every_hours"] = reconcile_every_hours
    return parse_config(doc, home=REPO)


def load_and_build(config: SangamConfig, warehouse: Path, work: Path) -> Path:
    from extract.run import load_sources

    report = load_sources(config, warehouse_path=warehouse, pipelines_dir=work / "pipelines")
    assert report.ok, report.summary()
    result = build(warehouse, target_path=work / "target", dbt_vars=config_vars(config))
    assert result.success, result.failures
    return warehouse
