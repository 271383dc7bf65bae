"""The committed bundle and roles hold together, and match the serving tables of the contract (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bi_config.bundle import Bundle, dbt_docs, desired_bundle, differences, normalize
from bi_config.security import RolesError, SecurityConfig

REPO = Path(__file__).resolve().parents[2]
BUNDLE = Bundle.load()
DATASETS = {d["uuid"]: d for d in BUNDLE.of_kind("datasets").values()}
CHARTS = {d["uuid"]: d for d in BUNDLE.of_kind("charts").values()}
DASHBOARDS = {d["slug"]: d for d in BUNDLE.of_kind("dashboards").values()}
SERVING_TABLES = {
    t["name"] for t in yaml.safe_load((REPO / "quality" / "serving_tables.yaml").read_text())["tables"]
}


def _chart_columns(params: dict) -> set[str]:
    cols = set(params.get("groupby", [])) | set(params.get("all_columns", []))
    if params.get("x_axis"):
        cols.add(params["x_axis"])
    cols |= {f["subject"] for f in params.get("adhoc_filters", [])}
    return cols


def _chart_metrics(params: dict) -> set[str]:
    metrics = set(params.get("metrics", []))
    if params.get("metric"):
        metrics.add(params["metric"])
    return metrics


def test_one_dataset_per_serving_table_on_the_read_only_database():
    assert {d["table_name"] for d in DATASETS.values()} == SERVING_TABLES
    (database,) = BUNDLE.of_kind("databases").values()
    assert database["sqlalchemy_uri"] == "duckdb:///warehouse/serving.duckdb"
    assert database["extra"]["engine_params"]["connect_args"]["read_only"] is True
    assert not database["allow_dml"] and not database["allow_ctas"] and not database["allow_cvas"]
    assert all(d["database_uuid"] == database["uuid"] for d in DATASETS.values())


def test_dataset_columns_exist_in_the_dbt_models():
    docs = dbt_docs(REPO / "transform")
    for dataset in DATASETS.values():
        model = docs.get(dataset["table_name"])
        if model is None or not model["columns"]:
            continue  # dq_check_history comes from the quality step, not dbt
        columns = {c["column_name"] for c in dataset["columns"]}
        assert columns <= set(model["columns"]), f"{dataset['table_name']}: {columns - set(model['columns'])}"


def test_charts_use_only_columns_and_metrics_of_their_dataset():
    for chart in CHARTS.values():
        dataset = DATASETS[chart["dataset_uuid"]]
        columns = {c["column_name"] for c in dataset["columns"]}
        metrics = {m["metric_name"] for m in dataset["metrics"]}
        params = chart["params"]
        assert _chart_columns(params) <= columns, chart["slice_name"]
        assert _chart_metrics(params) <= metrics, chart["slice_name"]
        # the saved query context (what /api/v1/chart/{id}/data/ runs) asks for the same metrics
        query = json.loads(chart["query_context"])["queries"][0]
        assert set(query["metrics"]) == _chart_metrics(params), chart["slice_name"]


def test_dashboards_place_every_chart_and_filter_on_existing_columns():
    placed = set()
    for slug, dashboard in DASHBOARDS.items():
        for node in dashboard["position"].values():
            if isinstance(node, dict) and node.get("type") == "CHART":
                assert node["meta"]["uuid"] in CHARTS, f"{slug}: unknown chart {node['meta']}"
                placed.add(node["meta"]["uuid"])
        filters = dashboard["metadata"]["native_filter_configuration"]
        kinds = [f["filterType"] for f in filters]
        assert kinds.count("filter_time") == 1, slug
        for f in filters:
            for target in f["targets"]:
                if "datasetUuid" in target:
                    columns = {c["column_name"] for c in DATASETS[target["datasetUuid"]]["columns"]}
                    assert target["column"]["name"] in columns, f"{slug}: filter {f['name']}"
        if slug == "form-explorer":
            names = ["Form", "Question", "Language", "State", "District", "Month"]
            assert [f["name"] for f in filters] == names
        elif slug != "data-quality":
            assert [f["name"] for f in filters] == [
                "State",
                "District",
                "Month" if slug != "field-worker-performance" else "Week",
            ]
    assert placed == set(CHARTS)
    assert set(DASHBOARDS) == {
        "program-overview",
        "child-growth-immunization",
        "field-worker-performance",
        "data-quality",
        "welfare-scheme-applications",
        "funder-view",
        "form-explorer",
    }


def test_funder_view_is_built_only_on_the_funder_summary():
    funder = DASHBOARDS["funder-view"]
    chart_uuids = [
        n["meta"]["uuid"]
        for n in funder["position"].values()
        if isinstance(n, dict) and n.get("type") == "CHART"
    ]
    tables = {DATASETS[CHARTS[u]["dataset_uuid"]]["table_name"] for u in chart_uuids}
    targets = {
        DATASETS[t["datasetUuid"]]["table_name"]
        for f in funder["metadata"]["native_filter_configuration"]
        for t in f["targets"]
        if "datasetUuid" in t
    }
    assert tables == targets == {"mart_funder_summary"}


def test_desired_bundle_points_at_the_serving_file_and_takes_dbt_descriptions(tmp_path):
    models = tmp_path / "transform" / "models"
    models.mkdir(parents=True)
    (models / "_marts.yml").write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": "mart_scheme_applications",
                        "description": "From dbt.",
                        "columns": [{"name": "pending", "description": "Not yet decided."}],
                    }
                ]
            }
        )
    )
    serving = tmp_path / "w" / "serving.duckdb"
    want = desired_bundle(BUNDLE, serving, tmp_path / "transform")
    (db,) = want.of_kind("databases").values()
    assert db["sqlalchemy_uri"] == f"duckdb:///{serving.resolve()}"
    (ds,) = [d for d in want.of_kind("datasets").values() if d["table_name"] == "mart_scheme_applications"]
    assert ds["description"] == "From dbt."
    assert {c["column_name"]: c["description"] for c in ds["columns"]}["pending"] == "Not yet decided."
    # the committed bundle itself is left alone
    assert (
        BUNDLE.files["databases/Sangam_serving.yaml"]["sqlalchemy_uri"]
        == "duckdb:///warehouse/serving.duckdb"
    )


def test_a_writable_database_is_refused(tmp_path):
    bundle = Bundle.load()
    bundle.files["databases/Sangam_serving.yaml"]["extra"]["engine_params"]["connect_args"]["read_only"] = (
        False
    )
    with pytest.raises(ValueError, match="read_only"):
        desired_bundle(bundle, tmp_path / "serving.duckdb")


def test_a_database_with_external_file_access_is_refused(tmp_path):
    bundle = Bundle.load()
    del bundle.files["databases/Sangam_serving.yaml"]["extra"]["engine_params"]["connect_args"]["config"]
    with pytest.raises(ValueError, match="enable_external_access"):
        desired_bundle(bundle, tmp_path / "serving.duckdb")


def test_a_setting_missing_inside_a_json_blob_is_a_difference():
    (path, database) = next(iter(BUNDLE.of_kind("databases").items()))
    exported = json.loads(json.dumps(database))
    del exported["extra"]["engine_params"]["connect_args"]["config"]
    del exported["impersonate_user"]  # a top-level field Superset does not export is not compared
    assert differences(database, exported) == [".extra.engine_params.connect_args.config: missing"]


def test_differences_ignore_instance_ids_and_export_order_but_not_edits():
    (path, chart) = next(iter(BUNDLE.of_kind("charts").items()))
    exported = json.loads(json.dumps(chart))
    exported["params"]["datasource"] = "42__table"
    exported["params"]["slice_id"] = 42
    qc = json.loads(exported["query_context"])
    qc["datasource"]["id"] = 42
    exported["query_context"] = json.dumps(qc)
    exported["extra_key_superset_adds"] = None
    assert differences(normalize(path, chart), normalize(path, exported)) == []
    exported["slice_name"] = "Renamed"
    assert differences(normalize(path, chart), normalize(path, exported)) == [
        f".slice_name: 'Renamed' != {chart['slice_name']!r}"
    ]
    dataset = next(iter(DATASETS.values()))
    shuffled = json.loads(json.dumps(dataset))
    shuffled["columns"].reverse()
    assert differences(dataset, shuffled) == []


def test_roles_file_is_valid_and_names_every_dashboard():
    cfg = SecurityConfig.load()
    assert set(cfg.roles) == {"Program staff", "Coordinator", "Analyst", "Funder"}
    assert set(cfg.dashboards) == set(DASHBOARDS)
    assert [s for s, roles in cfg.dashboards.items() if "Funder" in roles] == ["funder-view"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"coordinators": [{"user": "a", "states": ["mh; drop"]}]}, r"coordinators\[0\].states"),
        (
            {"coordinators": [{"user": "a", "group": "b", "states": ["MH"]}]},
            r"coordinators\[0\]: give exactly one",
        ),
        ({"members": [{"user": "a", "roles": ["Boss"]}]}, r"members\[0\].roles: unknown role 'Boss'"),
        ({"dashboards": {"funder-view": ["Nobody"]}}, r"dashboards.funder-view: unknown role 'Nobody'"),
        ({"roles": {"Funder": {"like": ["Gamma"]}}}, r"roles.Coordinator is required"),
    ],
)
def test_roles_file_errors_name_the_key(tmp_path, change, message):
    data = yaml.safe_load((REPO / "bi_config" / "roles.yaml").read_text())
    data.update(change)
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RolesError, match=message):
        SecurityConfig.load(path)


FORM_LAYER = {
    "dim_form_questions",
    "dim_form_choices",
    "dim_form_labels",
    "fct_form_submissions_daily",
    "fct_form_choices_monthly",
    "fct_form_numbers_monthly",
}


def test_coordinator_row_filters_fit_every_dataset():
    """A dataset with geography is restricted; one without is explicitly not (the default clause on a table
    without state_code would break every coordinator's query on it)."""
    cfg = SecurityConfig.load()
    for dataset in DATASETS.values():
        table = dataset["table_name"]
        columns = {c["column_name"] for c in dataset["columns"]}
        template = cfg.state_filters.get(table, cfg.state_filters["default"])
        if template is None:
            assert not columns & {"state_code", "state"}, f"{table} has geography but no row filter"
        elif template == cfg.state_filters["default"]:
            assert "state_code" in columns, f"{table}: default filter on a table without state_code"
    restricted = {t for t in FORM_LAYER if cfg.state_filters.get(t, cfg.state_filters["default"]) is not None}
    assert restricted == {
        "fct_form_submissions_daily",
        "fct_form_choices_monthly",
        "fct_form_numbers_monthly",
    }


def test_form_explorer_shows_every_form_from_the_form_layer_only():
    explorer = DASHBOARDS["form-explorer"]
    charts = [
        CHARTS[n["meta"]["uuid"]]
        for n in explorer["position"].values()
        if isinstance(n, dict) and n.get("type") == "CHART"
    ]
    tables = {DATASETS[c["dataset_uuid"]]["table_name"] for c in charts}
    assert tables <= FORM_LAYER
    assert {"fct_form_submissions_daily", "fct_form_choices_monthly", "fct_form_numbers_monthly"} <= tables
    # no chart is tied to one form: a form added to sources.yaml shows up through the Form filter
    for chart in charts:
        assert all(f["subject"] != "form" for f in chart["params"]["adhoc_filters"]), chart["slice_name"]
    shown = {c for chart in charts for c in _chart_columns(chart["params"])}
    assert {"enumerator", "form_version", "review_state", "choice_label", "language", "label"} <= shown
    metrics = {m for chart in charts for m in _chart_metrics(chart["params"])}
    assert {
        "submissions",
        "flagged_submissions",
        "answers",
        "missing",
        "mean_value",
        "median_value",
    } <= metrics
    assert "Funder" not in SecurityConfig.load().dashboards["form-explorer"]


def test_serving_fixture_has_every_dataset_column_with_its_type(tmp_path):
    """The live tests' serving file (tests/bi/serving_fixture.py) has what the bundle reads, typed alike."""
    import duckdb

    from .serving_fixture import build_serving

    con = duckdb.connect(str(build_serving(tmp_path / "serving.duckdb")), read_only=True)
    try:
        for dataset in DATASETS.values():
            table = dataset["table_name"]
            have = {r[0]: r[1] for r in con.execute(f"describe {table}").fetchall()}
            want = {c["column_name"]: c["type"] for c in dataset["columns"]}
            assert {c: have.get(c) for c in want} == want, table
    finally:
        con.close()
