"""Schedules from sources.yaml: each source's `schedule` runs its job, `schedules.full_build` the full job.

They start RUNNING, so the daemon of `make demo` (or `dagster dev`) keeps the hub fresh with no clicks.
Times are UTC unless SANGAM_TIMEZONE names an IANA zone (e.g. Asia/Kolkata).
"""

from __future__ import annotations

import os

import dagster as dg

from orchestration.jobs import FULL_BUILD_JOB, source_job_name
from sangam.config import SangamConfig


def _timezone() -> str:
    return os.environ.get("SANGAM_TIMEZONE", "UTC")


def build_schedules(config: SangamConfig) -> list[dg.ScheduleDefinition]:
    schedules = []
    full_cron = config.schedules.get("full_build")
    if full_cron:
        schedules.append(
            dg.ScheduleDefinition(
                name="full_build_schedule",
                cron_schedule=full_cron,
                job_name=FULL_BUILD_JOB,
                execution_timezone=_timezone(),
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="sources.yaml schedules.full_build: every source, dbt, checks, publish.",
            )
        )
    for src in config.sources:
        if not src.schedule:
            continue
        schedules.append(
            dg.ScheduleDefinition(
                name=f"{src.name}_schedule",
                cron_schedule=src.schedule,
                job_name=source_job_name(src.name),
                execution_timezone=_timezone(),
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description=f"sources.yaml {src.name}.schedule",
                tags={"sangam/source": src.name},
            )
        )
    return schedules
