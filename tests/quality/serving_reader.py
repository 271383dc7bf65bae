"""A reader of serving.duckdb in another process, as Superset reads it: read-only, a new connection per query,
in a loop until told to stop. Shared by the publication tests (test_concurrent_reader, test_pipeline_e2e)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

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
# What the reader records as the version of the file it read (a value that changes with each publication).
HMIS_VERSION = "max(value) FROM mart_hmis_monthly"


class ServingReader:
    """`with ServingReader(serving, work) as reader:` starts the reader and waits (up to 60 s, until
    `reader.deadline`) for its first successful read; leaving the block stops it. Then `reader.returncode`,
    `reader.err` and `reader.outcome` (reads, errors, error_count, versions) tell what it saw."""

    def __init__(self, serving: Path, work: Path, version_sql: str = HMIS_VERSION) -> None:
        self.serving, self.version_sql = serving, version_sql
        self.stop, self.ready = work / "stop", work / "ready"
        self.out = self.err = ""
        self._stopped = False

    def __enter__(self) -> ServingReader:
        source = READER.replace(HMIS_VERSION, self.version_sql)
        self.process = subprocess.Popen(
            [sys.executable, "-c", source, str(self.serving), str(self.stop), str(self.ready)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.deadline = time.monotonic() + 60
        try:
            while not self.ready.exists():
                if self.process.poll() is not None:
                    self.__exit__()
                    raise AssertionError(f"the reader exited: {self.out}{self.err}")
                assert time.monotonic() < self.deadline, "reader never started"
                time.sleep(0.05)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.touch()
        if not self._stopped:
            self._stopped = True
            self.out, self.err = self.process.communicate(timeout=60)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def outcome(self) -> dict:
        return json.loads(self.out)
