"""Sangam's Dagster definitions, assembled from sources.yaml: `dagster dev -m orchestration.definitions`.

Lineage: raw_<source>/<table> (dlt) → dbt seeds/staging/intermediate/marts → serving/published_marts →
superset/dashboards and dhis2/data_value_sets, with dbt tests, GX gates and freshness as asset checks on the
way.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg

from orchestration.alerts import alert_on_form_changes, alert_on_run_failure
from orchestration.assets_bi import SupersetResource, superset_dashboards
from orchestration.assets_dhis2 import build_dhis2_definitions
from orchestration.assets_extract import build_extract_assets
from orchestration.assets_publish import build_publish_assets
from orchestration.checks_freshness import build_freshness_checks
from orchestration.checks_quality import build_quality_checks, mart_tables
from orchestration.jobs import build_jobs
from orchestration.resources import build_resources
from orchestration.schedules import build_schedules
from orchestration.sensors import build_sensors
from sangam.config import SangamConfig, load_config

log = logging.getLogger("sangam.orchestration")


def _dbt_assets() -> tuple[list[dg.AssetsDefinition], dict[str, list[str]]]:
    """The dbt assets and their source tables, or none (reason logged) while transform/ cannot be parsed."""
    from orchestration.assets_dbt import build_dbt_assets

    try:
        assets, tables = build_dbt_assets()
        return [assets], tables
    except Exception as exc:  # keep the rest of the hub loadable; `make run` refuses to run without dbt
        log.error("dbt assets left out: %s", exc)
        return [], {}


def build_definitions(
    config: SangamConfig | None = None, sources_path: str | Path | None = None
) -> dg.Definitions:
    config = config or load_config(sources_path, require_secrets=False)
    dbt, dbt_source_tables = _dbt_assets()
    extract_assets, keys_by_source = build_extract_assets(config, dbt_source_tables)
    model_keys = {k.path[-1]: k for a in dbt for k in a.keys if not k.path[0].startswith("raw_")}
    raw_keys = {f"{k.path[0]}.{k.path[-1]}": k for keys in keys_by_source.values() for k in keys}
    checked_marts = {name: model_keys[name] for name in mart_tables() if name in model_keys}

    checks = [c for c in [build_quality_checks(raw_keys, checked_marts)] if c is not None]
    checks += build_freshness_checks(config, keys_by_source)
    assets = [*extract_assets, *dbt]
    dhis2_jobs: list = []
    dhis2_schedules: list = []
    if dbt:
        assets += [*build_publish_assets(model_keys), superset_dashboards]
        dhis2_assets, dhis2_jobs, dhis2_schedules = build_dhis2_definitions()
        assets += dhis2_assets

    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[*build_jobs(config), *dhis2_jobs],
        schedules=[*build_schedules(config), *dhis2_schedules],
        sensors=[*build_sensors(config), alert_on_run_failure, alert_on_form_changes],
        resources={**build_resources(config, sources_path), "superset": SupersetResource()},
    )


defs = build_definitions()
