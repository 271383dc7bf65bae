"""Resources every Sangam asset receives by injection: the shared config, dlt, dbt and the alert channels.

Nothing here holds a secret: the config stores the *names* of the variables that carry them, and the alert
resource names its environment variables too, so the Dagster UI (which shows resource config) never shows one.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from dagster_dlt import DagsterDltResource

from sangam.config import SangamConfig, load_config, sangam_home
from transform.dbt_runner import env_overrides

# Pool of every op that opens warehouse.duckdb: DuckDB allows one process at a time on a file (even a
# read-only open fails while another process writes), so dlt loads, dbt, GX checks and publishing queue here.
WAREHOUSE_POOL = "duckdb_warehouse"
TRANSFORM_DIR = Path(__file__).resolve().parent.parent / "transform"


class SangamConfigResource(dg.ConfigurableResource):
    """sources.yaml, loaded when a step needs it (so an edited file applies to the next run)."""

    sources_path: str | None = None  # default: $SANGAM_SOURCES or $SANGAM_HOME/sources.yaml

    def load(self, require_secrets: bool = False) -> SangamConfig:
        return load_config(self.sources_path, require_secrets=require_secrets)


class AlertChannels(dg.ConfigurableResource):
    """Where run-failure alerts go; the values are read from these environment variables when one is sent."""

    webhook_url_env: str = "SANGAM_ALERT_WEBHOOK"
    email_to: list[str] = []
    smtp_env_prefix: str = "SANGAM_SMTP_"
    timeout_s: float = 10.0


def dbt_project(target_path: str = "target") -> DbtProject:
    """The dbt project in transform/ with its in-repo profile."""
    return DbtProject(project_dir=TRANSFORM_DIR, profiles_dir=TRANSFORM_DIR, target_path=target_path)


def dbt_executable() -> str:
    """dbt of this virtualenv (PATH may not include .venv/bin when run as `.venv/bin/python -m ...`)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def build_resources(config: SangamConfig, sources_path: str | Path | None = None) -> dict[str, object]:
    return {
        "sangam": SangamConfigResource(sources_path=str(sources_path) if sources_path else None),
        "dlt": DagsterDltResource(),
        "dbt": DbtCliResource(
            project_dir=str(TRANSFORM_DIR), profiles_dir=str(TRANSFORM_DIR), dbt_executable=dbt_executable()
        ),
        "alerts": alert_channels(config),
    }


def alert_channels(config: SangamConfig) -> AlertChannels:
    """sources.yaml `alerts:` as the channels both alerting paths (the sensor, `make run`) send to."""
    return AlertChannels(
        webhook_url_env=config.alerts.webhook_url_env or "SANGAM_ALERT_WEBHOOK",
        email_to=list(config.alerts.email_to),
    )


def warehouse_env(config: SangamConfig) -> contextlib.AbstractContextManager[None]:
    """Point dbt's profile (transform/profiles.yml reads SANGAM_WAREHOUSE) at the configured warehouse."""
    return env_overrides({"SANGAM_WAREHOUSE": str(config.warehouse.path), "SANGAM_HOME": str(sangam_home())})
