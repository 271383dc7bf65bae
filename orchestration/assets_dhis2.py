"""The DHIS2 delivery as a Dagster asset after publication (lineage: marts → serving → dhis2), its job and
the monthly schedule in the mapping file (transform/deliveries/dhis2_mapping.yaml `schedule:`, off by
default).

The asset pushes one month of the published serving.duckdb (deliver/dhis2_push.py) and records DHIS2's import
summary as its metadata. A conflict, a mapping the server does not match, or a month complete on the server
fails the step with the message naming each value, so the run-failure alert (orchestration/alerts.py) tells
the data team what DHIS2 rejected. It is not part of the daily full build (orchestration/jobs.py): a push to a
ministry's server is a monthly report, not a refresh.
"""

import logging

import dagster as dg

from orchestration.jobs import DHIS2_GROUP, EXECUTOR
from orchestration.resources import SangamConfigResource
from orchestration.schedules import _timezone
from orchestration.summary import PUBLISH_KEY

log = logging.getLogger("sangam.orchestration")
DHIS2_KEY = dg.AssetKey(["dhis2", "data_value_sets"])
DHIS2_JOB = "dhis2_push"
DHIS2_SCHEDULE = "dhis2_monthly_push"


class Dhis2PushConfig(dg.Config):
    """Launchpad settings of a manual push; the schedule leaves both at their defaults."""

    period: str = ""  # YYYYMM; empty: the last complete month of the mart
    force: bool = False  # overwrite a month registered complete on the server


def build_dhis2_definitions(mapping_path: str | None = None) -> tuple[list, list, list]:
    """The asset, its job and its schedule; none (reason logged) when the mapping is missing or invalid."""
    from deliver.dhis2_mapping import MappingError, load_mapping

    try:
        mapping = load_mapping(mapping_path)
    except MappingError as exc:
        log.error("DHIS2 delivery left out: %s", exc)
        return [], [], []

    @dg.asset(
        key=DHIS2_KEY,
        deps=[PUBLISH_KEY],
        group_name=DHIS2_GROUP,
        kinds={"dhis2"},
        description=f"DHIS2 dataValueSets of {mapping.source} pushed to {mapping.server.url} "
        f"(data set {mapping.data_set}; mapping {mapping.path.name}): dry run first, then the import.",
    )
    def dhis2_data_value_sets(
        context: dg.AssetExecutionContext, config: Dhis2PushConfig, sangam: SangamConfigResource
    ) -> dg.MaterializeResult:
        from deliver.dhis2_push import push

        settings = sangam.load(require_secrets=False)
        current = load_mapping(mapping_path)  # an edited mapping applies to the next run
        result = push(current, settings.warehouse.serving_path, config.period or None, force=config.force)
        context.log.info(result.text())
        return dg.MaterializeResult(
            metadata={
                "period": dg.MetadataValue.text(result.period),
                "status": dg.MetadataValue.text(result.status),
                "server": dg.MetadataValue.url(result.server),
                "importCount": dg.MetadataValue.json(result.imported),
                "dry_run_importCount": dg.MetadataValue.json(result.dry_run),
                "values": dg.MetadataValue.int(result.values),
                "org_units_sent": dg.MetadataValue.int(len(result.sent)),
                "org_units_unchanged": dg.MetadataValue.int(len(result.unchanged)),
                "registered_complete": dg.MetadataValue.json(result.completed),
                "forced": dg.MetadataValue.json(result.forced),
                "warnings": dg.MetadataValue.json(result.warnings),
                "summary": dg.MetadataValue.md("```\n" + result.text() + "\n```"),
            }
        )

    job = dg.define_asset_job(
        DHIS2_JOB,
        selection=dg.AssetSelection.assets(DHIS2_KEY),
        description="Push a month of the published marts to DHIS2 (Launchpad: period YYYYMM, force).",
        tags={"sangam/delivery": "dhis2"},
        executor_def=EXECUTOR,
    )
    sched = mapping.schedule
    schedule = dg.ScheduleDefinition(
        name=DHIS2_SCHEDULE,
        cron_schedule=f"0 {sched.hour} {sched.day_of_month} * *",
        job=job,
        execution_timezone=_timezone(),
        default_status=dg.DefaultScheduleStatus.RUNNING
        if sched.enabled
        else dg.DefaultScheduleStatus.STOPPED,
        description=f"{mapping.path.name} schedule: the last complete month, on day {sched.day_of_month} "
        f"at {sched.hour:02d}:00" + ("" if sched.enabled else " (off: schedule.enabled is false)"),
        tags={"sangam/delivery": "dhis2"},
    )
    return [dhis2_data_value_sets], [job], [schedule]
