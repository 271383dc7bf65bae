"""The sources.yaml values the dbt project reads as vars (dbt_project.yml holds the same defaults).

One function for both callers: the transform step (transform.dbt_runner) and Dagster's dbt assets."""

from __future__ import annotations

from typing import Any

from sangam.config import KoboSource, OdkSource, SangamConfig


def config_vars(config: SangamConfig) -> dict[str, Any]:
    a = config.area
    area = {"name": a.name, "min_lat": a.min_lat, "max_lat": a.max_lat}
    area |= {"min_lon": a.min_lon, "max_lon": a.max_lon}
    from transform.programs import programs_off

    return {"area": area, "form_layer": form_layer_settings(config), "programs_off": programs_off(config)}


def form_layer_settings(config: SangamConfig) -> dict[str, dict[str, Any]]:
    """`<source>.<table>` → the form's geography and enumerator questions, for the generic form models."""
    settings: dict[str, dict[str, Any]] = {}
    for src in config.sources:
        if not isinstance(src, KoboSource | OdkSource):
            continue
        for form in src.forms:
            if form.geography or form.enumerator:
                settings[f"{src.name}.{form.table}"] = {
                    "geography": dict(form.geography),
                    "enumerator": form.enumerator,
                }
    return settings


def default_vars() -> dict[str, Any]:
    """The vars of the sources.yaml in SANGAM_HOME, or none when it cannot be loaded (the project defaults
    apply: dbt parse and tests on fixture warehouses need no sources.yaml)."""
    try:
        from sangam.config import load_config

        return config_vars(load_config())
    except Exception:
        return {}
