"""A reader on warehouse.duckdb (an analyst's client in another process) no longer fails the pipeline: a
writer waits for the lock, and when the reader stays too long the error names the file, the PID and what to
do, and nothing already loaded is lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from extract.run import run_source
from sangam.config import parse_config
from sangam.warehouse_lock import WarehouseLocked, connect, lock_holder
from tests.extract.conftest import config_doc

READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("select 1").fetchall()
print("open", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold_read_only(path: Path, seconds: float) -> subprocess.Popen:
    """Another process with a read-only connection to `path` for `seconds` (returns once it is open)."""
    proc = subprocess.Popen([sys.executable, "-c", READER, str(path), str(seconds)], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "open"
    return proc


@pytest.fixture
def sheets(demo_world: Path, tmp_path: Path):
    folder = tmp_path / "sheets"
    shutil.copytree(demo_world / "sheets", folder)
    doc = config_doc("http://127.0.0.1:9", "http://127.0.0.1:9", folder, tmp_path / "wh.duckdb")
    return folder, doc


def _count(wh: Path, table: str) -> int:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(f"select count(*) from {table}").fetchone()[0]


def test_a_reader_that_lets_go_within_the_wait_does_not_fail_the_load(sheets) -> None:
    folder, doc = sheets
    doc["warehouse"]["lock_wait_seconds"] = 30
    config = parse_config(doc)
    wh = config.warehouse.path
    first = run_source(config.source("sheets"), config)
    assert first.ok, first.error
    rows = _count(wh, "raw_sheets.field_workers")
    (folder / "field_workers.xlsx").touch()  # changed: the next run reloads it
    os.utime(folder / "field_workers.xlsx", (time.time() + 5, time.time() + 5))
    reader = hold_read_only(wh, 4)
    try:
        t0 = time.monotonic()
        second = run_source(config.source("sheets"), config)
        waited = time.monotonic() - t0
    finally:
        reader.wait(timeout=30)
    assert second.ok, second.error
    assert waited >= 2  # it did wait for the reader
    assert _count(wh, "raw_sheets.field_workers") == rows


def test_a_reader_that_stays_gives_one_clear_error_and_loses_nothing(sheets) -> None:
    folder, doc = sheets
    doc["warehouse"]["lock_wait_seconds"] = 2
    config = parse_config(doc)
    wh = config.warehouse.path
    assert run_source(config.source("sheets"), config).ok
    rows = _count(wh, "raw_sheets.field_workers")
    os.utime(folder / "field_workers.xlsx", (time.time() + 5, time.time() + 5))
    reader = hold_read_only(wh, 60)
    try:
        result = run_source(config.source("sheets"), config)
    finally:
        reader.kill()
        reader.wait()
    assert not result.ok
    assert str(wh) in result.error and f"process {reader.pid}" in result.error
    assert "serving.duckdb" in result.error and "credentials" not in result.error
    assert "internet" not in result.error
    assert _count(wh, "raw_sheets.field_workers") == rows
    # the next run, with the reader gone, loads as usual
    assert run_source(config.source("sheets"), config).ok
    assert _count(wh, "raw_sheets.field_workers") == rows


def test_connect_waits_then_names_the_holder(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    duckdb.connect(str(wh)).close()
    reader = hold_read_only(wh, 60)
    try:
        t0 = time.monotonic()
        with pytest.raises(WarehouseLocked) as err:
            connect(wh, wait_s=1.5)
        assert 1.5 <= time.monotonic() - t0 < 10
    finally:
        reader.kill()
        reader.wait()
    assert err.value.pid == reader.pid and err.value.path == wh
    connect(wh, wait_s=5).close()  # free again


def test_lock_holder_parses_duckdbs_message() -> None:
    message = (
        'IO Error: Could not set lock on file "/srv/warehouse.duckdb": Conflicting lock is held in '
        "/usr/bin/python3.11 (PID 4242). However, you would be able to open this database in read-only mode"
    )
    assert lock_holder(message) == (4242, "/usr/bin/python3.11")
    assert lock_holder("some other error") == (None, None)
