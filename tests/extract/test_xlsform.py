"""A form's definition from its XLSForm file (sources.yaml `xlsform:`), read with pyxform: it types a form as
the server's own definition does, and a form whose file is broken fails alone, named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from demo.generator import KOBO_ASSET_UIDS
from extract.run import run_source
from extract.schema import schema_from_kobo_asset
from extract.xform import parse_xform
from extract.xlsform import kobo_content, xform_xml
from sangam.config import ConfigError
from tests.conftest import REPO

FORMS = REPO / "demo" / "forms"


def _fields(schema) -> list[tuple]:
    return [
        (t.name, t.repeat_path, f.path, f.column, f.type, f.list_name, f.required, tuple(f.labels.items()))
        for t in schema.tables.values()
        for f in t.fields
    ]


@pytest.mark.parametrize("form", ["child_health", "pregnancy_registration"])
def test_kobo_content_from_xlsform_types_like_the_asset(demo_world: Path, form: str) -> None:
    asset = json.loads((demo_world / "kobo" / "assets" / f"{KOBO_ASSET_UIDS[form]}.json").read_text())
    server = schema_from_kobo_asset("kobo", form, asset)
    content, version = kobo_content(FORMS / f"{form}.xlsx", f"kobo/{form}")
    from_file = schema_from_kobo_asset("kobo", form, {"content": content, "version_id": version})
    assert _fields(from_file) == _fields(server) and len(_fields(server)) > 10
    assert [(c.list_name, c.name, c.labels) for c in from_file.choices] == [
        (c.list_name, c.name, c.labels) for c in server.choices
    ]
    assert from_file.default_lang == server.default_lang == "en"
    assert version == ("v2" if form == "child_health" else "v1")


@pytest.mark.parametrize("form", ["anc_visit", "delivery", "scheme_application"])
def test_xform_from_xlsform_equals_centrals(demo_world: Path, form: str) -> None:
    served = parse_xform((demo_world / "odk" / "forms" / "1" / form / "form.xml").read_text())
    built = parse_xform(xform_xml(FORMS / f"{form}.xlsx", f"odk/{form}"))
    assert built.fields == served.fields and built.fields
    assert built.choices == served.choices and built.default_lang == served.default_lang


def _odk_only(doc: dict, xlsform: str) -> None:
    doc["sources"] = [s for s in doc["sources"] if s["kind"] == "odk"]
    src = doc["sources"][0]
    src["forms"] = [{"xml_form_id": "anc_visit", "table": "anc_visit", "xlsform": xlsform},
                    {"xml_form_id": "delivery", "table": "delivery"}]  # fmt: skip


def test_an_odk_form_is_typed_from_its_xlsform(emulators, demo_world, make_config, tmp_path: Path) -> None:
    edited = tmp_path / "anc_visit.xlsx"
    shutil.copy(FORMS / "anc_visit.xlsx", edited)
    book = openpyxl.load_workbook(edited)
    survey = book["survey"]
    header = [c.value for c in survey[1]]
    name_col, label_col = header.index("name"), header.index("label::English (en)")
    row = next(r for r in survey.iter_rows(min_row=2) if r[name_col].value == "visit_date")
    row[label_col].value = "Date of the visit (from the file)"
    book.save(edited)
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets",
                         lambda doc: _odk_only(doc, str(edited)))  # fmt: skip
    result = run_source(config.source("odk"), config)
    assert result.ok, result.error
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        label = con.execute(
            "select label, type from raw_odk.form_fields where form = 'anc_visit' and name = 'visit_date'"
        ).fetchall()
        assert label == [("Date of the visit (from the file)", "date")]
        typ = con.execute(
            "select data_type from information_schema.columns where table_schema = 'raw_odk' "
            "and table_name = 'anc_visit' and column_name = 'visit_date'"
        ).fetchall()
        assert typ == [("DATE",)]


def test_a_broken_xlsform_fails_its_form_alone(emulators, demo_world, make_config, tmp_path: Path) -> None:
    broken = tmp_path / "anc_visit.xlsx"
    broken.write_text("not a workbook")
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets",
                         lambda doc: _odk_only(doc, str(broken)))  # fmt: skip
    result = run_source(config.source("odk"), config)
    assert not result.ok
    assert "anc_visit" in result.error and str(broken) in result.error
    assert result.rows.get("delivery"), "the other form of the source still loads"


def test_a_missing_xlsform_is_a_config_error(demo_world: Path, make_config) -> None:
    with pytest.raises(ConfigError, match=r"sources\[\d\]\.forms\[0\]\.xlsform: file not found"):
        make_config("http://127.0.0.1:9", "http://127.0.0.1:9", demo_world / "sheets",
                    lambda doc: _odk_only(doc, "no/such/form.xlsx"))  # fmt: skip


def test_a_kobo_form_is_typed_from_its_xlsform(emulators, demo_world, make_config) -> None:
    def kobo_only(doc: dict) -> None:
        doc["sources"] = [s for s in doc["sources"] if s["kind"] == "kobo"]
        uid = KOBO_ASSET_UIDS["child_health"]
        xlsform = str(FORMS / "versions" / "child_health__v1.xlsx")
        doc["sources"][0]["forms"] = [{"uid": uid, "table": "child_health", "xlsform": xlsform}]

    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets", kobo_only)
    result = run_source(config.source("kobo"), config)
    assert result.ok, result.error
    assert result.rows["child_health"] > 0
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        rows = dict(
            con.execute(
                "select name, form_version || ':' || type from raw_kobo.form_fields "
                "where form = 'child_health' and name in ('worker_id', 'oedema')"
            ).fetchall()
        )
    # the file's own version ("v1", from its settings sheet), not the server's version uid
    assert rows == {"worker_id": "v1:text", "oedema": "v1:select_one"}
