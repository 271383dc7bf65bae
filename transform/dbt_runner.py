"""Run dbt on Sangam's project from Python: `build(warehouse_path, select=None)`.

Wraps dbt's programmatic entry point (dbtRunner) with the in-repo profile, so callers (tests, bench, the
pipeline) never depend on ~/.dbt or on the working directory. The orchestration step uses dagster-dbt with
PROJECT_DIR and PROFILES_DIR directly; `dbt parse` needs no warehouse file.
"""

from __future__ import annotations

import gc
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from transform.dbt_vars import default_vars

PROJECT_DIR = Path(__file__).resolve().parent
PROFILES_DIR = PROJECT_DIR
log = logging.getLogger("sangam.transform")


class DbtError(RuntimeError):
    """dbt could not run, or a model or test failed."""


@dataclass
class DbtResult:
    success: bool
    command: list[str]
    # node unique_id → status (success, error, pass, fail, warn, skipped)
    statuses: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def raise_for_failure(self) -> DbtResult:
        if not self.success:
            raise DbtError(f"dbt {' '.join(self.command)} failed: " + "; ".join(self.failures[:20]))
        return self


@contextmanager
def env_overrides(overrides: dict[str, str]) -> Iterator[None]:
    """Set these environment variables for the block, then restore each (or remove it if it was unset):
    dbt's profile reads the warehouse path from the environment (SANGAM_WAREHOUSE)."""
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a run.

    dbt-duckdb caches one environment per process; left open it holds the warehouse file, so the next
    reader in this process (quality checks, publish, tests) fails with "different configuration", and
    other processes cannot take the write lock.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager
    except ImportError:  # dbt-duckdb missing: nothing was opened
        return
    with manager._LOCK:
        env, manager._ENV = manager._ENV, None
    if env is not None:
        try:
            env.close()
        except Exception as exc:  # closing is best effort; the handle is dropped either way
            log.debug("closing dbt-duckdb environment: %s", exc)
    gc.collect()


def run(
    args: Sequence[str],
    warehouse_path: Path | str | None = None,
    dbt_vars: dict | None = None,
    target_path: Path | str | None = None,
) -> DbtResult:
    """Run one dbt command (e.g. ["build", "--select", "marts"]) against `warehouse_path`.

    `target_path` keeps dbt's artifacts and logs out of transform/target (tests, bench: runs that may
    overlap with another process using the project).
    """
    from dbt.cli.main import dbtRunner

    env: dict[str, str] = {}
    if warehouse_path is not None:
        env["SANGAM_WAREHOUSE"] = str(Path(warehouse_path).resolve())
    merged_vars = {**default_vars(), **(dbt_vars or {})}
    command = [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROFILES_DIR)]
    if target_path is not None:
        command += ["--target-path", str(target_path), "--log-path", str(Path(target_path) / "logs")]
    if merged_vars and args and args[0] not in ("deps", "clean"):
        command += ["--vars", json.dumps(merged_vars)]
    if warehouse_path is not None and args and args[0] not in ("parse", "deps", "clean"):
        from sangam.warehouse_lock import wait_until_writable

        wait_until_writable(warehouse_path)  # a reader in another process: wait, or one clear error
    with env_overrides(env):
        try:
            res = dbtRunner().invoke(command)
        finally:
            _release_warehouse()
    result = DbtResult(success=bool(res.success), command=list(args))
    if res.exception is not None:
        result.failures.append(f"{type(res.exception).__name__}: {res.exception}")
    for node in getattr(res.result, "results", None) or []:
        status = str(getattr(node.status, "value", node.status))
        uid = node.node.unique_id
        result.statuses[uid] = status
        result.elapsed_s += float(getattr(node, "execution_time", 0.0) or 0.0)
        if status in ("error", "fail", "runtime error"):
            result.failures.append(f"{uid}: {status}: {(node.message or '').strip()[:500]}")
    return result


def build(
    warehouse_path: Path | str,
    select: str | Sequence[str] | None = None,
    full_refresh: bool = False,
    **kwargs,
) -> DbtResult:
    """`dbt build` (seeds, models, tests) on the given warehouse; `select` narrows it (dbt syntax).

    Staging models are incremental (only submissions loaded since the last build); `full_refresh=True`
    rebuilds them from the raw tables."""
    args = ["build", *(["--full-refresh"] if full_refresh else [])]
    if select:
        args += ["--select", *([select] if isinstance(select, str) else list(select))]
    return run(args, warehouse_path, **kwargs)


def parse() -> DbtResult:
    """`dbt parse`: writes target/manifest.json; needs no warehouse file."""
    return run(["parse"])
