"""A run killed (SIGKILL) at any moment resumes on the next run: nothing lost, twice or left behind.

`test_kill_at_a_named_point_then_rerun` pauses a real `python -m extract` child at a named point of the dlt
run (tests/extract/kill_child.py), kills it there, lets the world move on a day, and reruns: the tables must
equal those of two uninterrupted runs row for row, and the rerun must say what it finished for the killed run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest
import yaml

from demo.emulators import running
from demo.generator import KOBO_ASSET_UIDS, evolve, generate
from extract.run import load_sources
from sangam.config import load_config, parse_config
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


# (point, what it matches, source killed, whether the killed run left a package for the rerun to finish)
KILL_POINTS = {
    "kobo-paging": ("page", f"{KOBO_ASSET_UIDS['child_health']}/data/", "kobo", False),
    "kobo-normalize": ("normalize", "sangam_kobo", "kobo", True),
    "odk-normalize-renamed": ("normalized", "sangam_odk", "odk", True),
    "odk-load-form_fields-committed": ("committed", "sangam_odk/load/normalized/form_fields.", "odk", True),
    "kobo-load-loads-table-committed": (
        "committed",
        "sangam_kobo/load/normalized/_sangam_loads.",
        "kobo",
        True,
    ),
    # a main table merged without de-duplication (each load holds a submission once): a copy job run twice
    # would store its submissions twice, and later runs re-merge only the submissions that change
    "kobo-load-main-table-committed": (
        "committed",
        "sangam_kobo/load/normalized/child_health.",
        "kobo",
        True,
    ),
    "kobo-merge": ("merge", '"raw_kobo"."child_health" ', "kobo", True),
    "odk-after-load-recorded": ("archive", "sangam_odk", "odk", True),
}
# a few pages per form at 20 rows a page: enough to kill between pages, small enough for seven kills
KILL_WORLD_SUBMISSIONS = 250
DATA_SUFFIXES = (".parquet", ".jsonl", ".gz", ".sql", ".insert_values", ".csv")


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Day 0 and day 1 of a small demo world, the emulators serving a `live` copy, and the tables and row
    counts of two uninterrupted runs (day 0, then day 1) to compare every killed-and-rerun load with."""
    tmp = tmp_path_factory.mktemp("kills")
    day0, day1, live = tmp / "day0", tmp / "day1", tmp / "live"
    generate(day0, submissions=KILL_WORLD_SUBMISSIONS, seed=42)
    shutil.copytree(day0, day1)
    evolve(day1, 7)
    shutil.copytree(day0, live)
    with running(live) as em:
        out = {"day0": day0, "day1": day1, "live": live, "em": em}
        wh = tmp / "baseline" / "wh.duckdb"
        cfg = parse_config(_doc(em, live, wh))
        first = load_sources(cfg, only=["kobo", "odk"])
        assert first.ok, first.summary()
        out["tables0"] = _tables(wh, ["raw_kobo", "raw_odk"])
        _serve(out, day1)
        second = load_sources(cfg, only=["kobo", "odk"])
        assert second.ok, second.summary()
        out["tables1"] = _tables(wh, ["raw_kobo", "raw_odk"])
        out["rows"] = {r.source: (r.rows, second.result(r.source).rows) for r in first.results}
        yield out


def _doc(em, world: Path, wh: Path) -> dict:
    doc = config_doc(em.kobo_url, em.odk_url, world / "sheets", wh)
    doc["sources"][0]["page_size"] = 20  # kobo: child_health in a few pages, to kill between two
    return doc


def _serve(worlds: dict, day: Path) -> None:
    shutil.rmtree(worlds["live"])
    shutil.copytree(day, worlds["live"])
    for url in (worlds["em"].kobo_url, worlds["em"].odk_url):
        httpx.post(f"{url}/_emulator/reload", timeout=30).raise_for_status()


