"""A sensor per spreadsheet source: a new or changed file in its folder starts that source's job.

The cursor maps each watched file (relative path) to [mtime_ns, size, sha256]. A file is hashed only when its
mtime or size moved, and counts as changed only when its content hash did, so touching a file (or copying the
same roster again) starts nothing, while a replaced file with the same size is still caught. On the first tick
(no cursor yet) only files modified after the source's last load count, so a fresh daemon does not reload
what `make run` has just loaded.
"""

import hashlib
import json
from pathlib import Path

import dagster as dg

from orchestration.jobs import source_job_name
from sangam.config import SangamConfig, SpreadsheetSource

SENSOR_INTERVAL_S = 60


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def watched_files(source: SpreadsheetSource) -> list[Path]:
    """The files the source's patterns match (what the extractor would read), skipping editors' lock files."""
    found: set[Path] = set()
    for spec in source.files:
        for path in source.path.glob(spec.pattern):
            if path.is_file() and not path.name.startswith(("~$", ".~lock", ".")):
                found.add(path)
    return sorted(found)


def scan(source: SpreadsheetSource, previous: dict[str, list]) -> tuple[dict[str, list], list[str]]:
    """The folder's new state and the files new or changed since `previous` (relative paths)."""
    state: dict[str, list] = {}
    changed: list[str] = []
    for path in watched_files(source):
        rel = path.relative_to(source.path).as_posix()
        st = path.stat()
        old = previous.get(rel)
        if old and old[0] == st.st_mtime_ns and old[1] == st.st_size:
            state[rel] = old
            continue
        digest = _sha256(path)
        state[rel] = [st.st_mtime_ns, st.st_size, digest]
        if not old or old[2] != digest:
            changed.append(rel)
    return state, changed


def last_loaded(instance: dg.DagsterInstance | None, source: SpreadsheetSource) -> float | None:
    """When every table of the source was last materialized (the oldest of them), or None if one never was."""
    if instance is None:
        return None
    times = []
    for spec in source.files:
        event = instance.get_latest_materialization_event(dg.AssetKey([source.dataset, spec.table]))
        if event is None:
            return None
        times.append(event.timestamp)
    return min(times) if times else None


def spreadsheet_sensor(source: SpreadsheetSource) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{source.name}_folder_sensor",
        job_name=source_job_name(source.name),
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Runs {source_job_name(source.name)} when a file in {source.path} is added or changed.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        if not source.path.is_dir():
            return dg.SkipReason(f"{source.path} does not exist (sources.yaml {source.name}.path)")
        previous = json.loads(context.cursor) if context.cursor else {}
        state, changed = scan(source, previous)
        if context.cursor is None and changed:
            # First tick (a new daemon): only files modified since the source's last load are news.
            loaded_at = last_loaded(context.instance, source)
            if loaded_at is not None:
                changed = [rel for rel in changed if state[rel][0] / 1e9 > loaded_at]
        cursor = json.dumps(state, sort_keys=True)
        if not changed:
            return dg.SensorResult(skip_reason=dg.SkipReason("no new or changed file"), cursor=cursor)
        run_key = hashlib.sha256(
            json.dumps({k: state[k][2] for k in changed}, sort_keys=True).encode()
        ).hexdigest()[:32]
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=run_key,
                    tags={"sangam/source": source.name, "sangam/changed_files": ", ".join(changed)[:200]},
                )
            ],
            cursor=cursor,
        )

    return _sensor


def build_sensors(config: SangamConfig) -> list[dg.SensorDefinition]:
    return [spreadsheet_sensor(s) for s in config.spreadsheet_sources]
