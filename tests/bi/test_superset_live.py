"""A real Superset 6.1 with the bundle applied: idempotent apply, chart data, roles, row-level security."""

from __future__ import annotations

import difflib
from pathlib import Path

import duckdb
import pytest

from bi_config import apply as applier
from bi_config import server
from bi_config.bundle import Bundle
from bi_config.client import SupersetClient

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


CHANGED_ON = {
    "dashboard": "changed_on_utc",
    "chart": "changed_on_utc",
    "dataset": "changed_on_utc",
    "database": "changed_on",
}


def _changed_on(client: SupersetClient) -> dict[str, dict]:
    """Every object's id and last change time, which any import or update bumps."""
    return {
        kind: {r["id"]: r[column] for r in client.list_all(f"/api/v1/{kind}/", ["id", column])}
        for kind, column in CHANGED_ON.items()
    }


def _chart_ids(client: SupersetClient) -> dict[str, int]:
    return {c["slice_name"]: c["id"] for c in client.list_all("/api/v1/chart/", ["id", "slice_name"])}


def _data(client: SupersetClient, chart_id: int) -> dict:
    resp = client.request("GET", f"/api/v1/chart/{chart_id}/data/?force=true")
    assert resp.status_code == 200, resp.text[:500]
    return resp.json()["result"][0]


def test_first_apply_imports_everything_and_second_changes_nothing(live_superset):
    first, second = live_superset.first_reports
    assert first.imported and len(first.differences) == len(Bundle.load().files) - 1  # all but metadata.yaml
    assert not second.imported  # the assets were already there; only user roles were new
    with live_superset.admin() as admin:
        before = _changed_on(admin)
        report = applier.apply(admin, serving=live_superset.serving, roles_file=live_superset.roles_file)
        assert not report.changed, report.summary()
        assert _changed_on(admin) == before
        bundle = Bundle.load()
        assert len(before["dashboard"]) == len(bundle.of_kind("dashboards")) == 7
        assert len(before["chart"]) == len(bundle.of_kind("charts"))


def test_apply_reverts_a_change_made_in_the_ui(live_superset):
    with live_superset.admin() as admin:
        chart_id = _chart_ids(admin)["Indicators by district"]
        admin.put(f"/api/v1/chart/{chart_id}", {"slice_name": "Renamed in the UI"})
        report = applier.apply(admin, serving=live_superset.serving, roles_file=live_superset.roles_file)
        assert report.imported
        assert [p for p in report.differences] == ["charts/Indicators_by_district.yaml"]
        assert admin.get(f"/api/v1/chart/{chart_id}")["result"]["slice_name"] == "Indicators by district"


def _diff(written: list[Path], copy: Path) -> str:
    out = []
    for path in written:
        rel = path.relative_to(copy)
        before = (REPO / "bi_config" / "assets" / rel).read_text().splitlines()
        out += difflib.unified_diff(before, path.read_text().splitlines(), str(rel), "exported", lineterm="")
    return "\n".join(out[:80])


def test_export_writes_back_only_what_changed_in_the_ui(live_superset, bundle_copy):
    with live_superset.admin() as admin:
        written = applier.export(admin, bundle_copy, serving=live_superset.serving)
        assert written == [], _diff(written, bundle_copy)
        chart_id = _chart_ids(admin)["Stunted %"]
        admin.put(f"/api/v1/chart/{chart_id}", {"description": "Edited by a coordinator"})
        written = applier.export(admin, bundle_copy, serving=live_superset.serving)
        assert [p.relative_to(bundle_copy).as_posix() for p in written] == ["charts/Stunted.yaml"]
        assert "Edited by a coordinator" in (bundle_copy / "charts" / "Stunted.yaml").read_text()
        # the database keeps its repository-relative path in git
        db_yaml = (bundle_copy / "databases" / "Sangam_serving.yaml").read_text()
        assert "duckdb:///warehouse/serving.duckdb" in db_yaml and "read_only: true" in db_yaml
        # a dashboard made in the UI gets its own file
        created = admin.post("/api/v1/dashboard/", {"dashboard_title": "Made in the UI"})["id"]
        try:
            written = applier.export(admin, bundle_copy, serving=live_superset.serving)
            assert [p.relative_to(bundle_copy).as_posix() for p in written] == [
                "dashboards/Made_in_the_UI.yaml"
            ]
        finally:
            admin.delete(f"/api/v1/dashboard/{created}")
        applier.apply(admin, serving=live_superset.serving, roles_file=live_superset.roles_file)
        assert admin.get(f"/api/v1/chart/{chart_id}")["result"]["description"] is None


