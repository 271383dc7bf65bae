"""The generated demo world: layout, determinism, KoBo/ODK shapes, mess, spreadsheets and ground truth."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import openpyxl
import pytest

from demo.generator import KOBO_ASSET_UIDS, generate
from demo.generator.cli import main as cli_main
from tests.demo.world_files import read_jsonl, registrations_by_district_month, tree_digest

PREG, CHILD = KOBO_ASSET_UIDS["pregnancy_registration"], KOBO_ASSET_UIDS["child_health"]
ODK_FORMS = ("anc_visit", "delivery", "scheme_application")
INDIA = (6.5, 37.6, 68.1, 97.4)
KOBO_META = {"_id", "_attachments", "_geolocation", "_validation_status"}


@pytest.fixture(scope="module")
def world(demo_world: Path) -> Path:
    return demo_world


@pytest.fixture(scope="module")
def facts(world: Path) -> dict:
    return json.loads((world / "ground_truth" / "world.json").read_text())


def kobo(world: Path, uid: str) -> list[dict]:
    return read_jsonl(world / "kobo" / "submissions" / f"{uid}.jsonl")


def odk(world: Path, form: str, table: str = "Submissions") -> list[dict]:
    return read_jsonl(world / "odk" / "forms" / "1" / form / f"{table}.jsonl")


# --- layout and determinism -------------------------------------------------------------------------------


def test_layout_follows_the_contract(world: Path) -> None:
    for uid in KOBO_ASSET_UIDS.values():
        assert re.fullmatch(r"a[A-Za-z0-9]{21}", uid)
        assert (world / "kobo" / "assets" / f"{uid}.json").is_file()
        assert (world / "kobo" / "submissions" / f"{uid}.jsonl").is_file()
    for name in ("projects.json", "users.json"):
        assert (world / "odk" / name).is_file()
    for form in ODK_FORMS:
        for name in ("form.json", "fields.json", "form.xml", "Submissions.jsonl"):
            assert (world / "odk" / "forms" / "1" / form / name).is_file()
    assert (world / "odk" / "forms" / "1" / "delivery" / "Submissions.babies.baby.jsonl").is_file()
    for name in ("field_workers.xlsx", "district_targets.xlsx"):
        assert (world / "sheets" / name).is_file()
    assert len(list((world / "sheets" / "partner_monthly").glob("partner_*_*.csv"))) >= 11
    for name in ("program_indicators_monthly.csv", "scheme_applications_monthly.csv", "world.json"):
        assert (world / "ground_truth" / name).is_file()
    fragment = (world / "sources.yaml").read_text()
    assert PREG in fragment and CHILD in fragment


def test_same_seed_gives_identical_files_and_another_seed_differs(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, submissions=1000, seed=42)
    assert tree_digest(again) == tree_digest(world)
    other = tmp_path / "other"
    generate(other, submissions=1000, seed=43)
    a, b = tree_digest(world), tree_digest(other)
    assert a[f"kobo/submissions/{PREG}.jsonl"] != b[f"kobo/submissions/{PREG}.jsonl"]
    assert (
        a["ground_truth/program_indicators_monthly.csv"] != b["ground_truth/program_indicators_monthly.csv"]
    )


def test_submission_total_and_time_window(world: Path, facts: dict) -> None:
    assert sum(c["received"] for c in facts["counts"].values()) == 1000
    today = date.fromisoformat(facts["today"])
    assert date.fromisoformat(facts["window"]["start"]) == today - timedelta(days=365)
    times = [r["_submission_time"] for r in kobo(world, PREG)]
    assert max(times) < facts["observed_at_utc"]
    assert min(r["pregnancy/registration_date"] for r in kobo(world, PREG)) >= facts["window"]["start"]


def test_small_world_spans_several_states_in_every_form(world: Path) -> None:
    assert len({r["location/state"] for r in kobo(world, PREG)}) >= 2
    assert len({r["location/state"] for r in kobo(world, CHILD)}) >= 2
    for form in ODK_FORMS:
        assert len({r["location"]["state"] for r in odk(world, form)}) >= 2


# --- KoBo shape -------------------------------------------------------------------------------------------


def _strings_only(row: dict) -> None:
    for key, value in row.items():
        if key in KOBO_META:
            continue
        if isinstance(value, list):
            for item in value:
                assert all(isinstance(v, str) for v in item.values()), key
        else:
            assert isinstance(value, str), (key, value)


def test_kobo_submissions_are_shaped_like_kpi(world: Path) -> None:
    asset = json.loads((world / "kobo" / "assets" / f"{CHILD}.json").read_text())
    versions = {v["uid"] for v in asset["deployed_versions"]["results"]}
    rows = kobo(world, CHILD)
    ids = [r["_id"] for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for row in rows:
        _strings_only(row)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", row["_submission_time"])
        assert row["meta/instanceID"] == f"uuid:{row['_uuid']}"
        assert row["meta/rootUuid"].startswith("uuid:")
        assert row["_xform_id_string"] == CHILD
        assert row["__version__"] in versions
        assert len(row["_geolocation"]) == 2
        assert None not in row.values()
        for child in row["children/child"]:
            assert all(k.startswith("children/child/") for k in child)
            assert int(child["children/child/age_months"]) < 60
        if "meta/deprecatedID" in row:
            assert row["meta/rootUuid"] != row["meta/instanceID"]
        else:
            assert row["meta/rootUuid"] == row["meta/instanceID"]
        assert row["_validation_status"] == {} or row["_validation_status"]["uid"].startswith(
            "validation_status_"
        )


def test_kobo_form_versions_differ_in_their_fields(world: Path, facts: dict) -> None:
    uids = facts["kobo"]["version_uids"]
    rows = kobo(world, CHILD)
    seen = set()
    for row in rows:
        keys = {k for child in row["children/child"] for k in child}
        if row["__version__"] == uids["child_health:v1"]:
            seen.add("v1")
            assert "children/child/muac_cm" not in keys
        else:
            assert row["__version__"] == uids["child_health:v2"]
            seen.add("v2")
            assert "children/child/oedema" not in keys
    assert seen == {"v1", "v2"}


def test_kobo_asset_is_shaped_like_kpi(world: Path) -> None:
    asset = json.loads((world / "kobo" / "assets" / f"{PREG}.json").read_text())
    assert asset["uid"] == PREG and asset["asset_type"] == "survey" and asset["deployment__active"] is True
    assert asset["deployment__submission_count"] == len(kobo(world, PREG))
    content = asset["content"]
    assert content["translations"] == ["English (en)", "Hindi (hi)"]
    names = {row.get("name") for row in content["survey"]}
    assert {"woman_id", "woman_name", "home_gps", "danger_signs", "gestation_weeks"} <= names
    for row in content["survey"]:
        assert "$kuid" in row and "type" in row
        if "label" in row:
            assert len(row["label"]) == 2
    village = next(r for r in content["survey"] if r.get("name") == "village")
    assert village["select_from_list_name"] == "village" and village["choice_filter"] == "block=${block}"
    assert village["$xpath"] == "location/village"
    assert any(c["list_name"] == "village" and c["block"] == "MH_PUN_B1" for c in content["choices"])
    child = json.loads((world / "kobo" / "assets" / f"{CHILD}.json").read_text())
    assert child["deployed_versions"]["count"] == 2


# --- ODK shape --------------------------------------------------------------------------------------------

SYSTEM_KEYS = {
    "submissionDate",
    "updatedAt",
    "deletedAt",
    "submitterId",
    "submitterName",
    "attachmentsPresent",
    "attachmentsExpected",
    "status",
    "reviewState",
    "deviceId",
    "edits",
    "formVersion",
}


def test_odk_rows_are_shaped_like_central_odata(world: Path) -> None:
    for form in ODK_FORMS:
        fields = json.loads((world / "odk" / "forms" / "1" / form / "fields.json").read_text())
        top = {f["path"].split("/")[1] for f in fields if f["path"].count("/") == 1 and f["type"] != "repeat"}
        for row in odk(world, form):
            assert row["__id"].startswith("uuid:")
            assert top <= set(row)
            assert set(row["__system"]) == SYSTEM_KEYS
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["__system"]["submissionDate"])
            assert row["meta"]["instanceID"].startswith("uuid:")
            assert isinstance(row["location"], dict) and set(row["location"]) == {
                "state",
                "district",
                "block",
                "village",
            }
            if row["__system"]["reviewState"] == "edited":
                assert row["__system"]["updatedAt"] and row["__system"]["edits"] >= 1
                assert row["meta"]["instanceID"] != row["__id"]
            else:
                assert row["__system"]["updatedAt"] is None and row["meta"]["instanceID"] == row["__id"]
    anc = odk(world, "anc_visit")
    assert all(isinstance(r["visit_number"], int) for r in anc)
    assert all(r["exam"]["hb_gdl"] is None or isinstance(r["exam"]["hb_gdl"], (int, float)) for r in anc)
    assert any(r["exam"]["hb_gdl"] is None for r in anc)  # missing optional answers are null, not absent


def test_odk_repeat_table_links_to_its_parent(world: Path) -> None:
    parents = {r["__id"]: r for r in odk(world, "delivery")}
    babies = odk(world, "delivery", "Submissions.babies.baby")
    assert len(babies) >= len(parents)
    seen: dict[str, int] = {}
    for baby in babies:
        parent = baby["__Submissions-id"]
        assert parent in parents
        n = seen.get(parent, 0)
        seen[parent] = n + 1
        expected = hashlib.sha1(f"Submissions#{parent}%%babies#%%baby#{n}".encode()).hexdigest()
        assert baby["__id"] == expected
        assert isinstance(baby["birth_weight_kg"], (int, float)) or baby["birth_weight_kg"] is None
    row = next(iter(parents.values()))
    assert row["babies"]["baby@odata.navigationLink"] == (
        f"Submissions('{row['__id'].replace(':', '%3A')}')/babies/baby"
    )


def test_odk_users_come_from_the_environment(world: Path) -> None:
    users = json.loads((world / "odk" / "users.json").read_text())
    assert users == [{"email": "data-team@example.org", "password": "test-odk-password-77b2"}]


# --- mess -------------------------------------------------------------------------------------------------


def test_every_kind_of_mess_is_present_and_recorded(world: Path, facts: dict) -> None:
    mess = facts["mess"]
    assert {d["form"] for d in mess["duplicates"]} == {"pregnancy_registration", "child_health", *ODK_FORMS}
    assert mess["out_of_range"] and mess["gps_outside_india"]
    assert sum(len(v) for v in mess["late"].values()) > 0
    assert all(len(v) > 0 for v in mess["deleted"].values())
    assert all(len(v) > 0 for v in mess["edited"].values())
    assert all(v["submission_ids"] for v in mess["missing_optional"].values())
    assert (
        facts["form_versions"]["child_health"]["v1"] > 0 and facts["form_versions"]["child_health"]["v2"] > 0
    )


def test_duplicates_repeat_the_content_with_new_ids(world: Path, facts: dict) -> None:
    volatile = {"_id", "_uuid", "meta/instanceID", "meta/rootUuid", "_submission_time", "_validation_status"}
    rows = {str(r["_id"]): r for r in kobo(world, PREG)}
    dups = [d for d in facts["mess"]["duplicates"] if d["form"] == "pregnancy_registration"]
    assert dups
    for d in dups:
        dup, src = rows[d["submission_id"]], rows[d["duplicate_of"]]
        assert {k: v for k, v in dup.items() if k not in volatile} == {
            k: v for k, v in src.items() if k not in volatile
        }
        assert dup["_uuid"] != src["_uuid"] and dup["_submission_time"] > src["_submission_time"]


def test_deletes_are_hard_on_kobo_and_soft_on_odk(world: Path, facts: dict) -> None:
    kobo_ids = {str(r["_id"]) for r in kobo(world, PREG)}
    assert not set(facts["mess"]["deleted"]["pregnancy_registration"]) & kobo_ids
    rows = {r["__id"]: r for r in odk(world, "anc_visit")}
    for sid in facts["mess"]["deleted"]["anc_visit"]:
        assert rows[sid]["__system"]["deletedAt"] is not None
    assert sum(r["__system"]["deletedAt"] is not None for r in rows.values()) == len(
        facts["mess"]["deleted"]["anc_visit"]
    )


def test_kobo_edits_keep_id_and_change_instance(world: Path, facts: dict) -> None:
    rows = {str(r["_id"]): r for r in kobo(world, PREG)}
    edited = facts["mess"]["edited"]["pregnancy_registration"]
    assert edited
    for sid in edited:
        row = rows[sid]
        assert row["meta/deprecatedID"] == row["meta/rootUuid"] != row["meta/instanceID"]
    before = {
        d["submission_id"]: d["before"]
        for d in facts["mess"]["edit_details"]
        if d["form"] == "pregnancy_registration"
    }
    assert all(rows[sid].get("woman/phone") != old for sid, old in before.items())


def test_out_of_range_late_and_gps_mess_is_in_the_files(world: Path, facts: dict) -> None:
    rows = {str(r["_id"]): r for r in kobo(world, CHILD)}
    weights = [d for d in facts["mess"]["out_of_range"] if d["field"] == "weight_kg"]
    assert weights
    for d in weights:
        child = next(
            c
            for c in rows[d["submission_id"]]["children/child"]
            if c["children/child/child_id"] == d["child_id"]
        )
        assert float(child["children/child/weight_kg"]) == 95.0
    for d in facts["mess"]["gps_outside_india"]:
        uid = PREG if d["form"] == "pregnancy_registration" else CHILD
        row = next(r for r in kobo(world, uid) if str(r["_id"]) == d["submission_id"])
        gps = row["woman/home_gps" if uid == PREG else "household/home_gps"].split()
        lat, lon = float(gps[0]), float(gps[1])
        assert not (INDIA[0] <= lat <= INDIA[1] and INDIA[2] <= lon <= INDIA[3])
    late = set(facts["mess"]["late"]["child_health"])
    assert late
    for sid, row in rows.items():
        visit = date.fromisoformat(row["visit_date"])
        submitted = date.fromisoformat(row["_submission_time"][:10])
        assert (submitted > visit + timedelta(days=7)) == (sid in late), sid


# --- spreadsheets -----------------------------------------------------------------------------------------


def test_roster_has_title_rows_merged_cells_and_trailing_blanks(world: Path) -> None:
    ws = openpyxl.load_workbook(world / "sheets" / "field_workers.xlsx").active
    rows = list(ws.values)
    assert rows[3][:3] == ("Worker ID", "Worker Name", "Supervisor ID")
    assert rows[0][0] and rows[2] == (None,) * len(rows[2])
    assert any(str(r) == "A1:I1" for r in ws.merged_cells.ranges)
    data = [r for r in rows[4:] if any(v is not None for v in r)]
    assert len(rows) > 4 + len(data)  # formatted blank rows below the data
    assert all(re.fullmatch(r"FW\d{4}", r[0]) for r in data)
    mess = json.loads((world / "ground_truth" / "world.json").read_text())["mess"]["roster"]
    ids = [r[0] for r in data]
    assert ids.count(mess["listed_twice"]) == 2
    assert not set(mess["missing_worker_ids"]) & set(ids)
    assert len(set(ids)) == 300 - len(mess["missing_worker_ids"])


def test_targets_carry_excel_date_serials(world: Path) -> None:
    ws = openpyxl.load_workbook(world / "sheets" / "district_targets.xlsx").active
    rows = list(ws.values)
    header = rows[2]
    assert header[:2] == ("State", "District") and "Target Registrations" in header
    first = rows[3]
    serial = first[header.index("Month start")]
    assert isinstance(serial, int)
    assert date(1899, 12, 30) + timedelta(days=serial) == date(first[3], first[4], 1)


def test_partner_header_is_renamed_between_months(world: Path) -> None:
    headers = set()
    for path in sorted((world / "sheets" / "partner_monthly").glob("*.csv")):
        with path.open(newline="") as fh:
            headers.add(tuple(next(csv.reader(fh))))
    assert ("district", "month", "beneficiaries_reached", "sessions_held") in headers
    assert ("District", "Month", "Beneficiaries Reached", "Sessions Held") in headers


# --- ground truth, recomputed independently from the files ---------------------------------------------


@pytest.fixture(scope="module")
def truth(world: Path) -> dict:
    con = duckdb.connect()
    rows = con.execute(
        f"select * from read_csv('{world}/ground_truth/program_indicators_monthly.csv', header=true)"
    ).fetchall()
    cols = [d[0] for d in con.description]
    return {
        (r[cols.index("district_code")], str(r[cols.index("month")])): dict(zip(cols, r, strict=True))
        for r in rows
    }


def test_registrations_in_ground_truth_match_the_kobo_file(world: Path, truth: dict) -> None:
    got = registrations_by_district_month(world / "kobo" / "submissions" / f"{PREG}.jsonl")
    assert got
    expected = {k: v["registered_pregnant_women"] for k, v in truth.items() if v["registered_pregnant_women"]}
    assert {(d, str(m)): n for d, m, n in got} == expected


def test_deliveries_and_anc4_in_ground_truth_match_the_odk_files(world: Path, truth: dict) -> None:
    con = duckdb.connect()
    base = world / "odk" / "forms" / "1"
    con.execute(f"""
        create view anc as select woman_id, cast(visit_date as date) as visit_date from (
            select * from read_json_auto('{base}/anc_visit/Submissions.jsonl', format='newline_delimited')
            where __system.deletedAt is null)
    """)
    got = con.execute(f"""
        with d as (
            select * from read_json_auto('{base}/delivery/Submissions.jsonl', format='newline_delimited')
            where __system.deletedAt is null
            qualify row_number() over (partition by woman_id order by __system.submissionDate) = 1
        )
        select location.district, cast(date_trunc('month', cast(delivery_date as date)) as date), count(*),
            count(*) filter (where place in ('phc', 'chc', 'district_hospital', 'private_hospital')),
            count(*) filter (where (select count(distinct a.visit_date) from anc a
                                    where a.woman_id = d.woman_id
                                      and a.visit_date <= cast(d.delivery_date as date)) >= 4)
        from d group by all
    """).fetchall()
    assert got
    for district, month, n, inst, anc4 in got:
        row = truth[(district, str(month))]
        assert (row["deliveries"], row["institutional_deliveries"], row["women_delivered_with_anc4"]) == (
            n,
            inst,
            anc4,
        )
    assert sum(r[2] for r in got) == sum(v["deliveries"] for v in truth.values())


def test_scheme_ground_truth_matches_the_odk_file(world: Path) -> None:
    con = duckdb.connect()
    base = world / "odk" / "forms" / "1" / "scheme_application"
    got = con.execute(f"""
        select scheme, location.district, cast(date_trunc('month', cast(applied_date as date)) as date),
            count(*),
            count(*) filter (where status in ('approved', 'benefit_received')),
            count(*) filter (where benefit_received_date is not null),
            median(datediff('day', cast(applied_date as date), cast(benefit_received_date as date)))
        from (select * from read_json_auto('{base}/Submissions.jsonl', format='newline_delimited')
              where __system.deletedAt is null
              qualify row_number() over (partition by application_id order by __system.submissionDate) = 1)
        group by all
    """).fetchall()
    truth = con.execute(f"""
        select scheme, district_code, month, applications, approvals, benefits_received,
            median_days_to_benefit
        from read_csv('{world}/ground_truth/scheme_applications_monthly.csv', header=true)
    """).fetchall()
    assert sorted(got) == sorted(truth)


def test_ground_truth_has_plausible_programme_indicators(truth: dict) -> None:
    rows = list(truth.values())
    assert {r["state_code"] for r in rows} >= {"MH", "UP", "BR"}
    measured = sum(r["children_measured"] for r in rows)
    stunted = sum(r["stunted"] for r in rows)
    assert measured > 100 and 0.05 < stunted / measured < 0.6
    for r in rows:
        if r["deliveries"]:
            assert r["institutional_delivery_pct"] == pytest.approx(
                100 * r["institutional_deliveries"] / r["deliveries"]
            )
        if r["active_field_workers"]:
            assert r["visits_per_field_worker"] == pytest.approx(r["home_visits"] / r["active_field_workers"])


# --- command line -----------------------------------------------------------------------------------------


def test_cli_generates_a_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["generate", "--out", str(tmp_path / "w"), "--submissions", "300", "--seed", "5"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["submissions"] == 300 and summary["seed"] == 5
    assert (tmp_path / "w" / "ground_truth" / "world.json").is_file()


def test_cli_rejects_a_tiny_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["generate", "--out", str(tmp_path / "w"), "--submissions", "10"]) == 2
    assert "at least 100" in capsys.readouterr().err


def test_growth_ground_truth_matches_who_zscores_recomputed_from_the_kobo_file(
    world: Path, truth: dict
) -> None:
    """Unnest the KoBo repeat, score it against the WHO seeds in SQL, and apply the contract's rules."""
    seeds = Path(__file__).resolve().parents[2] / "transform" / "seeds"
    con = duckdb.connect()
    for name in ("wfa", "lhfa", "wfl", "wfh"):
        con.execute(f"create table {name} as select * from read_csv('{seeds}/who_{name}.csv', header=true)")
    path = world / "kobo" / "submissions" / f"{CHILD}.jsonl"
    con.execute(f"""
        create table kids as
        select s._id, s._submission_time, cast(s.visit_date as date) as visit_date,
               s."location/district" as district,
               c['children/child/child_id'] as child_id, c['children/child/sex'] as sex,
               cast(c['children/child/dob'] as date) as dob,
               try_cast(c['children/child/weight_kg'] as double) as w,
               try_cast(c['children/child/height_cm'] as double) as h
        from (select *, unnest("children/child") as c
              from read_json('{path}', format='newline_delimited', columns={{
                  _id: 'BIGINT', _submission_time: 'VARCHAR', visit_date: 'VARCHAR',
                  "location/district": 'VARCHAR', "children/child": 'MAP(VARCHAR, VARCHAR)[]'}})) s
    """)
    z = "(pow({x} / {t}.m, {t}.l) - 1) / ({t}.l * {t}.s)"

    def restricted(x: str, t: str) -> str:
        sd = "({t}.m * pow(1 + {t}.l * {t}.s * {k}, 1 / {t}.l))"
        sd3p, sd2p = sd.format(t=t, k=3), sd.format(t=t, k=2)
        sd3n, sd2n = sd.format(t=t, k=-3), sd.format(t=t, k=-2)
        raw = z.format(x=x, t=t)
        return (
            f"case when {raw} > 3 then 3 + ({x} - {sd3p}) / ({sd3p} - {sd2p}) "
            f"when {raw} < -3 then -3 + ({x} - {sd3n}) / ({sd2n} - {sd3n}) else {raw} end"
        )

    got = con.execute(f"""
        with k as (
            select *, visit_date - dob as age_days,
                (year(visit_date) - year(dob)) * 12 + month(visit_date) - month(dob)
                    - case when day(visit_date) < day(dob) then 1 else 0 end as months,
                round(h, 1) as hl
            from kids
            where w is not null or h is not null
            qualify row_number() over (partition by child_id, visit_date order by _submission_time, _id) = 1
        ), scored as (
            select k.*, {restricted("k.w", "wfa")} as waz, {z.format(x="k.h", t="lhfa")} as haz,
                case when k.months < 24 then {restricted("k.w", "wfl")}
                     else {restricted("k.w", "wfh")} end as whz
            from k
            left join wfa on wfa.sex = k.sex and wfa.age_days = k.age_days
            left join lhfa on lhfa.sex = k.sex and lhfa.age_days = k.age_days
            left join wfl on k.months < 24 and wfl.sex = k.sex and wfl.length_cm = k.hl
            left join wfh on k.months >= 24 and wfh.sex = k.sex and wfh.height_cm = k.hl
            where k.months < 60
        ), latest as (
            select *, date_trunc('month', visit_date) as month from scored
            qualify row_number() over (partition by child_id, date_trunc('month', visit_date)
                                       order by visit_date desc) = 1
        )
        select district, cast(month as date), count(*),
            count(*) filter (where waz between -6 and 5 and waz < -2),
            count(*) filter (where haz between -6 and 6 and haz < -2),
            count(*) filter (where whz between -5 and 5 and whz < -2)
        from latest group by all
    """).fetchall()
    assert got
    for district, month, measured, underweight, stunted, wasted in got:
        row = truth[(district, str(month))]
        assert (row["children_measured"], row["underweight"], row["stunted"], row["wasted"]) == (
            measured,
            underweight,
            stunted,
            wasted,
        ), (district, month)
    assert sum(r[2] for r in got) == sum(v["children_measured"] for v in truth.values())


