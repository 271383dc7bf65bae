"""The committed XLSForms: valid under pyxform, bilingual, covering the question types the programme needs."""

from __future__ import annotations

import io

import openpyxl
import pytest
from pyxform.xls2xform import convert

from demo.generator import forms as F

COMMITTED = sorted(F.FORMS_DIR.rglob("*.xlsx"))
PERSONAL = {"woman_name", "child_name", "head_name", "phone", "aadhaar", "home_gps"}


def test_every_contract_form_is_committed() -> None:
    names = {p.name for p in COMMITTED}
    for form_id in ("pregnancy_registration", "child_health", "anc_visit", "delivery", "scheme_application"):
        assert f"{form_id}.xlsx" in names
    assert (F.FORMS_DIR / "versions" / "child_health__v1.xlsx").exists()


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_committed_form_converts_with_pyxform(path) -> None:
    warnings: list[str] = []
    result = convert(xlsform=str(path), warnings=warnings)
    assert "<h:html" in result.xform
    assert 'lang="English (en)"' in result.xform and 'lang="Hindi (hi)"' in result.xform
    assert warnings == []


@pytest.mark.parametrize(
    "form", [*F.all_forms(), F.child_health("v1")], ids=lambda f: f"{f.form_id}-{f.version}"
)
def test_committed_file_matches_the_definition(form) -> None:
    """demo/forms/*.xlsx are regenerated from demo/generator/forms.py (python -m demo.generator.forms)."""
    committed = openpyxl.load_workbook(F.xlsform_path(form.form_id, form.version))
    fresh = openpyxl.load_workbook(io.BytesIO(F.xlsform_bytes(form)))
    for sheet in ("survey", "choices", "settings"):
        assert list(committed[sheet].values) == list(fresh[sheet].values), sheet


def test_forms_cover_the_required_question_types() -> None:
    types, cascading = set(), set()
    for form in F.all_forms():
        for row in form.survey:
            types.add(row["type"].split(" ")[0])
            if row.get("choice_filter"):
                cascading.add(row["name"])
    for needed in (
        "begin_group",
        "begin_repeat",
        "select_one",
        "select_multiple",
        "geopoint",
        "date",
        "integer",
        "decimal",
        "calculate",
    ):
        assert needed in types
    assert cascading == {"district", "block", "village"}


def test_every_label_has_english_and_hindi() -> None:
    for form in [*F.all_forms(), F.child_health("v1")]:
        for row in form.survey:
            if row["type"] in ("begin_group", "begin_repeat") or row.get("label::English (en)"):
                assert row["label::English (en)"] and row["label::Hindi (hi)"], (form.form_id, row)
        for choice in form.choices:
            assert choice["label::English (en)"] and choice["label::Hindi (hi)"], (form.form_id, choice)


def test_child_health_v2_adds_muac_and_drops_oedema() -> None:
    v1 = {q.name for q in F.questions(F.child_health("v1"))}
    v2 = {q.name for q in F.questions(F.child_health("v2"))}
    assert v2 - v1 == {"muac_cm"}
    assert v1 - v2 == {"oedema"}


def test_personal_fields_use_the_contract_names() -> None:
    """Text and geopoint questions about people are exactly the names sources.yaml lists as personal."""
    found = set()
    for form in F.all_forms():
        for q in F.questions(form):
            if q.type == "geopoint" or q.name.endswith("_name") or q.name in ("phone", "aadhaar"):
                found.add(q.name)
    assert found == PERSONAL


def test_geography_choices_cascade_by_code() -> None:
    rows = F.geography_choices()
    states = {r["name"] for r in rows if r["list_name"] == "state"}
    districts = [r for r in rows if r["list_name"] == "district"]
    villages = [r for r in rows if r["list_name"] == "village"]
    assert len(states) >= 2
    assert all(d["state"] in states and d["name"].startswith(d["state"] + "_") for d in districts)
    assert all(v["name"].startswith(v["block"] + "_V") for v in villages)
    assert villages[0]["name"] == "MH_PUN_B1_V01"


def test_odk_fields_follow_central_schema() -> None:
    fields = F.odk_fields(F.to_xform(F.delivery()))
    by_path = {f["path"]: f for f in fields}
    assert by_path["/babies"]["type"] == "structure"
    assert by_path["/babies/baby"]["type"] == "repeat"
    assert by_path["/babies/baby/birth_weight_kg"]["type"] == "decimal"
    assert by_path["/location/village"]["type"] == "string"
    assert by_path["/meta/instanceID"]["type"] == "string"
    children = F.odk_fields(F.to_xform(F.child_health()))
    assert {f["name"] for f in children if f["selectMultiple"]} == {"vaccines"}
