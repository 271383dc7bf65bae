"""Jobs: one per source (its raw tables and everything downstream) and the daily full build.

Deliveries to outside systems (the DHIS2 push, orchestration/assets_dhis2.py) are in neither: they run on
their own job and schedule, because a report sent to a ministry's server is monthly, not every refresh.
"""

from __future__ import annotations

import dagster as dg

from sangam.config import SangamConfig

FULL_BUILD_JOB = "full_build"
DHIS2_GROUP = "dhis2"
# One process per run: the warehouse steps run one at a time anyway (pool of 1), and a process per step
# would load the definitions and import Great Expectations again for each, on a small shared machine.
EXECUTOR = dg.in_process_executor


def source_group(source_name: str) -> str:
    """The asset group of a source's raw tables (also its warehouse schema)."""
    return f"raw_{source_name}"


def source_job_name(source_name: str) -> str:
    return f"refresh_{source_name}"


def _deliveries() -> dg.AssetSelection:
    return dg.AssetSelection.groups(DHIS2_GROUP)


def source_job(source_name: str) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        source_job_name(source_name),
        selection=dg.AssetSelection.groups(source_group(source_name)).downstream() - _deliveries(),
        description=f"Extract source `{source_name}`, then rebuild, check and publish what depends on it.",
        tags={"sangam/source": source_name},
        executor_def=EXECUTOR,
    )


def full_build_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        FULL_BUILD_JOB,
        selection=dg.AssetSelection.all() - _deliveries(),
        description="Extract every source, dbt build, quality gates, publish serving.duckdb, Superset.",
        tags={"sangam/source": "all"},
        executor_def=EXECUTOR,
    )


def build_jobs(config: SangamConfig) -> list[dg.UnresolvedAssetJobDefinition]:
    return [full_build_job(), *(source_job(s.name) for s in config.sources)]