def test_home_visits_and_immunization_match_the_files(world: Path, truth: dict) -> None:
    con = duckdb.connect()
    child = world / "kobo" / "submissions" / f"{CHILD}.jsonl"
    anc = world / "odk" / "forms" / "1" / "anc_visit" / "Submissions.jsonl"
    visits = con.execute(f"""
        with hh as (
            select "location/district" as district, cast(visit_date as date) as visit_date, worker_id
            from read_json_auto('{child}', format='newline_delimited')
            qualify row_number() over (partition by "household/household_id", visit_date
                                       order by _submission_time, _id) = 1
        ), anc as (
            select location.district as district, cast(visit_date as date) as visit_date, worker_id
            from read_json_auto('{anc}', format='newline_delimited')
            where __system.deletedAt is null
            qualify row_number() over (partition by woman_id, visit_date order by __system.submissionDate) = 1
        )
        select district, cast(date_trunc('month', visit_date) as date), count(*), count(distinct worker_id)
        from (select * from hh union all select * from anc) group by all
    """).fetchall()
    assert visits
    for district, month, n, workers in visits:
        row = truth[(district, str(month))]
        assert (row["home_visits"], row["active_field_workers"]) == (n, workers)
    immunization = con.execute(f"""
        with k as (
            select s._id, s._submission_time, cast(s.visit_date as date) as visit_date,
                   s."location/district" as district, c['children/child/child_id'] as child_id,
                   cast(c['children/child/dob'] as date) as dob,
                   string_split(coalesce(c['children/child/vaccines'], ''), ' ') as vaccines
            from (select *, unnest("children/child") as c
                  from read_json('{child}', format='newline_delimited', columns={{
                      _id: 'BIGINT', _submission_time: 'VARCHAR', visit_date: 'VARCHAR',
                      "location/district": 'VARCHAR', "children/child": 'MAP(VARCHAR, VARCHAR)[]'}})) s
            qualify row_number() over (partition by child_id, visit_date order by _submission_time, _id) = 1
        ), latest as (
            select *, (year(visit_date) - year(dob)) * 12 + month(visit_date) - month(dob)
                      - case when day(visit_date) < day(dob) then 1 else 0 end as months
            from k
            qualify row_number() over (partition by child_id, date_trunc('month', visit_date)
                                       order by visit_date desc) = 1
        )
        select district, cast(date_trunc('month', visit_date) as date), count(*),
            count(*) filter (where list_has_all(vaccines, ['bcg', 'opv1', 'opv2', 'opv3', 'penta1', 'penta2',
                                                           'penta3', 'mr1']))
        from latest where months between 12 and 23 group by all
    """).fetchall()
    assert immunization
    for district, month, n, full in immunization:
        row = truth[(district, str(month))]
        assert (row["children_12_23_visited"], row["children_12_23_fully_immunized"]) == (n, full)
    assert sum(r[2] for r in immunization) == sum(v["children_12_23_visited"] for v in truth.values())


