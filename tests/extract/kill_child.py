"""`python -m tests.extract.kill_child POINT MATCH MARKER [extract args]`: `python -m extract`, paused for
ever at a named point of the dlt run, so that a test can SIGKILL it exactly there (test code only).

POINT (MATCH picks the pipeline, table or request):
  page        before the 3rd server request whose path contains MATCH (earlier forms are extracted)
  normalize   before normalize renames a finished package of the pipeline dir MATCH into load/normalized
  normalized  after that rename, before it deletes the extracted copy
  committed   after the destination committed a load job whose path contains MATCH, before dlt notes it
  merge       inside the merge transaction whose SQL contains MATCH, after its statements ran
  archive     after dlt recorded the load in `_dlt_loads`, before it archived the package (pipeline MATCH)
MARKER is written (with the PID) once the child is paused there.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path


def main() -> int:
    point, match, marker = sys.argv[1:4]
    sys.argv = ["python -m extract", *sys.argv[4:]]
    install(point, match, Path(marker))
    from extract.__main__ import main as extract_main

    return extract_main(sys.argv[1:])


def pause(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    threading.Event().wait()  # until killed


def install(point: str, match: str, marker: Path) -> None:
    if point == "page":
        from extract.http import HttpClient

        original = HttpClient.get_bytes
        seen = [0]

        def get_bytes(self, path, *args, **kwargs):
            if match in path:
                seen[0] += 1
                if seen[0] == 3:
                    time.sleep(0.5)  # let the extract thread hand the earlier items to dlt's writers
                    pause(marker)
            return original(self, path, *args, **kwargs)

        HttpClient.get_bytes = get_bytes
    elif point in ("normalize", "normalized"):
        from dlt.common.storages.load_storage import LoadStorage

        commit = LoadStorage.commit_new_load_package

        def commit_new_load_package(self, load_id):
            mine = match in self.storage.storage_path
            if mine and point == "normalize":
                pause(marker)
            commit(self, load_id)
            if mine:
                pause(marker)

        LoadStorage.commit_new_load_package = commit_new_load_package
    elif point == "committed":
        from dlt.common.storages.load_package import PackageStorage

        save = PackageStorage.save_pending_transition

        def save_pending_transition(self, load_id, file_name, *args, **kwargs):
            if match in os.path.join(self.storage.storage_path, file_name):
                pause(marker)
            return save(self, load_id, file_name, *args, **kwargs)

        PackageStorage.save_pending_transition = save_pending_transition
    elif point == "merge":
        from dlt.destinations.sql_client import SqlClientBase

        many = SqlClientBase.execute_many

        def execute_many(self, statements, *args, **kwargs):
            out = many(self, statements, *args, **kwargs)
            text = "\n".join(statements)
            if match in text and "DELETE" in text and self.native_connection is not None:
                pause(marker)  # the transaction is open: a kill now must roll it back
            return out

        SqlClientBase.execute_many = execute_many
    elif point == "archive":
        from dlt.common.storages.load_storage import LoadStorage

        complete = LoadStorage.complete_load_package

        def complete_load_package(self, load_id, aborted):
            if match in self.storage.storage_path:
                pause(marker)
            return complete(self, load_id, aborted)

        LoadStorage.complete_load_package = complete_load_package
    else:
        raise SystemExit(f"unknown pause point {point!r}")


if __name__ == "__main__":
    raise SystemExit(main())
