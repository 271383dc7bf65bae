"""dbt assets over transform/ (dagster-dbt): seeds, staging, intermediate and marts; dbt tests as checks.

dbt sources are keyed `raw_<source>/<table>`, the keys of the extract assets (which take the repeat and
metadata tables they write from `source_tables()`). Every dbt step opens
warehouse.duckdb read-write, so the op is in the warehouse pool.
"""

import json
import logging
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration.resources import WAREHOUSE_POOL, SangamConfigResource, dbt_project, warehouse_env
from sangam.warehouse_lock import wait_until_writable
from transform.dbt_vars import config_vars

log = logging.getLogger("sangam.orchestration")
DBT_GROUPS = {"staging", "intermediate", "marts"}
MANIFEST_TARGET = "target/orchestration"


class SangamDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn") or []
        if len(fqn) > 1 and fqn[1] in DBT_GROUPS:
            return fqn[1]
        return super().get_group_name(dbt_resource_props)


def parse_manifest(project=None):
    """`dbt parse` into orchestration's own target folder, so the manifest matches the models on disk
    (transform/target is shared with the transform step's own runs)."""
    from transform.dbt_runner import run

    project = project or dbt_project(MANIFEST_TARGET)
    result = run(["parse"], target_path=project.project_dir / project.target_path)
    if not result.success or not project.manifest_path.exists():
        raise RuntimeError(f"dbt parse of transform/ failed: {'; '.join(result.failures)[:1000]}")
    return project


def manifest_is_stale(project) -> bool:
    """True when the manifest is missing or older than a file dbt reads (models, macros, seeds, tests, the
    project and profile files)."""
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    root = project.project_dir
    files = [root / "dbt_project.yml", root / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses"):
        files += [p for p in (root / folder).rglob("*") if p.is_file()]
    return any(f.exists() and f.stat().st_mtime > built for f in files)


def ensure_manifest():
    """The project with a manifest that matches the files on disk, parsed (in-process dbt, no `dbt` on PATH
    needed) only when something changed: `dagster dev` reloads and every step process of a run load the
    definitions, and must not each re-parse."""
    project = dbt_project(MANIFEST_TARGET)
    if manifest_is_stale(project):
        log.info("dbt manifest missing or older than the project files: running dbt parse")
        parse_manifest(project)
    return project


def source_tables(project) -> dict[str, list[str]]:
    """dbt source schema → the tables dbt reads from it (from the manifest)."""
    manifest = json.loads(project.manifest_path.read_text())
    out: dict[str, list[str]] = {}
    for src in manifest.get("sources", {}).values():
        out.setdefault(src["source_name"], []).append(src["name"])
    return out


def build_dbt_assets() -> tuple[dg.AssetsDefinition, dict[str, list[str]]]:
    """The dbt multi-asset and the tables its sources read."""
    project = ensure_manifest()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="dbt_build",
        dagster_dbt_translator=SangamDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
        pool=WAREHOUSE_POOL,
    )
    def _dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, sangam: SangamConfigResource):
        config = sangam.load(require_secrets=False)
        # dbt opens the file in its own process: wait here for a reader to let go (else one clear error)
        wait_until_writable(config.warehouse.path, config.warehouse.lock_wait_s)
        with warehouse_env(config):
            args = ["build", "--vars", json.dumps(config_vars(config))]
            yield from dbt.cli(args, context=context).stream()

    return _dbt, source_tables(project)
