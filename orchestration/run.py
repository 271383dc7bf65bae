"""`python -m orchestration.run` (`make run`): the full job in-process, for cron or a server without the UI.

Prints the run summary (rows loaded per source and table, models built, checks passed and failed, published
or not) and exits non-zero when the run failed or nothing was published. With DAGSTER_HOME set (the Makefile
sets .dagster/), the run is recorded in that instance, so the Dagster UI shows it like any other run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from orchestration.jobs import FULL_BUILD_JOB, source_job_name
from orchestration.resources import WAREHOUSE_POOL, AlertChannels, alert_channels
from sangam.config import ConfigError, load_config


def release_stale_slots(instance, pool: str = WAREHOUSE_POOL) -> list[str]:
    """Free pool slots still claimed by runs that are over (a UI server killed mid-run leaves its claim, and
    this in-process run would otherwise wait for that slot forever). Returns the runs freed."""
    import dagster as dg

    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    freed = []
    for slot in storage.get_concurrency_info(pool).claimed_slots:
        run = instance.get_run_by_id(slot.run_id)
        if run is None or run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
                                          dg.DagsterRunStatus.CANCELED):  # fmt: skip
            storage.free_concurrency_slots_for_run(slot.run_id)
            freed.append(slot.run_id)
            logging.getLogger("sangam.orchestration").warning(
                "freed the %s slot left claimed by finished run %s", pool, slot.run_id
            )
    return freed


def execute_and_alert(job, instance, channels: AlertChannels, require_published: bool = True, config=None):
    """Run `job` in-process and, when it failed (or published nothing, with `require_published`), send one
    alert with the run summary. Returns (result, summary, exit code).

    The run is tagged so the daemon's run-failure sensor, which may watch the same instance, skips it: this
    process alerts once, right after the run, and also when there is no daemon (cron, an ephemeral instance).
    """
    from orchestration.alerts import ALERTED_BY_TAG, CLI_ALERTS, AlertError, alert_for_run, send_alert
    from orchestration.summary import summarize_run

    log = logging.getLogger("sangam.orchestration")
    tags = {ALERTED_BY_TAG: CLI_ALERTS}
    result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
    summary = summarize_run(instance, result.run_id, config)
    failed = not result.success or (require_published and not summary.published)
    if failed:
        fallback = "the run finished but published nothing" if result.success else "run failed"
        alert = alert_for_run(instance, result.run_id, fallback)
        try:
            sent = send_alert(channels, alert)
        except AlertError as exc:  # the run's own failure stays the exit status; the log says why
            log.error("alert for run %s not sent: %s", result.run_id, exc)
        else:
            log.info("alert for run %s sent via %s", result.run_id, ", ".join(sent) or "no channel set")
    return result, summary, 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.run", description=__doc__)
    parser.add_argument("--config", type=Path, help="sources.yaml (default $SANGAM_SOURCES or $SANGAM_HOME)")
    parser.add_argument("--source", help="run only this source's job (its tables and what depends on them)")
    parser.add_argument("--no-parse", action="store_true", help="reuse transform/target/manifest.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "alembic", "httpx"):  # their INFO lines are internals
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = load_config(args.config)  # secrets required: fail now, not half-way through
    except ConfigError as exc:
        print(f"sources.yaml: {exc}", file=sys.stderr)
        return 2
    if not args.no_parse:
        # the manifest must match the models on disk (a changed model would otherwise run stale lineage)
        from orchestration.assets_dbt import parse_manifest

        try:
            parse_manifest()
        except RuntimeError as exc:
            print(str(exc), file=sys.stderr)
            return 2

    import dagster as dg

    from orchestration.definitions import build_definitions

    defs = build_definitions(config, args.config)
    graph = defs.resolve_asset_graph()
    if not any(k.path[0] == "marts" for k in graph.get_all_asset_keys()):
        print("the dbt project in transform/ could not be loaded (see the log above)", file=sys.stderr)
        return 2
    job_name = source_job_name(args.source) if args.source else FULL_BUILD_JOB
    job = defs.resolve_job_def(job_name)
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        release_stale_slots(instance)
        _, summary, code = execute_and_alert(job, instance, alert_channels(config), config=config)
    print()
    print(summary.text())
    return code


if __name__ == "__main__":
    sys.exit(main())