def test_every_chart_returns_rows(live_superset):
    with live_superset.admin() as admin:
        charts = _chart_ids(admin)
        assert len(charts) == len(Bundle.load().of_kind("charts"))
        for name, chart_id in charts.items():
            result = _data(admin, chart_id)
            assert not result.get("error"), f"{name}: {result.get('error')}"
            assert result["rowcount"] > 0, f"{name}: no rows"


def _states(result: dict, column: str = "state") -> set:
    return {row[column] for row in result["data"]}


def test_coordinator_sees_only_their_states(live_superset):
    con = duckdb.connect(str(live_superset.serving), read_only=True)
    all_states = {
        r[0] for r in con.execute("select distinct state from mart_program_indicators_monthly").fetchall()
    }
    con.close()
    assert len(all_states) > 2
    with live_superset.admin() as admin:
        charts = _chart_ids(admin)
        assert _states(_data(admin, charts["Indicators by district"])) == all_states
    cases = {"coord_mh": {"Maharashtra"}, "coord_north": {"Uttar Pradesh", "Bihar"}}
    for user, states in cases.items():
        with live_superset.login(user) as coord:
            assert _states(_data(coord, charts["Indicators by district"])) == states
            assert _states(_data(coord, charts["Applications by scheme and district"])) == states
            funder_rows = _data(coord, charts["Funder: indicators by district (small numbers suppressed)"])
            assert _states(funder_rows) == states
            scorecard = _data(coord, charts["Field worker scorecard"])
            prefixes = {row["district_code"].split("_")[0] for row in scorecard["data"]}
            assert prefixes == {"MH"} if user == "coord_mh" else prefixes == {"UP", "BR"}
            # a total over the whole program is the total of their states only
            total = _data(coord, charts["Registered pregnant women"])["data"][0]
            con = duckdb.connect(str(live_superset.serving), read_only=True)
            expected = con.execute(
                "select sum(registered_pregnant_women) from mart_program_indicators_monthly "
                f"where state in ({', '.join('?' for _ in states)})",
                list(states),
            ).fetchone()[0]
            con.close()
            assert next(iter(total.values())) == expected


def _serving_value(live_superset, sql: str, params: list | None = None):
    con = duckdb.connect(str(live_superset.serving), read_only=True)
    try:
        return con.execute(sql, params or []).fetchone()[0]
    finally:
        con.close()


def test_form_explorer_keeps_coordinators_to_their_states(live_superset):
    """The form layer's counts carry the form's state question: a coordinator's totals are their states'
    (a form without geography counts for nobody but admins and staff); labels have no geography."""
    with live_superset.admin() as admin:
        charts = _chart_ids(admin)
        total = next(iter(_data(admin, charts["Form submissions"])["data"][0].values()))
        assert total == _serving_value(
            live_superset, "select sum(submissions) from fct_form_submissions_daily"
        )
        labels = _data(admin, charts["Labels in every language"])["rowcount"]
    cases = {"coord_mh": ["MH"], "coord_north": ["UP", "BR"], "coord_unmapped": []}
    for user, states in cases.items():
        with live_superset.login(user) as coord:
            result = _data(coord, charts["Form submissions"])["data"]
            got = next(iter(result[0].values())) if result else None
            expected = _serving_value(
                live_superset,
                "select sum(submissions) from fct_form_submissions_daily where list_contains(?, state_code)",
                [states],
            )
            assert got == expected and (expected or 0) < total, user
            enumerators = _data(coord, charts["Form submissions by enumerator"])["data"]
            assert {r["form"] for r in enumerators} == ({"household_survey"} if states else set()), user
            numbers = _data(coord, charts["Numeric questions by month"])["data"]
            assert {r["form"] for r in numbers} == ({"household_survey"} if states else set()), user
            assert _data(coord, charts["Labels in every language"])["rowcount"] == labels, user


def test_coordinator_without_states_sees_no_rows(live_superset):
    with live_superset.admin() as admin:
        charts = _chart_ids(admin)
    with live_superset.login("coord_unmapped") as coord:
        assert _data(coord, charts["Indicators by district"])["rowcount"] == 0
        assert _data(coord, charts["Field worker scorecard"])["rowcount"] == 0
        # the data quality history has no geography: not restricted
        assert _data(coord, charts["Checks by table"])["rowcount"] > 0


