"""Readers are never blocked: another process reads serving.duckdb read-only in a loop (as Superset does, a
new connection per query) while several publishes swap the file, and counts zero errors."""

from __future__ import annotations

import time
from pathlib import Path

from quality.checks import run_checks
from quality.publish import ServingPaths, publish
from tests.quality.serving_reader import ServingReader
from tests.quality.test_gates import sql


def test_reader_sees_zero_errors_across_publishes(paths: ServingPaths, tmp_path: Path) -> None:
    publish(paths, run_checks(paths.warehouse_path, paths, stage="marts"))
    with ServingReader(paths.serving_path, tmp_path) as reader:
        publishes = 5
        for version in range(1, publishes + 1):
            # A full cycle each time: new data, checks (which also append history), publish.
            sql(paths, f"UPDATE marts.mart_hmis_monthly SET value = {1000 + version}")
            report = run_checks(paths.warehouse_path, paths, stage="marts")
            publish(paths, report)
            time.sleep(0.2)
    assert reader.returncode == 0, reader.err
    outcome = reader.outcome
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
    with ServingReader(paths.serving_path, tmp_path) as reader:
        con = None
        while con is None:  # a writer taking the file (it races the reader's own locks)
            try:
                con = duckdb.connect(str(paths.serving_path))
            except duckdb.IOException:
                assert time.monotonic() < reader.deadline + 30, "the writer never got the lock"
                time.sleep(0.01)
        with con:
            con.execute("UPDATE mart_hmis_monthly SET value = 7")
            time.sleep(1.5)
    outcome = reader.outcome
    assert outcome["error_count"] > 0
    assert any("lock" in e.lower() for e in outcome["errors"]), outcome["errors"]
