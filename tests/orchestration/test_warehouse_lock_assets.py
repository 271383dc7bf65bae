"""The Dagster path waits for a reader on warehouse.duckdb too: the extract asset loads once the reader in
another process lets go, and dbt's step waits before it starts its own connection."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from orchestration.assets_extract import build_source_assets
from orchestration.resources import build_resources
from sangam.config import load_config
from sangam.warehouse_lock import WarehouseLocked, wait_until_writable
from tests.conftest import sources_doc
from tests.extract.test_warehouse_lock import hold_read_only


@pytest.fixture
def sheets_only(tmp_path: Path, demo_world: Path) -> Path:
    shutil.copytree(demo_world / "sheets", tmp_path / "sheets")
    doc = sources_doc("http://127.0.0.1:9", "http://127.0.0.1:9", tmp_path / "sheets", tmp_path / "wh.duckdb")
    doc["sources"] = [s for s in doc["sources"] if s["kind"] == "spreadsheets"]
    doc["warehouse"]["lock_wait_seconds"] = 30
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_the_extract_asset_waits_for_a_reader(sheets_only: Path) -> None:
    config = load_config(sheets_only, require_secrets=False)
    wh = config.warehouse.path
    duckdb.connect(str(wh)).close()
    asset = build_source_assets(config, config.source("sheets"))
    reader = hold_read_only(wh, 4)
    try:
        t0 = time.monotonic()
        result = dg.materialize([asset], resources=build_resources(config, sheets_only), raise_on_error=False)
        waited = time.monotonic() - t0
    finally:
        reader.wait(timeout=30)
    assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    assert waited >= 2
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("select count(*) from raw_sheets.field_workers").fetchone()[0] > 0


def test_dbt_waits_then_fails_naming_the_holder(tmp_path: Path, monkeypatch) -> None:
    from transform.dbt_runner import run

    wh = tmp_path / "wh.duckdb"
    duckdb.connect(str(wh)).close()
    monkeypatch.setenv("SANGAM_LOCK_WAIT_S", "1")
    reader = hold_read_only(wh, 60)
    try:
        t0 = time.monotonic()
        with pytest.raises(WarehouseLocked, match=f"process {reader.pid}"):
            run(["build"], wh, target_path=tmp_path / "target")
        assert time.monotonic() - t0 >= 1
    finally:
        reader.kill()
        reader.wait()
    wait_until_writable(wh, 1)
