"""End to end against the emulators: every source loads typed, reruns never duplicate, loads are recorded."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from demo.generator import KOBO_ASSET_UIDS
from demo.generator.kobo import KOBO_VERSION_UIDS
from extract.run import load_sources


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _q(wh: Path, sql: str):
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def loaded(emulators, demo_world: Path, make_config):
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets")
    report = load_sources(config)
    return config, report


def test_full_load_matches_the_world(loaded, demo_world: Path) -> None:
    config, report = loaded
    assert report.ok, report.summary()
    wh = config.warehouse.path
    for form, uid in KOBO_ASSET_UIDS.items():
        subs = _jsonl(demo_world / "kobo" / "submissions" / f"{uid}.jsonl")
        assert _q(wh, f"select count(*), count(distinct submission_id) from raw_kobo.{form}")[0] == (
            len(subs), len(subs),
        )  # fmt: skip
    child_subs = _jsonl(demo_world / "kobo" / "submissions" / f"{KOBO_ASSET_UIDS['child_health']}.jsonl")
    kids = sum(len(s.get("children/child") or []) for s in child_subs)
    assert _q(wh, "select count(*) from raw_kobo.child_health__child")[0][0] == kids
    assert _q(wh, "select count(*) from raw_kobo.child_health__child c anti join raw_kobo.child_health p "
                  "using (submission_id)")[0][0] == 0  # fmt: skip
    for form in ("anc_visit", "delivery", "scheme_application"):
        rows = _jsonl(demo_world / "odk" / "forms" / "1" / form / "Submissions.jsonl")
        deleted = sum(1 for r in rows if r["__system"].get("deletedAt"))
        got = _q(wh, f"select count(*), count(deleted_at) from raw_odk.{form}")[0]
        assert got == (len(rows), deleted), form
    babies = _jsonl(demo_world / "odk" / "forms" / "1" / "delivery" / "Submissions.babies.baby.jsonl")
    live = {r["__id"] for r in _jsonl(demo_world / "odk/forms/1/delivery/Submissions.jsonl")
            if not r["__system"].get("deletedAt")}  # fmt: skip
    expected = sum(1 for b in babies if b["__Submissions-id"] in live)
    assert _q(wh, "select count(*) from raw_odk.delivery__baby")[0][0] >= expected
    for t in ("field_workers", "district_targets", "partner_monthly"):
        assert _q(wh, f"select count(*) from raw_sheets.{t}")[0][0] > 0


def test_column_types_follow_the_contract(loaded) -> None:
    config, _ = loaded
    wh = config.warehouse.path
    types = dict(_q(wh, "select table_schema || '.' || table_name || '.' || column_name, data_type "
                        "from information_schema.columns"))  # fmt: skip
    expect = {
        "raw_kobo.child_health.submission_id": "VARCHAR",
        "raw_kobo.child_health.submitted_at": "TIMESTAMP",
        "raw_kobo.child_health.visit_date": "DATE",
        "raw_kobo.child_health.home_gps_latitude": "DOUBLE",
        "raw_kobo.child_health.home_gps_accuracy": "DOUBLE",
        "raw_kobo.child_health__child.weight_kg": "DOUBLE",
        "raw_kobo.child_health__child.repeat_index": "BIGINT",
        "raw_kobo.child_health__child.vaccines": "VARCHAR",
        "raw_kobo.pregnancy_registration.age_years": "BIGINT",
        "raw_odk.anc_visit.visit_number": "BIGINT",
        "raw_odk.anc_visit.hb_gdl": "DOUBLE",
        "raw_odk.anc_visit.updated_at": "TIMESTAMP",
        "raw_odk.delivery.delivery_date": "DATE",
        "raw_odk.delivery__baby.birth_weight_kg": "DOUBLE",
        "raw_odk.form_fields.is_personal": "BOOLEAN",
        "raw_sheets.district_targets.month_start": "DATE",
        "raw_sheets.field_workers.phone": "VARCHAR",
    }
    for col, typ in expect.items():
        assert types.get(col) == typ, (col, types.get(col))
    # select_multiple keeps its text and gains a list (stored as a JSON array: cast ::VARCHAR[])
    vac = _q(wh, "select vaccines, vaccines_list::varchar[] from raw_kobo.child_health__child "
                 "where vaccines is not null limit 1")[0]  # fmt: skip
    assert vac[1] == vac[0].split()
    labels = _q(wh, "select labels from raw_odk.form_choices where list_name = 'place' and name = 'phc'")
    assert json.loads(labels[0][0])["en"]
    personal = dict(_q(wh, "select column_name, is_personal from raw_kobo.form_fields "
                           "where form = 'pregnancy_registration'"))  # fmt: skip
    assert personal["woman_name"] and personal["home_gps"] and not personal["age_years"]


def test_rerun_is_idempotent_and_recorded(loaded, emulators, demo_world: Path, make_config) -> None:
    config, first = loaded
    wh = config.warehouse.path
    tables = [
        "raw_kobo.child_health", "raw_kobo.child_health__child", "raw_kobo.pregnancy_registration",
        "raw_odk.delivery", "raw_odk.delivery__baby", "raw_odk.anc_visit", "raw_sheets.partner_monthly",
    ]  # fmt: skip
    before = {t: _q(wh, f"select count(*) from {t}")[0][0] for t in tables}
    second = load_sources(config)
    assert second.ok, second.summary()
    after = {t: _q(wh, f"select count(*) from {t}")[0][0] for t in tables}
    assert after == before
    assert _q(wh, "select count(*) - count(distinct row_id) from raw_kobo.child_health__child")[0][0] == 0
    # the second run read only the overlap window, not the whole form
    assert second.result("kobo").rows.get("child_health", 0) < before["raw_kobo.child_health"]
    assert "sheets" not in {r.source for r in second.failed}
    loads = _q(
        wh, "select form, table_name, rows, status, cursor from raw_kobo._sangam_loads order by started_at"
    )
    assert {r[1] for r in loads} >= {"child_health", "child_health__child", "pregnancy_registration"}
    assert all(r[3] == "ok" for r in loads) and all(r[4] for r in loads)
    summary = second.summary()
    assert "kobo" in summary and "OK" in summary


def test_schema_drift_old_version_fields_are_kept_and_listed(loaded, demo_world: Path) -> None:
    """child_health v2 dropped `oedema` and added `muac_cm`: v1 answers stay, typed from the v1 definition
    (read from the server's deployed versions), and form_fields lists the column so staging keeps it."""
    config, _ = loaded
    wh = config.warehouse.path
    subs = _jsonl(demo_world / "kobo" / "submissions" / f"{KOBO_ASSET_UIDS['child_health']}.jsonl")
    v1 = [
        c["children/child/oedema"]
        for s in subs
        for c in s.get("children/child") or []
        if "children/child/oedema" in c
    ]
    assert v1, "the demo world should hold v1 submissions"
    got = _q(wh, "select count(oedema), count(muac_cm) from raw_kobo.child_health__child")[0]
    assert got[0] == len(v1) and got[1] > 0
    fields = _q(wh, "select type, path, form_version, list_name from raw_kobo.form_fields "
                    "where table_name = 'child_health__child' and column_name = 'oedema'")  # fmt: skip
    v1_uid = KOBO_VERSION_UIDS[("child_health", "v1")]
    assert fields == [("select_one", "children/child/oedema", v1_uid, "yes_no")]
    versions = dict(_q(wh, "select form_version, count(*) from raw_kobo.child_health group by 1"))
    assert len(versions) == 2
