"""The published file opens with Superset's own driver (duckdb-engine in .venv-superset), read-only, as the
bundle's database YAML configures it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from quality.checks import run_checks
from quality.publish import ServingPaths, publish

SUPERSET_PYTHON = Path(__file__).resolve().parents[2] / ".venv-superset" / "bin" / "python"

PROBE = r"""
import json, sys
import duckdb, sqlalchemy
engine = sqlalchemy.create_engine(f"duckdb:///{sys.argv[1]}", connect_args={"read_only": True})
with engine.connect() as con:
    rows = con.execute(sqlalchemy.text(
        "SELECT district_code, sum(registered_pregnant_women) FROM main.mart_program_indicators_monthly "
        "GROUP BY 1 ORDER BY 1")).fetchall()
    history = con.execute(sqlalchemy.text("SELECT count(*) FROM dq_check_history")).scalar()
print(json.dumps({"duckdb": duckdb.__version__, "rows": [list(r) for r in rows], "history": history}))
"""


@pytest.mark.skipif(not SUPERSET_PYTHON.exists(), reason="needs .venv-superset (make superset-setup)")
def test_superset_driver_reads_the_published_file(paths: ServingPaths) -> None:
    publish(paths, run_checks(paths.warehouse_path, paths, stage="marts"))
    out = subprocess.run(
        [str(SUPERSET_PYTHON), "-c", PROBE, str(paths.serving_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    probe = json.loads(out)
    assert probe["duckdb"].startswith("1.5.")
    # 6 months per district; registered = 10 + district index + month index (tests/quality/conftest.py)
    assert probe["rows"] == [["BR_GAY", 6 * 12 + 15], ["MH_NAG", 6 * 11 + 15], ["MH_PUN", 6 * 10 + 15]]
    assert probe["history"] > 0
