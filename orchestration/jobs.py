"""Jobs: one per source (its raw tables and everything downstream) and the daily full build."""

from __future__ import annotations

import dagster as dg

from sangam.config import SangamConfig

FULL_BUILD_JOB = "full_build"


def source_group(source_name: str) -> str:
    """The asset group of a source's raw tables (also its warehouse schema)."""
    return f"raw_{source_name}"


def source_job_name(source_name: str) -> str:
    return f"refresh_{source_name}"


def source_job(source_name: str) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        source_job_name(source_name),
        selection=dg.AssetSelection.groups(source_group(source_name)).downstream(),
        description=f"Extract source `{source_name}`, then rebuild, check and publish what depends on it.",
        tags={"sangam/source": source_name},
    )


def full_build_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        FULL_BUILD_JOB,
        selection=dg.AssetSelection.all(),
        description="Extract every source, dbt build, quality gates, publish serving.duckdb, Superset.",
        tags={"sangam/source": "all"},
    )


def build_jobs(config: SangamConfig) -> list[dg.UnresolvedAssetJobDefinition]:
    return [full_build_job(), *(source_job(s.name) for s in config.sources)]
