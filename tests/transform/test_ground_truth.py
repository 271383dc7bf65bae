"""End to end on the 1000-submission demo world: generator → emulators → extract → dbt build, and the
marts equal the generator's ground truth (ground_truth/*.csv) cell for cell."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from tests.transform.demo_load import demo_config, load_and_build

CASES = [
    ("program_indicators_monthly.csv", "mart_program_indicators_monthly", ["district_code", "month"]),
    ("scheme_applications_monthly.csv", "mart_scheme_applications", ["scheme", "district_code", "month"]),
]


def _assert_marts_equal_truth(
    world: Path, warehouse: Path, truth_file: str, mart: str, key: list[str]
) -> None:
    with (world / "ground_truth" / truth_file).open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns = list(reader.fieldnames or [])
        expected = {tuple(row[k] for k in key): {c: _cell(row[c]) for c in columns} for row in reader}
    assert expected, f"{truth_file} is empty"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cur = con.execute(f"select {', '.join(columns)} from marts.{mart}")
        got = {}
        for values in cur.fetchall():
            row = {c: _cell(v) for c, v in zip(columns, values, strict=True)}
            got[tuple(row[k] for k in key)] = row
    assert sorted(got) == sorted(expected), f"{mart}: rows (keys) differ from {truth_file}"
    diffs = [
        f"{k} {c}: mart {got[k][c]!r} != truth {expected[k][c]!r}"
        for k in sorted(expected)
        for c in columns
        if got[k][c] != expected[k][c]
    ]
    assert not diffs, f"{mart}: {len(diffs)} cells differ, e.g.\n" + "\n".join(diffs[:25])


def _cell(value) -> str:
    """One cell as the ground truth CSV writes it (pandas, float_format %.10g; empty for null)."""
    if value is None or value == "":
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    return f"{value:.10g}"


@pytest.mark.parametrize(("truth_file", "mart", "key"), CASES)
def test_mart_equals_ground_truth(demo_world: Path, demo_warehouse: Path, truth_file: str, mart: str, key):
    _assert_marts_equal_truth(demo_world, demo_warehouse, truth_file, mart, key)


@pytest.mark.slow
def test_marts_follow_the_world_a_day_later(demo_world: Path, tmp_path: Path):
    """New submissions, edits, KoBo hard deletes and ODK soft deletes reach the marts after an incremental
    extract and a rebuild: the marts equal the evolved world's ground truth."""
    import shutil

    import httpx

    from demo.emulators import running
    from demo.generator import evolve

    world = tmp_path / "world"
    shutil.copytree(demo_world, world)
    warehouse = tmp_path / "warehouse.duckdb"
    with running(world) as servers:
        # KoBo deletes are hard and edits keep _submission_time: only the extractor's reconciliation pass
        # sees them, which by default runs once a day; the day passes instantly here
        config = demo_config(world, servers, warehouse, reconcile_every_hours=0)
        for day in (0, 1):
            if day:
                evolve(world, seed=4242)
                for url in (servers.kobo_url, servers.odk_url):
                    httpx.post(f"{url}/_emulator/reload", timeout=30).raise_for_status()
            _load_build_and_compare(config, world, warehouse, tmp_path)


@pytest.mark.slow
def test_sparse_world_marts_equal_dense_ground_truth(tmp_path: Path):
    """A small world leaves some districts without activity in some months: the mart still has every district
    in every month of the range (contract §4 "Month range"), with the same zero rows as the ground truth."""
    from demo.emulators import running
    from demo.generator import generate

    world = tmp_path / "sparse"
    generate(world, submissions=300, seed=42)
    with (world / "ground_truth" / "program_indicators_monthly.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    idle = [r for r in rows if r["home_visits"] == "0" and r["registered_pregnant_women"] == "0"]
    assert idle, "the test needs district-months without activity"
    warehouse = tmp_path / "warehouse.duckdb"
    with running(world) as servers:
        _load_build_and_compare(demo_config(world, servers, warehouse), world, warehouse, tmp_path)


def _load_build_and_compare(config, world: Path, warehouse: Path, tmp_path: Path) -> None:
    """Load every source, build the dbt project, and check each mart against the world's ground truth."""
    load_and_build(config, warehouse, tmp_path)
    for truth_file, mart, key in CASES:
        _assert_marts_equal_truth(world, warehouse, truth_file, mart, key)
