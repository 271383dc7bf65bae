"""Ground truth: the programme indicators the world implies, by the rules of docs/contracts.md section 4.

Computed from the generator's own typed records (not by parsing the files it wrote), per district and month,
with the column names of marts.mart_program_indicators_monthly and marts.mart_scheme_applications.
Dense, as in the marts (docs/contracts.md section 4, "Month range"): every district of the geography in every
month from the first to the last month holding a counted event (registration, delivery, ANC visit or
child_health visit, each after de-duplication, in a known village); a district-month without activity has zero
counts, null percentages and null visits_per_field_worker.

Rules, made explicit where the contract leaves a choice:
- deleted submissions never count; an edited one counts as its latest version (the files hold that);
- duplicates count once: woman_id (registrations, deliveries), woman_id + visit_date (ANC), child_id +
  visit_date (children), application_id (schemes), household_id + visit_date (household visits in
  home_visits); the earliest submission wins;
- age in completed calendar months between dob and visit_date; age in days for the WHO tables;
- children_measured: children under 60 months with a weight or height in the month (latest such visit);
  each percentage's denominator excludes that indicator's missing or biologically implausible z-scores;
- fully immunized: each child's latest visit in the month, if aged 12–23 months then;
- schemes by month applied: approvals = approved or benefit_received; pending = pending;
  median_days_to_benefit = median(benefit_received_date − applied_date) (DuckDB median, interpolated).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from demo.generator import geography as geo
from demo.generator import who
from demo.generator.forms import INSTITUTIONAL_PLACES
from demo.generator.world import World

FULL_IMMUNIZATION = ("bcg", "opv1", "opv2", "opv3", "penta1", "penta2", "penta3", "mr1")
PROGRAM_COLUMNS = [
    "state_code",
    "state",
    "district_code",
    "district",
    "month",
    "registered_pregnant_women",
    "deliveries",
    "institutional_deliveries",
    "institutional_delivery_pct",
    "women_delivered_with_anc4",
    "anc4_pct",
    "children_12_23_visited",
    "children_12_23_fully_immunized",
    "fully_immunized_12_23_pct",
    "children_measured",
    "underweight",
    "stunted",
    "wasted",
    "underweight_pct",
    "stunted_pct",
    "wasted_pct",
    "home_visits",
    "active_field_workers",
    "visits_per_field_worker",
    "target_registrations",
    "registration_coverage_pct",
]
SCHEME_COLUMNS = [
    "scheme",
    "state_code",
    "state",
    "district_code",
    "district",
    "month",
    "applications",
    "approvals",
    "rejections",
    "pending",
    "benefits_received",
    "median_days_to_benefit",
]


def completed_months(dob: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Completed calendar months from dob to `on` (a month is completed on the same day of the month)."""
    m1, m2 = dob.astype("datetime64[M]"), on.astype("datetime64[M]")
    d1 = (dob - m1.astype("datetime64[D]")).astype(np.int64)
    d2 = (on - m2.astype("datetime64[D]")).astype(np.int64)
    return (m2 - m1).astype(np.int64) - (d2 < d1)


def _frame(table: dict, columns: list[str]) -> pd.DataFrame:
    present = ~table["_deleted"]
    df = pd.DataFrame({c: table[c][present] for c in columns})
    df["submitted_at"] = table["_submitted"][present]
    df["_row"] = np.flatnonzero(present)
    return df


def child_rows(world: World) -> pd.DataFrame:
    t, rep = world.forms["child_health"], world.repeats["child_health"]
    parent = rep["_parent"]
    visit = t["visit_date"][parent]
    months = completed_months(rep["dob"], visit)
    age_days = (visit - rep["dob"]).astype(np.int64)
    z = who.z_scores(rep["sex"], age_days, rep["weight_kg"], rep["height_cm"], months)
    combos, inverse = np.unique(
        np.where(rep["vaccines"] == None, "", rep["vaccines"]).astype(str),  # noqa: E711
        return_inverse=True,
    )
    full = np.array([all(x in c.split(" ") for x in FULL_IMMUNIZATION) for c in combos.tolist()])[inverse]
    keep = ~t["_deleted"][parent]
    df = pd.DataFrame(
        {
            "child_id": rep["child_id"],
            "visit_date": visit,
            "village": t["village"][parent],
            "submitted_at": t["_submitted"][parent],
            "sub": parent,
            "age_days": age_days,
            "age_months": months,
            "measured": np.isfinite(rep["weight_kg"]) | np.isfinite(rep["height_cm"]),
            "waz": z["waz"],
            "haz": z["haz"],
            "whz": z["whz"],
            "fully_immunized": full,
        }
    )
    return df[keep]


