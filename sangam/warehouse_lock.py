"""Waiting for warehouse.duckdb's write lock, and saying clearly who holds it when the wait runs out.

DuckDB lets one process write a file, and none while another process has it open, even read-only: an analyst's
notebook or SQL client left open on warehouse.duckdb makes every writer (dlt loads, dbt, the quality checks)
fail with `IO Error: Could not set lock on file ...: Conflicting lock is held in <program> (PID n)`, which dlt
wraps as a credentials / internet connection problem. Every step that opens the warehouse for writing goes
through `connect` (or `retry_while_locked` around a library that connects itself), which retries with backoff
for `warehouse.lock_wait_seconds` (sources.yaml, default 60 s; env SANGAM_LOCK_WAIT_S overrides it) and then
raises `WarehouseLocked` naming the file, the PID and what to do. Nothing is written before the lock is held,
so a run that gives up has changed nothing.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

log = logging.getLogger("sangam.warehouse")

DEFAULT_WAIT_S = 60.0
WAIT_ENV = "SANGAM_LOCK_WAIT_S"
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 5.0
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
T = TypeVar("T")


class WarehouseLocked(RuntimeError):
    """Another process kept the warehouse file open for longer than the wait."""

    def __init__(self, path: Path | str, pid: int | None, program: str | None, waited_s: float) -> None:
        self.path, self.pid, self.program, self.waited_s = Path(path), pid, program, waited_s
        holder = (
            f"process {pid}" + (f" ({Path(program).name})" if program else "") if pid else "another process"
        )
        super().__init__(
            f"{self.path} is held open by {holder}; waited {waited_s:.0f}s for it to let go. Close that "
            "connection (an analyst's DuckDB client or notebook) and run again; to query without blocking "
            "the pipeline, read serving.duckdb (the published marts) or a copy of the warehouse "
            f"(see README, 'Querying without blocking the pipeline'). Wait longer with "
            f"warehouse.lock_wait_seconds in sources.yaml."
        )


def lock_holder(message: str) -> tuple[int | None, str | None]:
    """(PID, program) of the lock holder named in DuckDB's error message, or (None, None)."""
    m = _HOLDER.search(message)
    return (int(m["pid"]), m["program"]) if m else (None, None)


def is_lock_conflict(exc: BaseException) -> bool:
    """True when `exc`, or an error it was raised from (dlt wraps DuckDB's), is DuckDB's lock conflict."""
    return lock_conflict_message(exc) is not None


def lock_conflict_message(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    for _ in range(20):
        if seen is None:
            return None
        if "Could not set lock on file" in str(seen):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def wait_seconds(configured: float | None = None) -> float:
    """The lock wait: env SANGAM_LOCK_WAIT_S, else the configured value, else 60 s."""
    env = os.environ.get(WAIT_ENV)
    if env:
        try:
            return max(0.0, float(env))
        except ValueError:
            log.warning("%s=%r is not a number of seconds: using %gs", WAIT_ENV, env, DEFAULT_WAIT_S)
    return DEFAULT_WAIT_S if configured is None else max(0.0, float(configured))


def retry_while_locked(attempt: Callable[[], T], path: Path | str, wait_s: float | None = None) -> T:
    """`attempt()`, again with backoff while it fails on the warehouse lock, up to `wait_s` seconds; then
    `WarehouseLocked`. Any other error is raised at once."""
    budget = wait_seconds(wait_s)
    started = time.monotonic()
    delay = FIRST_DELAY_S
    announced = False
    while True:
        try:
            return attempt()
        except Exception as exc:
            message = lock_conflict_message(exc)
            if message is None:
                raise
            waited = time.monotonic() - started
            pid, program = lock_holder(message)
            if waited >= budget:
                error = WarehouseLocked(path, pid, program, waited)
                log.error("%s", error)
                raise error from exc
            if not announced:
                log.warning(
                    "%s is held open by process %s: waiting up to %gs for it", path, pid or "?", budget
                )
                announced = True
            time.sleep(min(delay, max(0.0, budget - waited)))
            delay = min(delay * 2, MAX_DELAY_S)


def connect(path: Path | str, wait_s: float | None = None, **kwargs) -> duckdb.DuckDBPyConnection:
    """duckdb.connect(path, **kwargs) for a writer, waiting for the lock (see the module doc)."""
    return retry_while_locked(lambda: duckdb.connect(str(path), **kwargs), path, wait_s)


def wait_until_writable(path: Path | str, wait_s: float | None = None) -> None:
    """Block until this process could open the warehouse for writing (for a tool that opens it itself, such
    as dbt in its own process); a missing file is writable."""
    if Path(path).exists():
        connect(path, wait_s).close()
