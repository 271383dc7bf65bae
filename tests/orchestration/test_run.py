"""`python -m orchestration.run` housekeeping: pool slots left by dead runs are freed, live ones kept."""

from __future__ import annotations

import dagster as dg

from orchestration.resources import WAREHOUSE_POOL
from orchestration.run import release_stale_slots


@dg.op
def boom() -> None:
    raise RuntimeError("boom")


@dg.op
def fine() -> None:
    pass


@dg.job
def failing() -> None:
    boom()


@dg.job
def passing() -> None:
    fine()


def test_slots_of_finished_runs_are_freed_and_others_kept() -> None:
    overrides = {"concurrency": {"pools": {"default_limit": 1}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        storage = instance.event_log_storage
        dead = failing.execute_in_process(instance=instance, raise_on_error=False).run_id
        live = instance.create_run_for_job(passing, status=dg.DagsterRunStatus.STARTED).run_id
        storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
        assert storage.claim_concurrency_slot(WAREHOUSE_POOL, dead, "extract_kobo").is_claimed
        assert release_stale_slots(instance) == [dead]
        assert storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots == []
        assert storage.claim_concurrency_slot(WAREHOUSE_POOL, live, "dbt_build").is_claimed
        assert release_stale_slots(instance) == []
        assert [s.run_id for s in storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots] == [live]