def geography_frame() -> pd.DataFrame:
    rows = []
    for v in geo.VILLAGES:
        b = geo.BLOCK_BY_CODE[v.parent]
        d = geo.DISTRICT_BY_CODE[b.parent]
        s = geo.STATE_BY_CODE[d.parent]
        rows.append((v.code, d.code, d.name_en, s.code, s.name_en))
    return pd.DataFrame(rows, columns=["village", "district_code", "district", "state_code", "state"])


PROGRAM_SQL = """
with reg as (
    select * from reg_raw qualify row_number() over (partition by woman_id order by submitted_at, _row) = 1
), anc as (
    select * from anc_raw
    qualify row_number() over (partition by woman_id, visit_date order by submitted_at, _row) = 1
), deliv as (
    select * from deliv_raw qualify row_number() over (partition by woman_id order by submitted_at, _row) = 1
), hh as (
    select * from hh_raw
    qualify row_number() over (partition by household_id, visit_date order by submitted_at, _row) = 1
), kids as (
    select * from child_raw
    qualify row_number() over (partition by child_id, visit_date order by submitted_at, sub) = 1
),
r as (
    select g.district_code, date_trunc('month', registration_date) as month,
        count(*) as registered_pregnant_women
    from reg join geo g using (village) group by all
),
d as (
    select g.district_code, date_trunc('month', d.delivery_date) as month, count(*) as deliveries,
        count(*) filter (where d.place in {institutional}) as institutional_deliveries,
        count(*) filter (where (select count(distinct a.visit_date) from anc a
                                where a.woman_id = d.woman_id and a.visit_date <= d.delivery_date) >= 4)
            as women_delivered_with_anc4
    from deliv d join geo g using (village) group by all
),
imm as (
    select g.district_code, month, count(*) as children_12_23_visited,
        count(*) filter (where fully_immunized) as children_12_23_fully_immunized
    from (select *, date_trunc('month', visit_date) as month from kids
          qualify row_number() over (partition by child_id, month order by visit_date desc) = 1) k
    join geo g using (village)
    where age_months between 12 and 23
    group by all
),
growth as (
    select g.district_code, month, count(*) as children_measured,
        count(*) filter (where uw) as underweight, count(*) filter (where st) as stunted,
        count(*) filter (where wa) as wasted, count(uw) as n_waz, count(st) as n_haz, count(wa) as n_whz
    from (
        select *, date_trunc('month', visit_date) as month,
            case when waz is null or isnan(waz) or waz < -6 or waz > 5 then null else waz < -2 end as uw,
            case when haz is null or isnan(haz) or haz < -6 or haz > 6 then null else haz < -2 end as st,
            case when whz is null or isnan(whz) or whz < -5 or whz > 5 then null else whz < -2 end as wa
        from kids where measured and age_months < 60 and age_days >= 0
        qualify row_number() over (partition by child_id, month order by visit_date desc) = 1
    ) k join geo g using (village)
    group by all
),
hv as (
    select district_code, month, count(*) as home_visits, count(distinct worker_id) as active_field_workers
    from (
        select g.district_code, date_trunc('month', visit_date) as month, worker_id
        from anc join geo g using (village)
        union all
        select g.district_code, date_trunc('month', visit_date) as month, worker_id
        from hh join geo g using (village)
    ) group by all
),
cells as (
    select district_code, month from r union select district_code, month from d
    union select district_code, month from imm union select district_code, month from growth
    union select district_code, month from hv
),
months as (
    select unnest(generate_series(min(month), max(month), interval 1 month)) as month from cells
),
spine as (
    select gd.*, m.month
    from (select distinct district_code, district, state_code, state from geo) gd cross join months m
)
select c.state_code, c.state, c.district_code, c.district, cast(c.month as date) as month,
    coalesce(r.registered_pregnant_women, 0) as registered_pregnant_women,
    coalesce(d.deliveries, 0) as deliveries,
    coalesce(d.institutional_deliveries, 0) as institutional_deliveries,
    case when d.deliveries > 0 then 100.0 * d.institutional_deliveries / d.deliveries end
        as institutional_delivery_pct,
    coalesce(d.women_delivered_with_anc4, 0) as women_delivered_with_anc4,
    case when d.deliveries > 0 then 100.0 * d.women_delivered_with_anc4 / d.deliveries end as anc4_pct,
    coalesce(imm.children_12_23_visited, 0) as children_12_23_visited,
    coalesce(imm.children_12_23_fully_immunized, 0) as children_12_23_fully_immunized,
    case when imm.children_12_23_visited > 0
        then 100.0 * imm.children_12_23_fully_immunized / imm.children_12_23_visited end
        as fully_immunized_12_23_pct,
    coalesce(growth.children_measured, 0) as children_measured,
    coalesce(growth.underweight, 0) as underweight,
    coalesce(growth.stunted, 0) as stunted,
    coalesce(growth.wasted, 0) as wasted,
    case when growth.n_waz > 0 then 100.0 * growth.underweight / growth.n_waz end as underweight_pct,
    case when growth.n_haz > 0 then 100.0 * growth.stunted / growth.n_haz end as stunted_pct,
    case when growth.n_whz > 0 then 100.0 * growth.wasted / growth.n_whz end as wasted_pct,
    coalesce(hv.home_visits, 0) as home_visits,
    coalesce(hv.active_field_workers, 0) as active_field_workers,
    case when hv.active_field_workers > 0 then hv.home_visits / hv.active_field_workers end
        as visits_per_field_worker,
    t.target_registrations,
    case when t.target_registrations > 0
        then 100.0 * coalesce(r.registered_pregnant_women, 0) / t.target_registrations end
        as registration_coverage_pct
from spine c
left join r using (district_code, month)
left join d using (district_code, month)
left join imm using (district_code, month)
left join growth using (district_code, month)
left join hv using (district_code, month)
left join targets t on t.district_code = c.district_code and t.month = cast(c.month as date)
order by c.district_code, c.month
"""