@pytest.mark.parametrize("case", list(KILL_POINTS))
def test_kill_at_a_named_point_then_rerun(case: str, worlds: dict, tmp_path: Path) -> None:
    point, match, source, leaves_package = KILL_POINTS[case]
    _serve(worlds, worlds["day0"])
    wh = tmp_path / "wh.duckdb"
    cfg_path = tmp_path / "sources.yaml"
    cfg_path.write_text(yaml.safe_dump(_doc(worlds["em"], worlds["live"], wh)))
    marker = tmp_path / "paused"
    log_path = tmp_path / "child.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.extract.kill_child", point, match, str(marker),
             "--config", str(cfg_path), "--source", source],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            # small writer buffers: a killed extract has really written some of its files
            env={**os.environ, "SANGAM_HOME": str(REPO), "DATA_WRITER__BUFFER_MAX_ITEMS": "1"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not marker.exists():
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the child never reached " + point
                time.sleep(0.1)
            pipeline_dir = tmp_path / "dlt_pipelines" / "wh" / f"sangam_{source}"
            if point == "page":  # the dead extract's half-written files
                assert _data_files(pipeline_dir / "normalize"), "nothing written before the kill"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    # a package left for the rerun holds day 0; the rerun must also load what day 1 brought
    if leaves_package:
        _serve(worlds, worlds["day1"])
    report = load_sources(load_config(cfg_path), only=[source])
    assert report.ok, report.summary()

    expected = worlds["tables1"] if leaves_package else worlds["tables0"]
    dataset = f"raw_{source}"
    got = _tables(wh, [dataset])
    want = {k: v for k, v in expected.items() if k.startswith(dataset + ".")}
    assert sorted(got) == sorted(want)
    for table in want:
        assert got[table] == want[table], table
    _assert_no_duplicates(wh, dataset)
    leftovers = _data_files(pipeline_dir)
    assert not leftovers, leftovers
    assert not [p for p in (pipeline_dir / "normalize").iterdir() if p.name not in ("extracted", ".version")]

    first, second = worlds["rows"][source]
    result = report.result(source)
    if leaves_package:
        # the killed run's rows are counted and said, and day 1's arrive in the same run
        assert result.resumed_rows == first
        assert result.rows == {t: first.get(t, 0) + second.get(t, 0) for t in first | second}
        assert "interrupted run" in report.summary()
    else:
        assert result.resumed_rows == {}
        assert result.rows == first


def _data_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.name.endswith(DATA_SUFFIXES)]


def _tables(wh: Path, datasets: list[str]) -> dict[str, list[tuple]]:
    """Every raw and metadata table's rows, sorted, without what differs between two equal loads (load ids,
    load times, when a form snapshot or change was taken; a deletion mark reduced to whether there is one)."""
    out = {}
    with duckdb.connect(str(wh), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in "
            "(select unnest(?)) and not starts_with(table_name, '_dlt') and table_name != '_sangam_loads'",
            [datasets],
        ).fetchall()
        for schema, table in tables:
            cols = [
                c[0] for c in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? and "
                    "table_name = ? order by column_name", [schema, table],
                ).fetchall()
                if not c[0].startswith(("_dlt", "_loaded_at")) and c[0] not in ("taken_at", "detected_at")
            ]  # fmt: skip
            select = ", ".join(f'"{c}" is not null' if c == "deleted_at" else f'"{c}"' for c in cols)
            out[f"{schema}.{table}"] = con.execute(
                f'select {select} from "{schema}"."{table}" order by all'
            ).fetchall()
    return out


def _assert_no_duplicates(wh: Path, dataset: str) -> None:
    keys = {
        "_sangam_loads": "load_id, form, table_name",
        "_dlt_loads": "load_id",
        "_dlt_pipeline_state": "_dlt_load_id",
        "_dlt_version": "version_hash",
    }
    with duckdb.connect(str(wh), read_only=True) as con:
        for table, key in keys.items():
            dup = con.execute(
                f'select {key}, count(*) from "{dataset}"."{table}" group by all having count(*) > 1'
            ).fetchall()
            assert not dup, (table, dup)
        staged = con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and not starts_with(table_name, '_dlt')", [f"{dataset}_staging"],
        ).fetchall()  # fmt: skip
        for (table,) in staged:  # no second copy of personal answers stays in staging
            n = con.execute(f'select count(*) from "{dataset}_staging"."{table}"').fetchone()[0]
            assert n == 0, table


def test_a_live_runs_files_are_left_alone_a_dead_ones_removed(demo_world: Path, tmp_path: Path) -> None:
    """The lock tells the files of a live run (kept, and the second run stands back naming its PID) from
    those a killed run left (removed by the next run)."""
    wh = tmp_path / "wh.duckdb"
    cfg = parse_config(config_doc("http://127.0.0.1:9", "http://127.0.0.1:9", demo_world / "sheets", wh))
    first = load_sources(cfg, only=["sheets"])
    assert first.ok, first.summary()
    pipelines = tmp_path / "dlt_pipelines" / "wh"
    half = pipelines / "sangam_sheets/normalize/a1b2c3d4/new/1.2/new_jobs/field_workers.x1.0.parquet"
    half.parent.mkdir(parents=True)
    half.write_bytes(b"PAR1" + bytes(4096))
    hold = (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); print('held', flush=True); "
        "time.sleep(300)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(pipelines / "sangam_sheets.lock")], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        busy = load_sources(cfg, only=["sheets"]).result("sheets")
        assert not busy.ok
        assert f"another extract run (PID {holder.pid})" in (busy.error or "")
        assert half.exists()
    finally:
        holder.kill()
        holder.wait(30)
    report = load_sources(cfg, only=["sheets"])
    assert report.ok, report.summary()
    assert not half.exists()
    assert not (pipelines / "sangam_sheets/normalize/a1b2c3d4").exists()