def test_nothing_happens_after_the_world_is_observed(world: Path, facts: dict) -> None:
    now = facts["observed_at_utc"]
    today = facts["today"]
    for uid in (PREG, CHILD):
        for row in kobo(world, uid):
            assert row["_submission_time"] < now
            assert row["end"][:10] < today and row["start"] <= row["end"]
    for form in ODK_FORMS:
        for row in odk(world, form):
            system = row["__system"]
            stamps = [system["submissionDate"], system["updatedAt"], system["deletedAt"]]
            assert all(s[:19] < now for s in stamps if s)
            if system["updatedAt"]:
                assert system["updatedAt"] > system["submissionDate"]
            if system["deletedAt"]:
                assert system["deletedAt"] > system["submissionDate"]


def test_ground_truth_is_dense_even_where_districts_have_no_activity(tmp_path: Path) -> None:
    """Contract §4 "Month range": every district × every month from the first to the last month holding an
    event of the health forms; a district-month without activity has zeros, null ratios and its target."""
    from demo.generator import geography as geo

    world = tmp_path / "sparse"
    generate(world, submissions=300, seed=42)  # small enough that some district-months are empty
    con = duckdb.connect()
    rows = con.execute(
        f"select * from read_csv('{world}/ground_truth/program_indicators_monthly.csv', header=true)"
    ).df()
    base = world / "odk" / "forms" / "1"
    first, last = con.execute(f"""
        select cast(min(m) as date), cast(max(m) as date) from (
            select date_trunc('month', cast("pregnancy/registration_date" as date)) as m
            from read_json_auto('{world}/kobo/submissions/{PREG}.jsonl', format='newline_delimited')
            union all
            select date_trunc('month', cast(visit_date as date))
            from read_json_auto('{world}/kobo/submissions/{CHILD}.jsonl', format='newline_delimited')
            union all
            select date_trunc('month', cast(visit_date as date))
            from read_json_auto('{base}/anc_visit/Submissions.jsonl', format='newline_delimited')
            where __system.deletedAt is null
            union all
            select date_trunc('month', cast(delivery_date as date))
            from read_json_auto('{base}/delivery/Submissions.jsonl', format='newline_delimited')
            where __system.deletedAt is null)
    """).fetchone()
    months = []
    m = first
    while m <= last:
        months.append(m)
        m = date(m.year + m.month // 12, m.month % 12 + 1, 1)
    districts = {d.code for d in geo.DISTRICTS}
    assert sorted(zip(rows["district_code"], rows["month"].dt.date, strict=True)) == sorted(
        (d, m) for d in districts for m in months
    )
    counts = ["registered_pregnant_women", "deliveries", "home_visits", "active_field_workers"]
    idle = rows[(rows[counts] == 0).all(axis=1)]
    assert len(idle) > 0, "the sparse world should have district-months without any activity"
    ratios = ["institutional_delivery_pct", "anc4_pct", "fully_immunized_12_23_pct", "stunted_pct"]
    assert idle[ratios + ["visits_per_field_worker"]].isna().all().all()
    assert (idle["children_measured"] == 0).all() and (idle["children_12_23_visited"] == 0).all()
    # targets come from the sheet on every row, active or not
    assert idle["target_registrations"].notna().all()
    assert (idle["registration_coverage_pct"] == 0).all()