def test_funder_opens_only_the_funder_dashboard_and_no_sql_lab(live_superset):
    with live_superset.admin() as admin:
        dashboards = {d["slug"]: d["id"] for d in admin.list_all("/api/v1/dashboard/", ["id", "slug"])}
        charts = _chart_ids(admin)
        database_id = admin.list_all("/api/v1/database/", ["id"])[0]["id"]
    with live_superset.login("funder1") as funder:
        listed = {d["slug"] for d in funder.list_all("/api/v1/dashboard/", ["id", "slug"])}
        assert listed == {"funder-view"}
        assert funder.request("GET", f"/api/v1/dashboard/{dashboards['funder-view']}").status_code == 200
        for slug, dashboard_id in dashboards.items():
            if slug != "funder-view":
                status = funder.request("GET", f"/api/v1/dashboard/{dashboard_id}").status_code
                assert status in (403, 404), f"funder opened {slug}: HTTP {status}"
        assert _data(funder, charts["Funder: indicators by state"])["rowcount"] > 0
        status = funder.request("GET", f"/api/v1/chart/{charts['Indicators by district']}/data/").status_code
        assert status in (403, 404)
        sql = funder.request(
            "POST",
            "/api/v1/sqllab/execute/",
            json={
                "database_id": database_id,
                "sql": "select * from mart_program_indicators_monthly",
                "runAsync": False,
            },
        )
        assert sql.status_code in (401, 403), sql.text[:300]
        assert funder.request("GET", "/sqllab/", follow_redirects=False).status_code in (302, 403, 404)


def test_program_staff_views_but_cannot_edit_or_query(live_superset):
    with live_superset.admin() as admin:
        dashboards = {d["slug"]: d["id"] for d in admin.list_all("/api/v1/dashboard/", ["id", "slug"])}
        charts = _chart_ids(admin)
        database_id = admin.list_all("/api/v1/database/", ["id"])[0]["id"]
    with live_superset.login("staff1") as staff:
        listed = {d["slug"] for d in staff.list_all("/api/v1/dashboard/", ["id", "slug"])}
        assert listed == set(dashboards)
        assert _data(staff, charts["Indicators by district"])["rowcount"] > 0
        resp = staff.request("PUT", f"/api/v1/chart/{charts['Stunted %']}", json={"slice_name": "x"})
        assert resp.status_code in (401, 403)
        sql = staff.request(
            "POST", "/api/v1/sqllab/execute/", json={"database_id": database_id, "sql": "select 1"}
        )
        assert sql.status_code in (401, 403)


def test_analyst_queries_serving_read_only_in_sql_lab(live_superset):
    with live_superset.admin() as admin:
        database_id = admin.list_all("/api/v1/database/", ["id"])[0]["id"]
    with live_superset.login("analyst1") as analyst:
        resp = analyst.request(
            "POST",
            "/api/v1/sqllab/execute/",
            json={
                "database_id": database_id,
                "sql": "select count(*) as n from mart_program_indicators_monthly",
                "runAsync": False,
            },
        )
        assert resp.status_code == 200, resp.text[:500]
        assert resp.json()["data"][0]["n"] > 0
        write = analyst.request(
            "POST",
            "/api/v1/sqllab/execute/",
            json={"database_id": database_id, "sql": "drop table dim_date", "runAsync": False},
        )
        assert write.status_code >= 400
        # DuckDB's external access is off: no reading files of the server through SQL
        leak = analyst.request(
            "POST",
            "/api/v1/sqllab/execute/",
            json={
                "database_id": database_id,
                "sql": "select * from read_text('/etc/hostname')",
                "runAsync": False,
            },
        )
        assert leak.status_code >= 400 and "file system operations are disabled" in leak.text
    con = duckdb.connect(str(live_superset.serving), read_only=True)
    assert con.execute("select count(*) from dim_date").fetchone()[0] > 0
    con.close()


def test_setup_is_idempotent_and_keeps_its_secrets(superset_home):
    key = (superset_home.path / "secret_key").read_text()
    password = superset_home.admin_password()
    again = server.setup(superset_home.path, announce=False)  # marker present: no db upgrade, no new admin
    assert (again.path / "secret_key").read_text() == key and again.admin_password() == password
    assert len(key.strip()) >= 40
    for name in ("secret_key", "admin_password", "superset_config.py"):
        assert (superset_home.path / name).stat().st_mode & 0o077 == 0, name
    config = superset_home.config_path.read_text()
    assert key.strip() not in config  # the key stays in its own file, never in the config
    assert '"DASHBOARD_RBAC": True' in config and "SUPERSET_DATABASE_URI" in config
