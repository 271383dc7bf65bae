"""`python -m quality check --publish` (what `make dq-publish` runs) on a sources.yaml's warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from quality.publish import ServingPaths
from quality.suites import serving_tables
from tests.quality.test_gates import sql

REPO = Path(__file__).resolve().parents[2]


def cli(paths: ServingPaths, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    doc = yaml.safe_load((REPO / "sources.yaml").read_text())
    doc["warehouse"]["path"] = str(paths.warehouse_path)
    doc["warehouse"]["serving_path"] = str(paths.serving_path)
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGAM_") or k == "SANGAM_HOME"}
    env["SANGAM_SOURCES"] = str(sources)  # and no server secrets: checks never need them
    return subprocess.run(
        [sys.executable, "-m", "quality", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_checks_and_publishes_then_refuses_on_a_blocking_failure(
    paths: ServingPaths, tmp_path: Path
) -> None:
    ok = cli(paths, tmp_path, "check", "--stage", "all", "--publish")
    assert ok.returncode == 0, ok.stderr
    assert f"published {len(serving_tables())} tables to" in ok.stdout and paths.serving_path.exists()
    before = paths.serving_path.read_bytes()

    sql(paths, "UPDATE marts.mart_scheme_applications SET approvals = -1 WHERE scheme = 'pmmvy'")
    failed = cli(paths, tmp_path, "check", "--stage", "marts", "--publish")
    assert failed.returncode == 1
    assert (
        "count_not_negative.approvals on marts.mart_scheme_applications: observed 18 of 36 rows"
        in failed.stderr
    )
    assert paths.serving_path.read_bytes() == before
