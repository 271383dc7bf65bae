"""Form definition changes: each run compares every form's definition with the last one loaded, appends the
differences to `raw_<source>.form_changes` once, and says them in plain words in the run summary.

Against the emulators: the first load records nothing, a new KoBo version / a new published ODK version that
adds, removes, relabels and retypes a question and changes choices records exactly those changes, and a third
run with nothing new records nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from demo.emulators import running
from demo.generator import forms as F
from demo.generator.kobo import KOBO_VERSION_UIDS
from extract.form_changes import Definition, FormChange, definition_of, describe, diff
from extract.run import LoadReport, run_source
from tests.extract.form_versions import deploy_kobo_version, publish_odk_version

V3 = "vC3dK2tR7wN4pB8hL1sQ6m"  # a new KPI-looking version uid
V1, V2 = KOBO_VERSION_UIDS[("child_health", "v1")], KOBO_VERSION_UIDS[("child_health", "v2")]


def _field(path: str, version: str | None, type_: str = "decimal", label: str = "L", list_name=None) -> dict:
    name = path.rsplit("/", 1)[-1]
    return {"form": "f", "form_version": version, "path": path, "name": name, "type": type_,
            "list_name": list_name, "label": label, "labels": json.dumps({"en": label})}  # fmt: skip


def test_kobo_older_version_questions_are_history_not_the_definition() -> None:
    """KoBo lists questions only older versions have (their own version uid): a question the new version
    drops is removed even though form_fields still lists it, at the old version."""
    before = definition_of([_field("a", "v2"), _field("b", "v2"), _field("old", "v1")], [], None)
    assert before.version == "v2" and set(before.questions) == {"a", "b"}
    after = definition_of(
        [_field("a", "v3", "integer"), _field("c", "v3"), _field("b", "v2"), _field("old", "v1"),
         _field("x", None, "text")],
        [{"list_name": "sex", "name": "other", "label": "Other"}],
        before,
    )  # fmt: skip
    assert after.version == "v3" and set(after.questions) == {"a", "c"}
    changes = diff("kobo", "f", before, after)
    assert [(c.kind, c.question, c.detail) for c in changes] == [
        ("question_added", "c", "decimal"),
        ("question_removed", "b", "decimal"),
        ("type_changed", "a", "decimal → integer"),
        ("choice_added", "sex", "'other' (Other)"),
    ]
    assert describe(changes) == ["f v3: added c (decimal); removed b; a retyped decimal → integer; "
                                 "new choice 'other' (Other) in sex"]  # fmt: skip
    # the same definition again (the new version's uid already seen): nothing
    again = definition_of(
        [_field("a", "v3", "integer"), _field("c", "v3"), _field("b", "v2"), _field("old", "v1")],
        [{"list_name": "sex", "name": "other", "label": "Other"}],
        Definition.from_json(after.version, json.dumps(sorted(after.versions)), after.as_json()),
    )
    assert again.version == "v3" and diff("kobo", "f", after, again) == []


def test_relabel_in_plain_words() -> None:
    before = definition_of([_field("w", "1", label="Weight (kg)")], [], None)
    after = definition_of([_field("w", "2", label="Child's weight (kg)")], [], before)
    changes = diff("odk", "f", before, after)
    assert changes == [
        FormChange("odk", "f", "2", "label_changed", "w", "'Weight (kg)' → 'Child's weight (kg)'")
    ]
    assert describe(changes) == ["f 2: 'Weight (kg)' relabelled"]


# ---------------------------------------------------------------- through the emulators


@pytest.fixture
def world(world_copy: Path) -> Iterator[tuple[Path, object]]:
    """A private copy of the demo world on its own emulators (the tests deploy new versions into it)."""
    with running(world_copy) as servers:
        yield world_copy, servers


def _changes(wh: Path, dataset: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(
            f"select source, form, version, kind, question, detail from {dataset}.form_changes "
            "order by kind, question, detail"
        ).fetchall()


def _kobo_v3(content: dict) -> None:
    """child_health v3: adds head_circ_cm, drops height_cm, relabels weight_kg, retypes child_id (text →
    barcode) and adds the choice sex = other."""
    survey = content["survey"]
    by_name = {r.get("name"): r for r in survey}
    survey.remove(by_name["height_cm"])
    by_name["weight_kg"]["label"] = ["Child's weight (kg)", by_name["weight_kg"]["label"][1]]
    by_name["child_id"]["type"] = "barcode"
    at = survey.index(by_name["vaccines"]) + 1
    head = ["Head circumference (cm)", "सिर की परिधि"]
    survey.insert(at, {"$kuid": "hc3k9", "type": "decimal", "name": "head_circ_cm", "label": head,
                       "$autoname": "head_circ_cm", "$xpath": "children/child/head_circ_cm",
                       "required": False})  # fmt: skip
    other = {"name": "other", "$kuid": "sx3o1", "label": ["Other", "अन्य"], "list_name": "sex"}
    content["choices"].append({**other, "$autovalue": "other"})
    content["settings"]["version"] = "v3"


def test_kobo_new_version_is_recorded_once(world, make_config) -> None:
    world_dir, servers = world
    config = make_config(servers.kobo_url, servers.odk_url, world_dir / "sheets")
    src = next(s for s in config.sources if s.kind == "kobo")
    wh = config.warehouse.path

    first = run_source(src, config)
    assert first.status == "ok", first.error
    assert first.form_changes == [] and _changes(wh, "raw_kobo") == []  # a first load has nothing to compare

    deploy_kobo_version(world_dir, servers.kobo_url, "child_health", V3, _kobo_v3)
    second = run_source(src, config)
    assert second.status == "ok", second.error
    assert _changes(wh, "raw_kobo") == [
        ("kobo", "child_health", V3, "choice_added", "sex", "'other' (Other)"),
        ("kobo", "child_health", V3, "label_changed", "weight_kg", "'Weight (kg)' → 'Child's weight (kg)'"),
        ("kobo", "child_health", V3, "question_added", "head_circ_cm", "decimal"),
        ("kobo", "child_health", V3, "question_removed", "height_cm", "decimal"),
        ("kobo", "child_health", V3, "type_changed", "child_id", "text → barcode"),
    ]
    line = (f"child_health {V3}: added head_circ_cm (decimal); removed height_cm; child_id retyped text → "
            "barcode; 'Weight (kg)' relabelled; new choice 'other' (Other) in sex")  # fmt: skip
    assert second.form_changes == [line]
    assert f"form changed: {line}" in LoadReport([second], wh).summary()
    with duckdb.connect(str(wh), read_only=True) as con:  # the removed question's answers are still there
        assert con.execute("select count(height_cm) from raw_kobo.child_health__child").fetchone()[0] > 0

    third = run_source(src, config)
    assert third.status == "ok", third.error
    assert third.form_changes == [] and len(_changes(wh, "raw_kobo")) == 5


def _odk_delivery_v2() -> F.Form:
    """delivery v2: adds baby_length_cm, drops birth_weight_kg, relabels place, retypes delivery_type
    select_one → text (Central allows a change to string only; its choice list goes) and adds sex = other."""
    form = F.delivery()
    survey = []
    for row in form.survey:
        row = dict(row)
        if row.get("name") == "birth_weight_kg":
            continue
        if row.get("name") == "place":
            row["label::English (en)"] = "Where the baby was born"
        if row.get("name") == "delivery_type":
            row["type"] = "text"
        survey.append(row)
        if row.get("name") == "sex":
            survey.append(F.q("decimal", "baby_length_cm", "Length at birth (cm)", "जन्म के समय लंबाई (से.मी.)"))
    choices = [c for c in form.choices if c["list_name"] != "delivery_type"]
    choices.append(
        {"list_name": "sex", "name": "other", "label::English (en)": "Other", "label::Hindi (hi)": "अन्य"}
    )
    return F.Form(form.form_id, form.title, "v2", form.server, survey, choices)


def test_odk_new_published_version_is_recorded_once(world, make_config) -> None:
    world_dir, servers = world
    config = make_config(servers.kobo_url, servers.odk_url, world_dir / "sheets")
    src = next(s for s in config.sources if s.kind == "odk")
    wh = config.warehouse.path

    first = run_source(src, config)
    assert first.status == "ok", first.error
    assert first.form_changes == [] and _changes(wh, "raw_odk") == []

    publish_odk_version(world_dir, servers.odk_url, _odk_delivery_v2())
    second = run_source(src, config)
    assert second.status == "ok", second.error
    row = ("odk", "delivery", "v2")
    assert _changes(wh, "raw_odk") == [
        (*row, "choice_added", "sex", "'other' (Other)"),
        (*row, "choice_removed", "delivery_type", "'assisted' (Assisted)"),
        (*row, "choice_removed", "delivery_type", "'caesarean' (Caesarean)"),
        (*row, "choice_removed", "delivery_type", "'normal' (Normal)"),
        (*row, "label_changed", "place", "'Place of delivery' → 'Where the baby was born'"),
        (*row, "question_added", "baby_length_cm", "decimal"),
        (*row, "question_removed", "birth_weight_kg", "decimal"),
        (*row, "type_changed", "delivery_type", "select_one delivery_type → text"),
    ]
    assert second.form_changes == [
        "delivery v2: added baby_length_cm (decimal); removed birth_weight_kg; delivery_type retyped "
        "select_one delivery_type → text; 'Place of delivery' relabelled; new choice 'other' (Other) in sex; "
        "choice 'assisted' (Assisted) removed from delivery_type; "
        "choice 'caesarean' (Caesarean) removed from delivery_type; "
        "choice 'normal' (Normal) removed from delivery_type"
    ]

    third = run_source(src, config)
    assert third.status == "ok", third.error
    assert third.form_changes == [] and len(_changes(wh, "raw_odk")) == 8
