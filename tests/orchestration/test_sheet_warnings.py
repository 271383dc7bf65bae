"""In Dagster, a quarantined spreadsheet file and unreadable dates are seen where the data team looks: the
sheet asset's metadata, a failed WARN `gx` check on the sheet's asset, and the run summary."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml
from dagster_dlt import DagsterDltResource

from orchestration.assets_extract import build_source_assets
from orchestration.checks_quality import build_quality_checks
from orchestration.resources import SangamConfigResource
from orchestration.summary import summarize_run
from sangam.config import load_config
from tests.extract.test_sheets_india import _hindi_sheet


def test_quarantine_and_unread_dates_show_in_metadata_check_and_summary(tmp_path: Path) -> None:
    folder = tmp_path / "sheets"
    folder.mkdir()
    _hindi_sheet(folder / "targets_march.xlsx")
    (folder / "targets_april.xlsx").write_bytes(b"PK\x03\x04 a truncated upload")
    wh = tmp_path / "warehouse" / "warehouse.duckdb"
    doc = {
        "warehouse": {"path": str(wh), "serving_path": str(wh.parent / "serving.duckdb"),
                      "exports_dir": str(wh.parent / "exports")},
        "sources": [{"name": "sheets", "kind": "spreadsheets", "path": str(folder),
                     "files": [{"pattern": "targets*.xlsx", "table": "targets"}]}],
    }  # fmt: skip
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(doc))
    config = load_config(sources)
    key = dg.AssetKey(["raw_sheets", "targets"])
    extract = build_source_assets(config, config.source("sheets"))
    checks = build_quality_checks({"raw_sheets.targets": key}, {})
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [extract, checks],
            instance=instance,
            resources={
                "sangam": SangamConfigResource(sources_path=str(sources)),
                "dlt": DagsterDltResource(),
            },
        )
        assert result.success
        [meta] = [
            m.metadata for m in result.asset_materializations_for_node(extract.op.name) if m.asset_key == key
        ]
        assert meta["quarantined_files"].value == ["targets_april.xlsx"]
        assert meta["unparsed_dates"].value == {"pamjikarana_dinamka": 2}
        assert any("unreadable" in w for w in meta["warnings"].value)

        [check] = [e for e in result.get_asset_check_evaluations() if e.asset_key == key]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        failures = check.metadata["failures"].value
        assert "sheet_quarantine" in failures and "targets_april.xlsx quarantined: unreadable" in failures
        assert "sheet_dates_read" in failures and "pamjikarana_dinamka" in failures

        text = summarize_run(instance, result.run_id).text()
    assert "raw_sheets/targets" in text and "WARN" in text and "Warnings:" in text
    assert "targets_april.xlsx quarantined: unreadable" in text
    assert "pamjikarana_dinamka: 2 values not read as dates (rows 6, 7)" in text
    assert "FAILED (WARN) raw_sheets/targets gx" in text
