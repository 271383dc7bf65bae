"""Staging generated from form_fields: typed columns, labels as descriptions, overrides win, parse offline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import yaml

from tests.transform import raw_fixture
from transform import generate_staging
from transform.dbt_runner import PROJECT_DIR, run


def test_generated_models_are_typed_and_described(tmp_path: Path):
    wh = raw_fixture.build(tmp_path / "raw.duckdb")
    out = tmp_path / "staging"
    (out / "overrides").mkdir(parents=True)
    generate_staging.generate(wh, out)
    sql = (out / "kobo" / "stg_kobo__child_health__child.sql").read_text()
    assert "{{ typed('weight_kg', 'double', present) }}" in sql
    assert "{{ typed('vaccines_list', 'varchar[]', present) }}" in sql
    assert "ref('stg_kobo__child_health')" in sql  # repeat rows only of current submissions
    doc = yaml.safe_load((out / "kobo" / "stg_kobo__pregnancy_registration.yml").read_text())
    cols = {c["name"]: c for c in doc["models"][0]["columns"]}
    assert cols["registration_date"]["description"] == "Registration date"
    assert cols["home_gps_latitude"]["meta"]["is_personal"] is True
    assert cols["woman_name"]["meta"]["labels"]["hi"] == "Woman name (hi)"
    assert {"home_gps_longitude", "danger_signs_list"} <= set(cols)
    sources = yaml.safe_load((out / "odk" / "_odk__sources.yml").read_text())
    tables = {t["name"] for t in sources["sources"][0]["tables"]}
    assert {"anc_visit", "delivery", "delivery__baby", "scheme_application", "form_fields"} <= tables


def test_override_wins_and_stale_generated_files_go(tmp_path: Path):
    wh = raw_fixture.build(tmp_path / "raw.duckdb")
    out = tmp_path / "staging"
    (out / "overrides").mkdir(parents=True)
    generate_staging.generate(wh, out)
    assert (out / "odk" / "stg_odk__anc_visit.sql").exists()
    (out / "overrides" / "stg_odk__anc_visit.sql").write_text("select 1 as submission_id\n")
    generate_staging.generate(wh, out)
    assert not (out / "odk" / "stg_odk__anc_visit.sql").exists()
    assert not (out / "odk" / "stg_odk__anc_visit.yml").exists()
    assert (out / "odk" / "stg_odk__delivery.sql").exists()


def test_new_form_version_column_reads_as_null_until_loaded(tmp_path: Path):
    wh = raw_fixture.build(tmp_path / "raw.duckdb")
    con = duckdb.connect(str(wh))
    con.execute(
        """insert into raw_kobo.form_fields values ('kobo', 'child_health', 'v3', 'child_health/child/zinc',
           'zinc', 'zinc_given', 'child_health__child', 'select_one yes_no', 'yes_no', false, 'Zinc given',
           '{"en": "Zinc given"}', false)"""
    )
    con.close()
    out = tmp_path / "staging"
    generate_staging.generate(wh, out)
    sql = (out / "kobo" / "stg_kobo__child_health__child.sql").read_text()
    assert "{{ typed('zinc_given', 'varchar', present) }}" in sql


def test_loaded_columns_of_older_form_versions_are_kept(tmp_path: Path):
    wh = raw_fixture.build(tmp_path / "raw.duckdb")
    with duckdb.connect(str(wh)) as con:  # v1's question, no longer in the current definition
        con.execute("alter table raw_kobo.child_health__child add column oedema VARCHAR")
    out = tmp_path / "staging"
    generate_staging.generate(wh, out)
    assert (
        "{{ typed('oedema', 'varchar', present) }}"
        in (out / "kobo" / "stg_kobo__child_health__child.sql").read_text()
    )
    doc = yaml.safe_load((out / "kobo" / "stg_kobo__child_health__child.yml").read_text())
    (col,) = [c for c in doc["models"][0]["columns"] if c["name"] == "oedema"]
    assert col["meta"] == {"in_current_form": False}


def test_committed_staging_covers_the_demo_forms():
    committed = PROJECT_DIR / "models" / "staging"
    for source in ("kobo", "odk"):
        assert (committed / source / f"_{source}__sources.yml").exists()
    names = {p.stem for p in committed.glob("*/stg_*.sql")}
    assert {
        "stg_kobo__pregnancy_registration",
        "stg_kobo__child_health",
        "stg_kobo__child_health__child",
        "stg_odk__anc_visit",
        "stg_odk__delivery",
        "stg_odk__delivery__baby",
        "stg_odk__scheme_application",
    } <= names


def test_dbt_parse_needs_no_warehouse(tmp_path: Path, monkeypatch):
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    monkeypatch.setenv("SANGAM_WAREHOUSE", str(missing))
    result = run(["parse"], target_path=tmp_path / "target")
    assert result.success, result.failures
    assert (tmp_path / "target" / "manifest.json").exists()
    assert not missing.exists() and not missing.parent.exists()
    shutil.rmtree(tmp_path / "target")
    assert os.environ["SANGAM_WAREHOUSE"] == str(missing)
