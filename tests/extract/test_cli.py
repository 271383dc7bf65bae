"""`python -m extract`: config check, a real load with its printed summary, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.extract.conftest import config_doc

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "extract", *args], cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "SANGAM_HOME": str(REPO), **(env or {})},
    )  # fmt: skip


def test_check_reports_config_errors_with_the_key(tmp_path: Path) -> None:
    doc = yaml.safe_load((REPO / "sources.yaml").read_text())
    doc["sources"][1]["url"] = "htp:/x"
    bad = tmp_path / "sources.yaml"
    bad.write_text(yaml.safe_dump(doc))
    out = _run("--config", str(bad), "--check")
    assert out.returncode == 2
    assert "sources[1].url: not a URL: 'htp:/x'" in out.stderr
    ok = _run("--config", str(REPO / "sources.yaml"), "--check")
    assert ok.returncode == 0 and "OK (kobo, odk, sheets)" in ok.stdout


def test_cli_loads_and_prints_summary(emulators, demo_world: Path, tmp_path: Path) -> None:
    doc = config_doc(emulators.kobo_url, emulators.odk_url, demo_world / "sheets", tmp_path / "wh.duckdb")
    cfg = tmp_path / "sources.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    report = tmp_path / "report.json"
    out = _run("--config", str(cfg), "--source", "sheets", "--source", "odk", "--report-json", str(report))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "odk" in out.stdout and "sheets" in out.stdout and "All sources loaded." in out.stdout
    assert "kobo " not in out.stdout  # not selected
    assert "odk/anc_visit" in out.stderr  # progress logs
    data = json.loads(report.read_text())
    assert data["ok"] and {s["source"] for s in data["sources"]} == {"odk", "sheets"}
    unknown = _run("--config", str(cfg), "--source", "nope")
    assert unknown.returncode == 2 and "no source named 'nope'" in unknown.stderr
