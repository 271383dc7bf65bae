"""Fixtures of the transform tests: a raw warehouse built by SQL (raw_fixture.py) and dbt built on it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.transform import raw_fixture
from tests.transform.demo_load import demo_config, load_and_build
from transform.dbt_runner import build

# WHO 2006 z-score reference points for the z-score test: (child_id, sex, age_days, weight_kg, height_cm,
# indicator, expected z). Weights and lengths are the SD columns of WHO's published "expanded" z-score
# tables (wfa/lhfa by day, wfl/wfh by 0.1 cm: e.g. wfa_boys_z_exp day 0: SD2neg 2.459, SD3 5.031), not
# values derived from the seeds. The ±3.5/4 points test WHO's restricted rule beyond ±3 SD:
# z = 3 + (x − SD3)/(SD3 − SD2) and z = −3 + (x − SD3neg)/(SD2neg − SD3neg).
WHO_POINTS = [
    ("z01", "male", 0, 2.459, None, "waz", -2.0),
    ("z02", "male", 0, 5.031, None, "waz", 3.0),
    ("z03", "female", 365, 7.925, None, "waz", -1.0),
    ("z04", "male", 1000, 9.682, None, "waz", -3.0),
    ("z05", "female", 1500, 21.872, None, "waz", 2.0),
    ("z06", "male", 730, 17.128 + (17.128 - 15.272), None, "waz", 4.0),
    ("z07", "male", 730, 8.63 - 0.5 * (9.67 - 8.63), None, "waz", -3.5),
    ("z08", "female", 200, None, 62.045, "haz", -2.0),
    ("z09", "male", 1500, None, 108.288, "haz", 1.0),
    ("z10", "female", 200, None, 73.516, "haz", 3.0),
    ("z11", "male", 300, 5.094, 60.0, "whz", -2.0),
    ("z12", "female", 400, 13.523, 80.5, "whz", 3.0),
    ("z13", "male", 1000, 14.161, 100.0, "whz", -1.0),
    ("z14", "female", 1500, 22.776, 110.3, "whz", 2.0),
    ("z15", "male", 1000, 19.883 + 0.5 * (19.883 - 18.195), 100.0, "whz", 3.5),
]
ZSCORE_VISIT = "2025-06-30"


@pytest.fixture(scope="session")
def fixture_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw fixture plus the WHO reference children, after a successful `dbt build`."""
    from datetime import date, timedelta

    work = tmp_path_factory.mktemp("transform_fixture")
    path = raw_fixture.build(work / "warehouse.duckdb")
    visit = date.fromisoformat(ZSCORE_VISIT)
    kids = [
        (cid, sex, (visit - timedelta(days=age)).isoformat(), weight, height, "bcg")
        for cid, sex, age, weight, height, _, _ in WHO_POINTS
    ]
    raw_fixture.add_child_visit(path, "zscores", ZSCORE_VISIT, kids)
    # the quality step's hook: a flag on h3 (W02's only submission in the week of 17 March)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema dq")
        con.execute("""create table dq.submission_flags (source VARCHAR, form VARCHAR, submission_id VARCHAR,
                       flag VARCHAR, flagged_at TIMESTAMP)""")
        flag = "('kobo', 'child_health', 'h3', 'natural_key_unique', '2025-04-01 00:00:00')"
        con.execute(f"insert into dq.submission_flags values {flag}")
    result = build(path, target_path=work / "target")
    assert result.success, result.failures
    return path


@pytest.fixture()
def query(fixture_warehouse: Path):
    con = duckdb.connect(str(fixture_warehouse), read_only=True)

    def run(sql: str, params: list | None = None) -> list[tuple]:
        return con.execute(sql, params or []).fetchall()

    yield run
    con.close()


@pytest.fixture(scope="session")
def demo_warehouse(demo_world: Path, emulators, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 1000-submission demo world extracted from the emulators and built by dbt (read-only for tests)."""
    work = tmp_path_factory.mktemp("transform_demo")
    warehouse = work / "warehouse.duckdb"
    return load_and_build(demo_config(demo_world, emulators, warehouse), warehouse, work)
