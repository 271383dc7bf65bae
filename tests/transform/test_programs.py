"""Program marts say when they don't apply (transform/programs.yaml): off programs are not built, not
published, and named with the reason; a built program mart that is empty while its inputs are not fails a
blocking check."""

from __future__ import annotations

import copy
from pathlib import Path

import duckdb
import pytest
import yaml

from sangam.config import parse_config
from tests.conftest import REPO
from tests.transform import raw_fixture
from transform.dbt_runner import build
from transform.programs import load_programs, program_status

BASE = yaml.safe_load((REPO / "sources.yaml").read_text())


def _config(drop: set[str] = frozenset(), own_form_only: bool = False):
    doc = copy.deepcopy(BASE)
    if own_form_only:  # an NGO's own server: one KoBo form the demo does not have, nothing else
        doc["sources"] = [
            {"name": "kobo", "kind": "kobo", "url": "https://kf.example.org",
             "token_env": "SANGAM_KOBO_TOKEN", "forms": [{"uid": "aOwnForm123", "table": "household_survey"}]}
        ]  # fmt: skip
    for src in doc["sources"]:
        if "forms" in src:
            src["forms"] = [
                f for f in src["forms"] if f"{src['name']}.{f.get('table', f.get('xml_form_id'))}" not in drop
            ]
        if "files" in src:
            src["files"] = [f for f in src["files"] if f"{src['name']}.{f['table']}" not in drop]
    return parse_config(doc, home=REPO)


def test_every_program_is_on_for_the_demo_and_lists_real_models() -> None:
    assert all(s.on for s in program_status(_config()))
    models = {p.stem for p in (REPO / "transform" / "models").rglob("*.sql")}
    for program in load_programs():
        assert set(program.models) <= models, program.name


def test_a_missing_form_turns_its_programs_off_and_names_it() -> None:
    status = {s.program.name: s for s in program_status(_config(drop={"odk.scheme_application"}))}
    assert status["mch"].on
    assert (
        not status["welfare"].on and "odk.scheme_application not in sources.yaml" in status["welfare"].reason
    )
    assert not status["field_workers"].on
    own = program_status(_config(own_form_only=True))
    assert not any(s.on for s in own)


def test_off_programs_are_not_built_and_the_rest_still_is(tmp_path: Path) -> None:
    wh = raw_fixture.build(tmp_path / "warehouse.duckdb")
    result = build(
        wh, target_path=tmp_path / "target", dbt_vars={"programs_off": ["welfare", "field_workers"]}
    )
    assert result.success, result.failures
    with duckdb.connect(str(wh), read_only=True) as con:
        marts = {t for (t,) in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts'").fetchall()}  # fmt: skip
    assert "mart_program_indicators_monthly" in marts and "fct_form_submissions_daily" in marts
    assert not marts & {"mart_scheme_applications", "mart_field_worker_weekly", "dim_field_worker"}
    assert not any("scheme_applications" in uid for uid in result.statuses), "off models must not run"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("programs")
    wh = raw_fixture.build(work / "warehouse.duckdb")
    assert build(wh, target_path=work / "target").success
    return wh


def test_an_empty_program_mart_with_live_inputs_fails_a_blocking_check(built: Path, tmp_path: Path) -> None:
    import shutil

    from quality.checks import run_checks
    from quality.settings import load_settings

    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(built, wh)
    settings = load_settings(
        {"warehouse": {"path": str(wh), "serving_path": str(tmp_path / "serving.duckdb")}}
    )
    ok = run_checks(wh, settings, stage="marts")
    assert [r for r in ok.results if r.name == "program_mart_not_empty" and r.passed]
    assert not [r for r in ok.results if r.name == "program_mart_not_empty" and not r.passed]
    with duckdb.connect(str(wh)) as con:
        con.execute("delete from marts.mart_scheme_applications")
    report = run_checks(wh, settings, stage="marts")
    failed = [r for r in report.blocking_failures if r.name == "program_mart_not_empty"]
    assert [r.table for r in failed] == ["marts.mart_scheme_applications"], report.summary()
    assert "0 rows built from" in failed[0].observed_value and "program welfare" in failed[0].observed_value
