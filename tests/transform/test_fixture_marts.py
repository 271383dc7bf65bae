"""The marts on the hand-built raw fixture (raw_fixture.py) give the answers the contract's rules imply."""

from __future__ import annotations

import json
from datetime import date

import pytest

MARCH = date(2025, 3, 1)
INDICATORS = "select * from marts.mart_program_indicators_monthly where district_code = ? and month = ?"
FUNDER = "select * from marts.mart_funder_summary where level = 'district' and geo_code = ? and month = ?"


def _row(query, sql: str, params: list) -> dict:
    rows = query(f"select to_json(t) from ({sql}) t", params)
    assert len(rows) == 1, rows
    return json.loads(rows[0][0])


def test_registrations_deduped_deleted_and_placed_by_village(query):
    got = dict(
        ((d, m.isoformat()), n)
        for d, m, n in query("select district_code, month, registered_pregnant_women "
                             "from marts.mart_program_indicators_monthly where registered_pregnant_women > 0")
    )  # fmt: skip
    # w2's earliest submission (February) wins over its resubmission; w3 was deleted; w4's village is in
    # Nashik although its district answer says Pune
    assert got == {("MH_PUN", "2025-03-01"): 1, ("MH_PUN", "2025-02-01"): 1, ("MH_NAS", "2025-03-01"): 1}


def test_pune_march_indicators(query):
    r = _row(query, INDICATORS, ["MH_PUN", MARCH])
    assert (r["state_code"], r["state"], r["district"]) == ("MH", "Maharashtra", "Pune")
    # d1 at a PHC, d2 edited to home, d3 deleted; only w1 had 4 distinct ANC dates before delivering
    assert (r["deliveries"], r["institutional_deliveries"], r["institutional_delivery_pct"]) == (2, 1, 50.0)
    assert (r["women_delivered_with_anc4"], r["anc4_pct"]) == (1, 50.0)
    # c1 (latest visit, fully immunized) and c2 (no MR1) are 12-23 months; c3 is 9, c4 is 50 months
    assert (r["children_12_23_visited"], r["children_12_23_fully_immunized"]) == (2, 1)
    assert r["fully_immunized_12_23_pct"] == 50.0
    # c1..c4 measured; c2 underweight and wasted, c4 stunted; c3's implausible WAZ/WHZ are excluded
    assert (r["children_measured"], r["underweight"], r["stunted"], r["wasted"]) == (4, 1, 1, 1)
    assert r["underweight_pct"] == pytest.approx(100 / 3)
    assert r["stunted_pct"] == 25.0
    assert r["wasted_pct"] == pytest.approx(100 / 3)
    # 1 ANC visit (W01) + 4 child-health visits (W01 x2, W02 x2)
    assert (r["home_visits"], r["active_field_workers"], r["visits_per_field_worker"]) == (5, 2, 2.5)
    assert (r["target_registrations"], r["registration_coverage_pct"]) == (4, 25.0)


def test_percentage_is_null_when_denominator_is_zero(query):
    r = _row(query, INDICATORS, ["MH_NAS", MARCH])
    assert r["target_registrations"] == 0 and r["registration_coverage_pct"] is None
    assert r["deliveries"] == 0 and r["institutional_delivery_pct"] is None


def test_scheme_applications(query):
    r = _row(query, "select * from marts.mart_scheme_applications where scheme = 'pension'", [])
    # app1 resubmitted: counted once; 20 and 10 days to benefit
    assert (r["applications"], r["approvals"], r["rejections"], r["pending"]) == (4, 2, 1, 1)
    assert (r["benefits_received"], r["median_days_to_benefit"], r["district_code"]) == (2, 15.0, "MH_PUN")


def test_field_worker_week_counts_late_submissions(query):
    r = _row(query, "select * from marts.mart_field_worker_weekly where worker_id = 'W02' and week_start = ?",
             [date(2025, 3, 3)])  # fmt: skip
    # w4 registered on 3 March but submitted on the 25th; h4 visited on the 5th, submitted on the 15th
    assert (r["submissions"], r["home_visits"], r["late_submissions"], r["late_pct"]) == (2, 1, 2, 100.0)
    assert r["dq_flags"] == 2 and r["dq_score"] == 0.0
    assert (r["supervisor_id"], r["district_code"]) == ("S01", "MH_NAS")


