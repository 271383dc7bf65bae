"""Readers are never blocked: another process reads serving.duckdb read-only in a loop (as Superset does, a
new connection per query) while several publishes swap the file, and counts zero errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from quality.checks import run_checks
from quality.publish import ServingPaths, publish
from tests.quality.test_gates import sql

READER = r"""
import json, sys, time
from pathlib import Path
import duckdb

serving, stop, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
reads, errors, versions = 0, [], set()
while not stop.exists():
    try:
        con = duckdb.connect(str(serving), read_only=True)
        try:
            versions.add(con.execute("SELECT max(value) FROM mart_hmis_monthly").fetchone()[0])
            con.execute("SELECT count(*) FROM mart_program_indicators_monthly").fetchone()
            con.execute("SELECT count(*) FROM dq_check_history").fetchone()
        finally:
            con.close()
        reads += 1
        if reads == 1:
            ready.touch()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(json.dumps({"reads": reads, "errors": errors[:20], "error_count": len(errors),
                  "versions": sorted(versions)}))
"""


def test_reader_sees_zero_errors_across_publishes(paths: ServingPaths, tmp_path: Path) -> None:
    publish(paths, run_checks(paths.warehouse_path, paths, stage="marts"))
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(paths.serving_path), str(stop), str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert reader.poll() is None, reader.communicate()
            assert time.monotonic() < deadline, "reader never started"
            time.sleep(0.05)
        publishes = 5
        for version in range(1, publishes + 1):
            # A full cycle each time: new data, checks (which also append history), publish.
            sql(paths, f"UPDATE marts.mart_hmis_monthly SET value = {1000 + version}")
            report = run_checks(paths.warehouse_path, paths, stage="marts")
            publish(paths, report)
            time.sleep(0.2)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    outcome = json.loads(out)
    assert outcome["error_count"] == 0, outcome["errors"]
    assert outcome["reads"] > 20
    # The reader went on reading across the swaps: it saw the first file and later versions.
    assert len(outcome["versions"]) >= 3 and max(outcome["versions"]) == 1000 + publishes


def test_the_reader_does_see_errors_when_the_file_is_written_in_place(
    paths: ServingPaths, tmp_path: Path
) -> None:
    """Negative control: writing serving.duckdb in place (what publish avoids) blocks the same reader."""
    import duckdb

    publish(paths, run_checks(paths.warehouse_path, paths, stage="marts"))
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(paths.serving_path), str(stop), str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert reader.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        con = None
        while con is None:  # a writer taking the file (it races the reader's own locks)
            try:
                con = duckdb.connect(str(paths.serving_path))
            except duckdb.IOException:
                assert time.monotonic() < deadline + 30, "the writer never got the lock"
                time.sleep(0.01)
        with con:
            con.execute("UPDATE mart_hmis_monthly SET value = 7")
            time.sleep(1.5)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    outcome = json.loads(out)
    assert outcome["error_count"] > 0
    assert any("lock" in e.lower() for e in outcome["errors"]), outcome["errors"]
