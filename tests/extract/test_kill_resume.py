"""A run killed in the middle of a big extraction resumes on the next run: nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import yaml

from demo.generator import KOBO_ASSET_UIDS
from extract.run import load_sources
from sangam.config import load_config
from tests.extract.conftest import config_doc

REPO = Path(__file__).resolve().parents[2]


def test_killed_run_resumes_without_loss_or_duplicates(emulators, demo_world: Path, tmp_path: Path) -> None:
    doc = config_doc(emulators.kobo_url, emulators.odk_url, demo_world / "sheets", tmp_path / "wh.duckdb")
    doc["sources"][0]["page_size"] = 20
    cfg_path = tmp_path / "sources.yaml"
    cfg_path.write_text(yaml.safe_dump(doc))
    log_path = tmp_path / "extract.log"
    # slow pages so the kill lands mid-extraction, after some bounded runs have committed
    slow = {"fault": "slow", "delay": 0.15, "times": 10_000, "path_contains": "/data/"}
    httpx.post(f"{emulators.kobo_url}/_emulator/faults", json=slow).raise_for_status()
    try:
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "extract", "--config", str(cfg_path), "--source", "kobo",
                 "--pages-per-run", "3"],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "SANGAM_HOME": str(REPO)},
            )  # fmt: skip
            deadline = time.monotonic() + 120
            while "continuing the backlog (run 4)" not in log_path.read_text(errors="replace"):
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the run never got going"
                time.sleep(0.2)
            time.sleep(0.7)  # land inside the next run's extraction
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
    finally:
        httpx.delete(f"{emulators.kobo_url}/_emulator/faults")
    assert proc.returncode == -signal.SIGKILL

    wh = tmp_path / "wh.duckdb"
    with duckdb.connect(str(wh), read_only=True) as con:
        partial = con.execute("select count(*) from raw_kobo.child_health").fetchone()[0]
    subs = {
        form: [
            json.loads(x) for x in (demo_world / "kobo/submissions" / f"{uid}.jsonl").read_text().splitlines()
        ]
        for form, uid in KOBO_ASSET_UIDS.items()
    }
    assert 0 < partial < len(subs["child_health"])  # killed mid-way, after some runs committed
    report = load_sources(load_config(cfg_path), only=["kobo"])
    assert report.ok, report.summary()
    with duckdb.connect(str(wh), read_only=True) as con:
        for form, rows in subs.items():
            got = con.execute(
                f"select count(*), count(distinct submission_id) from raw_kobo.{form}"
            ).fetchone()
            assert got == (len(rows), len(rows)), form
        kids = sum(len(s.get("children/child") or []) for s in subs["child_health"])
        got = con.execute(
            "select count(*), count(distinct row_id) from raw_kobo.child_health__child"
        ).fetchone()
        assert got == (kids, kids)
        runs = con.execute("select count(distinct load_id) from raw_kobo._sangam_loads").fetchone()[0]
    assert runs >= 4


def test_odk_backlog_in_bounded_runs_loads_every_row(emulators, demo_world: Path, tmp_path: Path) -> None:
    """A first ODK load longer than one run's page bound goes on where the last run stopped (Central's
    skiptoken kept in dlt state), newest first down to the oldest: no row lost, none twice."""
    doc = config_doc(emulators.kobo_url, emulators.odk_url, demo_world / "sheets", tmp_path / "wh.duckdb")
    doc["sources"] = [s for s in doc["sources"] if s["kind"] == "odk"]
    doc["sources"][0]["page_size"] = 25
    cfg_path = tmp_path / "sources.yaml"
    cfg_path.write_text(yaml.safe_dump(doc))
    report = load_sources(load_config(cfg_path), pages_per_run=2)
    assert report.ok, report.summary()
    assert report.results[0].runs > 3
    forms = demo_world / "odk" / "forms" / "1"
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        for form in ("anc_visit", "delivery", "scheme_application"):
            server = _jsonl(forms / form / "Submissions.jsonl")
            got = con.execute(f"select count(*), count(distinct submission_id) from raw_odk.{form}")
            assert got.fetchone() == (len(server), len(server)), form
        stored = {r[0] for r in con.execute("select row_id from raw_odk.delivery__baby").fetchall()}
    deliveries = _jsonl(forms / "delivery" / "Submissions.jsonl")
    alive = {r["__id"] for r in deliveries if not r["__system"]["deletedAt"]}
    babies = _jsonl(forms / "delivery" / "Submissions.babies.baby.jsonl")
    assert {b["__id"] for b in babies if b["__Submissions-id"] in alive} <= stored


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x]