def test_quality_step_flags_count_in_dq_score(query):
    r = _row(query, "select * from marts.mart_field_worker_weekly where worker_id = 'W02' and week_start = ?",
             [date(2025, 3, 17)])  # fmt: skip
    # h3 is on time and inside the area, but dq.submission_flags holds one flag for it
    assert (r["submissions"], r["late_submissions"], r["dq_flags"], r["dq_score"]) == (1, 0, 1, 0.0)
    r = _row(query, "select * from marts.mart_field_worker_weekly where worker_id = 'W01' and week_start = ?",
             [date(2025, 3, 17)])  # fmt: skip
    assert (r["dq_flags"], r["dq_score"]) == (0, 100.0)


def test_field_worker_dimension_joins_roster_and_activity(query):
    rows = {w: (on_roster, active) for w, on_roster, active in
            query("select worker_id, on_roster, is_active from marts.dim_field_worker")}  # fmt: skip
    # as of the latest submission (30 June): W01 submitted that day, W02 last on 25 March, W09 never
    assert rows == {"W01": (True, True), "W02": (True, False), "W09": (True, False)}


def test_funder_summary_suppresses_small_cells(query):
    r = _row(query, FUNDER, ["MH_PUN", MARCH])
    assert r["suppressed"] is True
    assert r["home_visits"] == 5
    assert r["registered_pregnant_women"] is None and r["registration_coverage_pct"] is None
    assert r["deliveries"] is None and r["institutional_delivery_pct"] is None
    assert r["visits_per_field_worker"] is None  # active_field_workers = 2 is suppressed
    states = query("select geo_code, district, home_visits from marts.mart_funder_summary "
                   "where level = 'state' and month = ?", [MARCH])  # fmt: skip
    assert states == [("MH", None, 5)]
    (small,) = query(
        "select count(*) from marts.mart_funder_summary "
        "where registered_pregnant_women < 5 or deliveries < 5 or home_visits < 5 or underweight < 5"
    )
    assert small == (0,)


def test_no_personal_data_in_beneficiaries(query):
    rows = query("select beneficiary_key, kind from marts.dim_beneficiary")
    kinds = sorted(k for _, k in rows)
    # w1, w2, w4 (w3 and w5 appear only in deleted submissions); c1..c4 and the 15 z-score children
    assert kinds.count("woman") == 3 and kinds.count("child") == 4 + 15
    assert all(len(key) == 64 and key not in ("w1", "c1") for key, _ in rows)
    cols = {c for (c,) in query("select column_name from information_schema.columns "
                                "where table_schema = 'marts' and table_name like 'fct_%'")}  # fmt: skip
    assert not cols & {"woman_id", "child_id", "woman_name", "child_name", "head_name", "phone", "aadhaar"}


def test_hmis_export_writes_one_csv_per_month(fixture_warehouse, tmp_path):
    import csv

    from transform.exports import write_hmis_csv

    paths = write_hmis_csv(fixture_warehouse, tmp_path)
    # every month from the first event (ANC visits from October) to the last (the June visit), including
    # April and May when nothing happened: HMIS expects a report of zeros, not a missing month
    months = ["2024-10", "2024-11", "2024-12"] + [f"2025-{m:02d}" for m in range(1, 7)]
    assert [p.name for p in paths] == [f"hmis_{m}.csv" for m in months]
    rows = list(csv.DictReader((tmp_path / "hmis_2025-03.csv").open()))
    pune = {r["indicator_code"]: r["value"] for r in rows if r["district"] == "Pune"}
    assert pune["PW_REG"] == "1" and pune["DEL_INST_PCT"] == "50" and pune["HV_TOTAL"] == "5"
    assert set(rows[0]) == {"state", "district", "month", "indicator_code", "indicator_name", "value"}
    april = list(csv.DictReader((tmp_path / "hmis_2025-04.csv").open()))
    assert {r["district"] for r in april} == {"Pune", "Nashik"}
    for district in ("Pune", "Nashik"):
        values = {r["indicator_code"]: r["value"] for r in april if r["district"] == district}
        assert values["PW_REG"] == values["DEL_TOTAL"] == values["HV_TOTAL"] == values["FW_ACTIVE"] == "0"
        assert values["DEL_INST_PCT"] == values["ANC4_PCT"] == values["CH_STUNTED_PCT"] == ""


