"""The dashboards over the real pipeline's published file: demo world → emulators → extract → dbt → quality
checks → publish → apply → every chart answers, and row-level security holds on real rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from bi_config import apply as applier

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_serving(demo_world: Path, emulators, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from extract.run import load_sources
    from quality.checks import run_checks
    from quality.publish import publish
    from sangam.config import parse_config
    from transform.dbt_runner import build

    work = tmp_path_factory.mktemp("bi_pipeline")
    warehouse = work / "warehouse.duckdb"
    doc = yaml.safe_load((REPO / "sources.yaml").read_text())
    world = yaml.safe_load((demo_world / "sources.yaml").read_text()) or {}
    world_kobo = next((s for s in world.get("sources", []) if s.get("kind") == "kobo"), {})
    doc["warehouse"] = {
        "path": str(warehouse),
        "serving_path": str(work / "serving.duckdb"),
        "exports_dir": str(work / "exports"),
    }
    for src in doc["sources"]:
        if src["kind"] == "kobo":
            src["url"] = emulators.kobo_url
            src["forms"] = world_kobo.get("forms", src["forms"])
        elif src["kind"] == "odk":
            src["url"] = emulators.odk_url
        else:
            src["path"] = str(demo_world / "sheets")
    config = parse_config(doc, home=REPO)
    loaded = load_sources(config, warehouse_path=warehouse, pipelines_dir=work / "pipelines")
    assert loaded.ok, loaded.summary()
    raw = run_checks(warehouse, config, stage="raw")
    built = build(warehouse, target_path=work / "target")
    assert built.success, built.failures
    marts = run_checks(warehouse, config, stage="marts")
    return publish(config, [raw, marts]).serving_path


def test_dashboards_over_the_published_pipeline_output(live_superset, real_serving):
    with duckdb.connect(str(real_serving), read_only=True) as con:
        states = {
            code: name
            for code, name in con.execute(
                "select distinct state_code, state from mart_program_indicators_monthly"
            ).fetchall()
        }
    assert {"MH", "UP", "BR"} <= set(states)
    try:
        with live_superset.admin() as admin:
            report = applier.apply(admin, serving=real_serving, roles_file=live_superset.roles_file)
            # only the database's path changed; every dataset, chart and dashboard already matched
            assert list(report.differences) == ["databases/Sangam_serving.yaml"]
            charts = {
                c["slice_name"]: c["id"] for c in admin.list_all("/api/v1/chart/", ["id", "slice_name"])
            }
            empty = []
            for name, chart_id in charts.items():
                resp = admin.request("GET", f"/api/v1/chart/{chart_id}/data/?force=true")
                assert resp.status_code == 200, f"{name}: {resp.text[:300]}"
                result = resp.json()["result"][0]
                assert not result.get("error"), f"{name}: {result['error']}"
                if result["rowcount"] == 0:
                    empty.append(name)
            assert empty == [], f"charts without rows on the real data: {empty}"
        with live_superset.login("coord_mh") as coord:
            resp = coord.request("GET", f"/api/v1/chart/{charts['Indicators by district']}/data/?force=true")
            rows = resp.json()["result"][0]["data"]
            assert rows and {r["state"] for r in rows} == {states["MH"]}
    finally:
        with live_superset.admin() as admin:
            applier.apply(admin, serving=live_superset.serving, roles_file=live_superset.roles_file)
