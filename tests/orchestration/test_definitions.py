"""The Definitions load and wire lineage from raw tables through dbt to publication and Superset."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from sangam.config import load_config


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    from tests.orchestration.conftest import write_sources

    tmp = tmp_path_factory.mktemp("defs")
    (tmp / "sheets").mkdir()
    nowhere = "http://127.0.0.1:9"
    path = write_sources(tmp / "sources.yaml", nowhere, nowhere, tmp / "sheets", tmp)
    return build_definitions(load_config(path, require_secrets=False), path)


def test_definitions_validate(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)


def test_module_level_defs_load() -> None:
    from orchestration import definitions

    dg.Definitions.validate_loadable(definitions.defs)


def test_every_dbt_source_is_a_materializable_raw_asset(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    raw = {k for k in keys if k.path[0].startswith("raw_")}
    assert dg.AssetKey(["raw_kobo", "child_health"]) in raw
    assert dg.AssetKey(["raw_kobo", "child_health__child"]) in raw
    assert dg.AssetKey(["raw_odk", "delivery__baby"]) in raw
    for key in raw:
        assert graph.get(key).is_materializable, f"{key} is an unmaterializable (external) asset"
    # the staging model of a repeat table reads the raw asset the form's load writes
    stg = graph.get(dg.AssetKey(["staging", "stg_kobo__child_health__child"]))
    assert dg.AssetKey(["raw_kobo", "child_health__child"]) in stg.parent_keys
    # a repeat table is written by the same op as its form (one dlt run)
    op_of = graph.assets_def_for_key
    repeat, form = dg.AssetKey(["raw_kobo", "child_health__child"]), dg.AssetKey(["raw_kobo", "child_health"])
    assert op_of(repeat) is op_of(form)


def test_publish_depends_on_served_marts_and_superset_on_publish(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    publish = graph.get(dg.AssetKey(["serving", "published_marts"]))
    assert dg.AssetKey(["marts", "mart_program_indicators_monthly"]) in publish.parent_keys
    assert dg.AssetKey(["marts", "dim_geography"]) in publish.parent_keys
    superset = graph.get(dg.AssetKey(["superset", "dashboards"]))
    assert superset.parent_keys == {dg.AssetKey(["serving", "published_marts"])}
    ancestors = _ancestors(graph, dg.AssetKey(["serving", "published_marts"]))
    for raw in ["raw_kobo/child_health__child", "raw_odk/anc_visit", "raw_sheets/district_targets"]:
        assert dg.AssetKey(raw.split("/")) in ancestors


def _ancestors(graph, key) -> set:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_checks_marts_blocking_raw_not_and_dbt_tests_present(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    checks = {ck: graph.assets_def_for_key(ck).get_spec_for_check_key(ck) for ck in graph.asset_check_keys}
    gx_marts = checks[dg.AssetCheckKey(dg.AssetKey(["marts", "mart_program_indicators_monthly"]), "gx")]
    assert gx_marts.blocking
    assert not checks[dg.AssetCheckKey(dg.AssetKey(["raw_kobo", "child_health"]), "gx")].blocking
    assert dg.AssetCheckKey(dg.AssetKey(["raw_kobo", "pregnancy_registration"]), "freshness") in checks
    assert dg.AssetCheckKey(dg.AssetKey(["raw_odk", "anc_visit"]), "freshness") in checks
    dbt_tests = [ck for ck in checks if ck.name not in ("gx", "freshness")]
    assert len(dbt_tests) > 10  # dbt tests (unique, not_null, ...) became asset checks


def test_warehouse_ops_share_the_pool_and_superset_does_not(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in [
        dg.AssetKey(["raw_kobo", "child_health"]),
        dg.AssetKey(["raw_sheets", "field_workers"]),
        dg.AssetKey(["marts", "dim_date"]),
        dg.AssetKey(["serving", "published_marts"]),
    ]:
        assert graph.assets_def_for_key(key).op.pool == "duckdb_warehouse", key
    assert graph.assets_def_for_key(dg.AssetKey(["superset", "dashboards"])).op.pool is None
    for checks_def in defs.asset_checks or []:
        assert checks_def.op.pool == "duckdb_warehouse"


def test_dagster_yaml_is_a_valid_instance_with_the_pool_limited_to_one(tmp_path: Path) -> None:
    import shutil

    from orchestration.resources import WAREHOUSE_POOL

    shutil.copy(Path(__file__).resolve().parents[2] / ".dagster" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
        assert storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1


def test_jobs_per_source_and_full_build(defs: dg.Definitions) -> None:
    names = {j.name for j in defs.get_repository_def().get_all_jobs()}
    assert {"full_build", "refresh_kobo", "refresh_odk", "refresh_sheets"} <= names
    graph = defs.resolve_asset_graph()
    kobo = defs.resolve_job_def("refresh_kobo").asset_layer.selected_asset_keys
    assert dg.AssetKey(["raw_kobo", "child_health"]) in kobo
    assert dg.AssetKey(["serving", "published_marts"]) in kobo
    assert dg.AssetKey(["raw_odk", "anc_visit"]) not in kobo
    full = defs.resolve_job_def("full_build").asset_layer.selected_asset_keys
    dhis2 = dg.AssetKey(["dhis2", "data_value_sets"])
    # the DHIS2 push is a monthly delivery with its own job and schedule, never part of a refresh
    assert full == {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable} - {dhis2}
    assert dhis2 not in kobo
    assert defs.resolve_job_def("dhis2_push").asset_layer.selected_asset_keys == {dhis2}
