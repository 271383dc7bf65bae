"""End to end on the 1000-submission demo world: emulators → extract → raw checks → dbt build → mart checks
→ publish. The checks must find exactly the mess the generator injected (ground_truth/world.json), the flags
must reach mart_field_worker_weekly, and serving.duckdb must hold no personal value from the raw data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest

from quality.checks import CheckReport, run_checks
from quality.publish import publish
from quality.suites import serving_tables
from tests.conftest import REPO, sources_doc
from tests.quality.pii_scan import personal_values_from_raw, scan
from tests.quality.serving_reader import ServingReader
from transform.dbt_runner import build

# Extract and a full dbt build on the demo world take over a minute before the first test runs.
pytestmark = pytest.mark.slow


def pipeline_config(demo_world: Path, emulators, warehouse: Path):
    """The repo's sources.yaml pointed at the emulators, the demo world's KoBo assets and a temp warehouse."""
    from sangam.config import parse_config

    urls = (emulators.kobo_url, emulators.odk_url)
    doc = sources_doc(*urls, demo_world / "sheets", warehouse, world=demo_world)
    return parse_config(doc, home=REPO)


class Pipeline:
    def __init__(self, config, warehouse: Path, work: Path):
        self.config, self.warehouse, self.work = config, warehouse, work
        self.serving = warehouse.parent / "serving.duckdb"

    def cycle(self) -> tuple[CheckReport, CheckReport]:
        """Checks, dbt and publication, as the pipeline runs them after an extract."""
        raw = run_checks(self.warehouse, self.config, stage="raw")
        result = build(self.warehouse, target_path=self.work / "target")
        assert result.success, result.failures
        marts = run_checks(self.warehouse, self.config, stage="marts")
        publish(self.config, [raw, marts])
        return raw, marts


@pytest.fixture(scope="module")
def pipeline(demo_world: Path, emulators, tmp_path_factory: pytest.TempPathFactory):
    from extract.run import load_sources

    work = tmp_path_factory.mktemp("quality_e2e")
    (work / "warehouse").mkdir()
    warehouse = work / "warehouse" / "warehouse.duckdb"
    config = pipeline_config(demo_world, emulators, warehouse)
    report = load_sources(config, warehouse_path=warehouse, pipelines_dir=work / "pipelines")
    assert report.ok, report.summary()
    p = Pipeline(config, warehouse, work)
    p.reports = p.cycle()
    return p


def by_kind(report: CheckReport, kind: str) -> dict[str, object]:
    return {r.table.split(".")[1]: r for r in report.results if r.kind == kind and not r.passed}


def test_real_pipeline_publishes_and_finds_the_injected_mess(pipeline: Pipeline, demo_world: Path) -> None:
    raw, marts = pipeline.reports
    assert raw.passed and marts.passed, raw.summary() + marts.summary()
    mess = json.loads((demo_world / "ground_truth" / "world.json").read_text())["mess"]

    gps = [s["submission_id"] for r in by_kind(raw, "gps_in_area").values() for s in r.failing_sample]
    assert sorted(gps) == sorted(m["submission_id"] for m in mess["gps_outside_india"])

    failed = [r for r in raw.results if r.kind == "plausible_range" and not r.passed]
    ranges = {
        (r.table.split(".")[1], r.name.split(".")[1], s["submission_id"])
        for r in failed
        for s in r.failing_sample
    }
    expected = {
        (m["form"] + ("__child" if "child_id" in m else ""), m["field"], m["submission_id"])
        for m in mess["out_of_range"]
    }
    assert ranges == expected

    with duckdb.connect(str(pipeline.warehouse), read_only=True) as con:
        flagged = con.execute(
            "SELECT form, submission_id FROM dq.submission_flags WHERE flag = 'natural_key_unique'"
        ).fetchall()
        history = con.execute("SELECT count(DISTINCT run_id), count(*) FROM dq.check_results").fetchone()
    assert sorted(flagged) == sorted((m["form"], m["submission_id"]) for m in mess["duplicates"])
    assert history == (2, len(raw.results) + len(marts.results))

    with duckdb.connect(str(pipeline.serving), read_only=True) as con:
        served = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        months = con.execute("SELECT count(DISTINCT month) FROM mart_program_indicators_monthly").fetchone()[
            0
        ]
    assert served == {t["name"] for t in serving_tables()}
    assert months >= 12


def test_no_personal_data_in_the_published_file(pipeline: Pipeline) -> None:
    personal = set(pipeline.config.personal_fields) | {"worker_name"}
    known = personal_values_from_raw(pipeline.warehouse, personal)
    assert len(known.texts) > 500 and len(known.coordinates) > 500  # the raw data does hold personal values
    assert scan(pipeline.serving, personal, known) == []


def test_submission_flags_reach_the_field_worker_mart(pipeline: Pipeline) -> None:
    """mart_field_worker_weekly's dq_flags count the quality step's flags (the dq.submission_flags hook)."""
    query = "SELECT sum(dq_flags), avg(dq_score) FROM marts.mart_field_worker_weekly"
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as con:
        with_flags = con.execute(query).fetchone()
        ours = con.execute(
            "SELECT count(*) FROM dq.submission_flags f JOIN intermediate.int_submissions s "
            "USING (source, form, submission_id)"
        ).fetchone()[0]
    assert ours > 0
    with duckdb.connect(str(pipeline.warehouse)) as con:
        con.execute("ALTER TABLE dq.submission_flags RENAME TO submission_flags_saved")
    try:
        result = build(pipeline.warehouse, select="int_submissions+", target_path=pipeline.work / "target")
        assert result.success, result.failures
        with duckdb.connect(str(pipeline.warehouse), read_only=True) as con:
            without = con.execute(query).fetchone()
    finally:
        with duckdb.connect(str(pipeline.warehouse)) as con:
            con.execute("ALTER TABLE dq.submission_flags_saved RENAME TO submission_flags")
        build(pipeline.warehouse, select="int_submissions+", target_path=pipeline.work / "target")
    assert with_flags[0] - without[0] == ours
    assert with_flags[1] < without[1]


def test_reader_never_blocked_during_full_pipeline_runs(pipeline: Pipeline, tmp_path: Path) -> None:
    # The history grows with every publication: the reader records which file it read.
    with ServingReader(pipeline.serving, tmp_path, "count(*) FROM dq_check_history") as reader:
        for _ in range(2):
            pipeline.cycle()
        time.sleep(1.0)  # let the reader open the last file too
    outcome = reader.outcome
    assert reader.returncode == 0, reader.err
    assert outcome["error_count"] == 0, outcome["errors"]
    assert outcome["reads"] > 50 and len(outcome["versions"]) >= 3  # it read the old and both new files