SCHEME_SQL = """
with apps as (
    select * from scheme_raw
    qualify row_number() over (partition by application_id order by submitted_at, _row) = 1
)
select a.scheme, g.state_code, g.state, g.district_code, g.district,
    cast(date_trunc('month', a.applied_date) as date) as month,
    count(*) as applications,
    count(*) filter (where a.status in ('approved', 'benefit_received')) as approvals,
    count(*) filter (where a.status = 'rejected') as rejections,
    count(*) filter (where a.status = 'pending') as pending,
    count(*) filter (where a.benefit_received_date is not null) as benefits_received,
    median(datediff('day', a.applied_date, a.benefit_received_date)) as median_days_to_benefit
from apps a join geo g using (village)
group by all
order by a.scheme, g.district_code, month
"""


def compute(world: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    f = world.forms
    con = duckdb.connect()
    con.execute("set threads = 2")
    con.register("geo", geography_frame())
    con.register("reg_raw", _frame(f["pregnancy_registration"], ["woman_id", "registration_date", "village"]))
    con.register("anc_raw", _frame(f["anc_visit"], ["woman_id", "visit_date", "village", "worker_id"]))
    con.register("deliv_raw", _frame(f["delivery"], ["woman_id", "delivery_date", "place", "village"]))
    con.register("hh_raw", _frame(f["child_health"], ["household_id", "visit_date", "village", "worker_id"]))
    con.register("child_raw", child_rows(world))
    con.register(
        "scheme_raw",
        _frame(
            f["scheme_application"],
            [
                "application_id",
                "scheme",
                "village",
                "applied_date",
                "status",
                "decision_date",
                "benefit_received_date",
            ],
        ),
    )
    targets = pd.DataFrame(world.targets, columns=["district_code", "month", "target_registrations"])
    targets["month"] = pd.to_datetime(targets["month"])
    con.register("targets", targets)
    institutional = "(" + ", ".join(f"'{p}'" for p in INSTITUTIONAL_PLACES) + ")"
    program = con.execute(PROGRAM_SQL.format(institutional=institutional)).df()
    schemes = con.execute(SCHEME_SQL).df()
    con.close()
    return program[PROGRAM_COLUMNS], schemes[SCHEME_COLUMNS]


def _csv(df: pd.DataFrame, path: Path) -> None:
    out = df.copy()
    out["month"] = pd.to_datetime(out["month"]).dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")


def write(world: World, out: Path) -> dict:
    folder = out / "ground_truth"
    folder.mkdir(parents=True, exist_ok=True)
    program, schemes = compute(world)
    _csv(program, folder / "program_indicators_monthly.csv")
    _csv(schemes, folder / "scheme_applications_monthly.csv")
    from demo.generator.world_json import write_world_json

    write_world_json(world, folder / "world.json")
    return {"program_indicators_monthly": len(program), "scheme_applications_monthly": len(schemes)}