def test_every_district_has_a_row_every_month(query):
    """Contract §4 "Month range": dim_geography districts × the months from the first to the last event."""
    districts = {d for (d,) in query("select distinct district_code from marts.dim_geography")}
    assert districts == {"MH_PUN", "MH_NAS"}
    got = query("select district_code, month from marts.mart_program_indicators_monthly")
    months = [date(2024, m, 1) for m in (10, 11, 12)] + [date(2025, m, 1) for m in range(1, 7)]
    assert sorted(got) == sorted((d, m) for d in districts for m in months)
    # Pune had no activity in April: zero counts, null percentages and ratio, no target for April
    r = _row(query, INDICATORS, ["MH_PUN", date(2025, 4, 1)])
    assert (r["state_code"], r["state"], r["district"]) == ("MH", "Maharashtra", "Pune")
    counts = ["registered_pregnant_women", "deliveries", "institutional_deliveries",
              "women_delivered_with_anc4", "children_12_23_visited", "children_12_23_fully_immunized",
              "children_measured", "underweight", "stunted", "wasted", "home_visits",
              "active_field_workers"]  # fmt: skip
    assert all(r[c] == 0 for c in counts), r
    ratios = ["institutional_delivery_pct", "anc4_pct", "fully_immunized_12_23_pct", "underweight_pct",
              "stunted_pct", "wasted_pct", "visits_per_field_worker", "target_registrations",
              "registration_coverage_pct"]  # fmt: skip
    assert all(r[c] is None for c in ratios), r
    # Nashik's only March event is a registration: its target comes from the sheet as on any row
    r = _row(query, INDICATORS, ["MH_NAS", MARCH])
    assert (r["registered_pregnant_women"], r["home_visits"], r["target_registrations"]) == (1, 0, 0)
    assert r["visits_per_field_worker"] is None


def test_funder_summary_suppresses_the_empty_district_months(query):
    r = _row(query, FUNDER, ["MH_PUN", date(2025, 4, 1)])
    assert r["suppressed"] is True
    assert r["registered_pregnant_women"] is None and r["home_visits"] is None and r["anc4_pct"] is None
    state = query(
        "select count(*), count(*) filter (where suppressed) from marts.mart_funder_summary "
        "where level = 'state' and month = date '2025-05-01'"
    )
    assert state == [(1, 1)]


# docs/contracts.md §4: the columns other steps (quality checks, Superset datasets) are built on
CONTRACT_COLUMNS = {
    "dim_geography": ["village_code", "village", "block_code", "block", "district_code", "district",
                      "state_code", "state"],
    "dim_date": ["date_day", "month_start", "week_start", "year", "month", "iso_week"],
    "dim_field_worker": ["worker_id", "worker_name", "supervisor_id", "state_code", "district_code",
                         "block_code", "is_active"],
    "dim_beneficiary": ["beneficiary_key", "kind", "district_code"],
    "mart_program_indicators_monthly": [
        "state_code", "state", "district_code", "district", "month", "registered_pregnant_women",
        "deliveries",
        "institutional_deliveries", "institutional_delivery_pct", "women_delivered_with_anc4", "anc4_pct",
        "children_12_23_visited", "children_12_23_fully_immunized", "fully_immunized_12_23_pct",
        "children_measured", "underweight", "stunted", "wasted", "underweight_pct", "stunted_pct",
        "wasted_pct",
        "home_visits", "active_field_workers", "visits_per_field_worker", "target_registrations",
        "registration_coverage_pct"],
    "mart_scheme_applications": ["scheme", "state_code", "state", "district_code", "district", "month",
                                 "applications", "approvals", "rejections", "pending", "benefits_received",
                                 "median_days_to_benefit"],
    "mart_field_worker_weekly": ["worker_id", "supervisor_id", "state_code", "district_code", "week_start",
                                 "submissions", "home_visits", "late_submissions", "late_pct", "dq_flags",
                                 "dq_score"],
    "mart_hmis_monthly": ["state", "district", "month", "indicator_code", "indicator_name", "value"],
}  # fmt: skip


@pytest.mark.parametrize("table", sorted(CONTRACT_COLUMNS))
def test_contract_columns(query, table):
    sql = (
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? order by ordinal_position"
    )
    cols = [c for (c,) in query(sql, [table])]
    wanted = CONTRACT_COLUMNS[table]
    if table.startswith("mart_"):  # marts: exactly these columns, in this order
        assert cols == wanted
    else:  # dimensions: at least these
        assert set(wanted) <= set(cols), set(wanted) - set(cols)


def test_funder_summary_has_the_indicator_columns(query):
    sql = (
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'mart_funder_summary'"
    )
    cols = {c for (c,) in query(sql)}
    indicators = set(CONTRACT_COLUMNS["mart_program_indicators_monthly"]) - {"state_code", "district_code"}
    assert {"level", "geo_code", "suppressed"} | indicators <= cols
