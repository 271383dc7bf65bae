"""A small serving.duckdb built from the columns of docs/contracts.md sections 4 and 5.

Used until (and alongside) the pipeline's own published file: the BI tests need a serving warehouse with
several states, so row-level security has something to hide, and every chart has rows to show.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

GEOGRAPHY = {
    ("MH", "Maharashtra"): [("MH_PUN", "Pune"), ("MH_NAG", "Nagpur")],
    ("UP", "Uttar Pradesh"): [("UP_LKO", "Lucknow"), ("UP_VAR", "Varanasi")],
    ("BR", "Bihar"): [("BR_PAT", "Patna"), ("BR_GAY", "Gaya")],
}
MONTHS = [date(2025, m, 1) for m in range(1, 13)]
SCHEMES = ["pmmvy", "janani_suraksha", "old_age_pension"]

INDICATOR_COUNTS = [
    "registered_pregnant_women",
    "deliveries",
    "institutional_deliveries",
    "women_delivered_with_anc4",
    "children_12_23_visited",
    "children_12_23_fully_immunized",
    "children_measured",
    "underweight",
    "stunted",
    "wasted",
    "home_visits",
]


def _pct(num: int | None, den: int | None) -> float | None:
    if num is None or not den:
        return None
    return round(100.0 * num / den, 1)


def _indicator_row(rng: random.Random) -> dict:
    r: dict = {}
    r["registered_pregnant_women"] = rng.randint(3, 60)
    r["deliveries"] = rng.randint(3, 50)
    r["institutional_deliveries"] = rng.randint(0, r["deliveries"])
    r["women_delivered_with_anc4"] = rng.randint(0, r["deliveries"])
    r["children_12_23_visited"] = rng.randint(2, 40)
    r["children_12_23_fully_immunized"] = rng.randint(0, r["children_12_23_visited"])
    r["children_measured"] = rng.randint(5, 80)
    for k in ("underweight", "stunted", "wasted"):
        r[k] = rng.randint(0, r["children_measured"] // 2)
    r["home_visits"] = rng.randint(20, 300)
    r["active_field_workers"] = rng.randint(2, 12)
    r["target_registrations"] = rng.randint(20, 60)
    return r


def _with_pcts(r: dict) -> dict:
    r["institutional_delivery_pct"] = _pct(r["institutional_deliveries"], r["deliveries"])
    r["anc4_pct"] = _pct(r["women_delivered_with_anc4"], r["deliveries"])
    r["fully_immunized_12_23_pct"] = _pct(r["children_12_23_fully_immunized"], r["children_12_23_visited"])
    for k in ("underweight", "stunted", "wasted"):
        r[f"{k}_pct"] = _pct(r[k], r["children_measured"])
    return r


def build_serving(path: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(
        """create table dim_geography (village_code varchar, village varchar, block_code varchar,
        block varchar, district_code varchar, district varchar, state_code varchar, state varchar)"""
    )
    con.execute(
        """create table dim_date (date_day date, month_start date, week_start date, year bigint,
        month bigint, iso_week bigint)"""
    )
    con.execute(
        """create table mart_program_indicators_monthly (state_code varchar, state varchar,
        district_code varchar, district varchar, month date, registered_pregnant_women bigint,
        deliveries bigint, institutional_deliveries bigint, institutional_delivery_pct double,
        women_delivered_with_anc4 bigint, anc4_pct double, children_12_23_visited bigint,
        children_12_23_fully_immunized bigint, fully_immunized_12_23_pct double, children_measured bigint,
        underweight bigint, stunted bigint, wasted bigint, underweight_pct double, stunted_pct double,
        wasted_pct double, home_visits bigint, active_field_workers bigint, visits_per_field_worker double,
        target_registrations bigint, registration_coverage_pct double)"""
    )
    con.execute(
        """create table mart_scheme_applications (scheme varchar, state_code varchar, state varchar,
        district_code varchar, district varchar, month date, applications bigint, approvals bigint,
        rejections bigint, pending bigint, benefits_received bigint, median_days_to_benefit double)"""
    )
    con.execute(
        """create table mart_field_worker_weekly (worker_id varchar, supervisor_id varchar,
        state_code varchar, district_code varchar, week_start date, submissions bigint, home_visits bigint,
        late_submissions bigint, late_pct double, dq_flags bigint, dq_score double)"""
    )
    count_cols = ", ".join(f"{c} bigint" for c in INDICATOR_COUNTS)
    pct_cols = ", ".join(
        f"{c} double"
        for c in [
            "institutional_delivery_pct",
            "anc4_pct",
            "fully_immunized_12_23_pct",
            "underweight_pct",
            "stunted_pct",
            "wasted_pct",
        ]
    )
    con.execute(
        f"""create table mart_funder_summary (level varchar, geo_code varchar, state varchar,
        district varchar, month date, {count_cols}, active_field_workers bigint, target_registrations bigint,
        {pct_cols}, visits_per_field_worker double, registration_coverage_pct double, suppressed boolean)"""
    )
    con.execute(
        """create table mart_hmis_monthly (state varchar, district varchar, month date,
        indicator_code varchar, indicator_name varchar, value double)"""
    )
    con.execute(
        """create table dq_check_history (run_id varchar, checked_at timestamp, check_name varchar,
        table_name varchar, blocking boolean, passed boolean, observed_value varchar)"""
    )

    day = date(2025, 1, 1)
    while day <= date(2025, 12, 31):
        con.execute(
            "insert into dim_date values (?, ?, ?, ?, ?, ?)",
            [
                day,
                day.replace(day=1),
                day - timedelta(days=day.weekday()),
                day.year,
                day.month,
                day.isocalendar().week,
            ],
        )
        day += timedelta(days=1)

    for (state_code, state), districts in GEOGRAPHY.items():
        state_totals: dict[date, dict] = {}
        for district_code, district in districts:
            for b in (1, 2):
                for v in (1, 2):
                    con.execute(
                        "insert into dim_geography values (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            f"{district_code}_B{b}_V0{v}",
                            f"Village {v}",
                            f"{district_code}_B{b}",
                            f"Block {b}",
                            district_code,
                            district,
                            state_code,
                            state,
                        ],
                    )
            for month in MONTHS:
                r = _with_pcts(_indicator_row(rng))
                r["visits_per_field_worker"] = round(r["home_visits"] / r["active_field_workers"], 2)
                r["registration_coverage_pct"] = _pct(
                    r["registered_pregnant_women"], r["target_registrations"]
                )
                con.execute(
                    "insert into mart_program_indicators_monthly by name select * from (select "
                    + ", ".join(
                        f"? as {k}" for k in ["state_code", "state", "district_code", "district", "month", *r]
                    )
                    + ")",
                    [state_code, state, district_code, district, month, *r.values()],
                )
                keys = [*INDICATOR_COUNTS, "active_field_workers", "target_registrations"]
                totals = state_totals.setdefault(month, dict.fromkeys(keys, 0))
                for k in keys:
                    totals[k] += r[k]
                funder = {k: (r[k] if r[k] >= 5 else None) for k in INDICATOR_COUNTS}
                funder["active_field_workers"] = r["active_field_workers"]
                funder["target_registrations"] = r["target_registrations"]
                _insert_funder(con, "district", district_code, state, district, month, funder)
                for scheme in SCHEMES:
                    apps = rng.randint(5, 80)
                    approvals = rng.randint(0, apps)
                    rejections = rng.randint(0, apps - approvals)
                    con.execute(
                        "insert into mart_scheme_applications values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            scheme,
                            state_code,
                            state,
                            district_code,
                            district,
                            month,
                            apps,
                            approvals,
                            rejections,
                            apps - approvals - rejections,
                            rng.randint(0, approvals),
                            float(rng.randint(5, 90)),
                        ],
                    )
                for code, name in [("ANC4", "Women with 4+ ANC"), ("INST_DEL", "Institutional deliveries")]:
                    con.execute(
                        "insert into mart_hmis_monthly values (?, ?, ?, ?, ?, ?)",
                        [state, district, month, code, name, float(rng.randint(0, 50))],
                    )
            for w in range(1, 4):
                worker = f"W{district_code}{w:02d}"
                week = date(2025, 1, 6)
                while week < date(2025, 12, 29):
                    subs = rng.randint(0, 25)
                    late = rng.randint(0, subs)
                    con.execute(
                        "insert into mart_field_worker_weekly values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            worker,
                            f"S{district_code}",
                            state_code,
                            district_code,
                            week,
                            subs,
                            rng.randint(0, subs),
                            late,
                            _pct(late, subs),
                            rng.randint(0, 3),
                            float(rng.randint(60, 100)),
                        ],
                    )
                    week += timedelta(days=7)
        for month, totals in state_totals.items():
            _insert_funder(con, "state", state_code, state, None, month, dict(totals))

    checks = ["pregnancy_registration_unique", "gps_in_area", "ages_plausible", "weights_plausible"]
    for run in range(10):
        for i, check in enumerate(checks):
            con.execute(
                "insert into dq_check_history values (?, ?, ?, ?, ?, ?, ?)",
                [
                    f"run-{run:03d}",
                    datetime(2025, 12, 1) + timedelta(days=run),
                    check,
                    "raw_kobo.pregnancy_registration",
                    i == 0,
                    rng.random() > 0.2,
                    str(rng.randint(0, 9)),
                ],
            )
    _build_form_layer(con, rng)
    con.close()
    return path


# The form layer (transform/models/marts/forms): two forms the demo does not have. The household survey
# names its geography questions (sources.yaml forms[].geography) and has labels in English and Hindi; the
# water point form has no geography (state_code null: coordinators see none of it) and English labels only.
FORM_QUESTIONS = [
    # source, form, question, type, list_name, {language: label}
    (
        "kobo",
        "household_survey",
        "water_source",
        "select_one",
        "water_src",
        {"en": "Main water source", "hi": "पानी का मुख्य स्रोत"},
    ),
    (
        "kobo",
        "household_survey",
        "assets",
        "select_multiple",
        "assets",
        {"en": "Household assets", "hi": "घर की संपत्ति"},
    ),
    (
        "kobo",
        "household_survey",
        "hh_size",
        "integer",
        None,
        {"en": "Household size", "hi": "परिवार का आकार"},
    ),
    ("kobo", "household_survey", "income", "decimal", None, {"en": "Monthly income", "hi": "मासिक आय"}),
    ("odk", "water_point", "functional", "select_one", "yes_no", {"en": "Is the pump working?"}),
    ("odk", "water_point", "depth_m", "decimal", None, {"en": "Depth (m)"}),
]
FORM_CHOICES = {
    ("kobo", "household_survey", "water_src"): [
        ("piped", {"en": "Piped water", "hi": "नल का पानी"}),
        ("well", {"en": "Well", "hi": "कुआँ"}),
        ("river", {"en": "River", "hi": "नदी"}),
    ],
    ("kobo", "household_survey", "assets"): [
        ("radio", {"en": "Radio", "hi": "रेडियो"}),
        ("bicycle", {"en": "Bicycle", "hi": "साइकिल"}),
        ("phone", {"en": "Mobile phone", "hi": "मोबाइल फ़ोन"}),
    ],
    ("odk", "water_point", "yes_no"): [("yes", {"en": "Yes"}), ("no", {"en": "No"})],
}


def _build_form_layer(con, rng: random.Random) -> None:
    con.execute(
        """create table dim_form_questions (source varchar, form varchar, table_name varchar,
        question varchar, question_name varchar, question_type varchar, list_name varchar,
        question_label varchar, question_labels varchar)"""
    )
    con.execute(
        """create table dim_form_choices (source varchar, form varchar, list_name varchar, choice varchar,
        choice_label varchar, choice_labels varchar)"""
    )
    con.execute(
        """create table dim_form_labels (source varchar, form varchar, kind varchar, question varchar,
        list_name varchar, choice varchar, language varchar, label varchar)"""
    )
    con.execute(
        """create table fct_form_submissions_daily (source varchar, form varchar, day date, month date,
        form_version varchar, enumerator varchar, review_state varchar, state_code varchar,
        district_code varchar, submissions bigint, flagged_submissions bigint)"""
    )
    con.execute(
        """create table fct_form_choices_monthly (source varchar, form varchar, table_name varchar,
        question varchar, question_label varchar, question_type varchar, list_name varchar, month date,
        state_code varchar, district_code varchar, choice varchar, choice_label varchar,
        choice_labels varchar, choice_unknown boolean, answers bigint)"""
    )
    con.execute(
        """create table fct_form_numbers_monthly (source varchar, form varchar, table_name varchar,
        question varchar, question_label varchar, question_type varchar, month date, state_code varchar,
        district_code varchar, answers bigint, missing bigint, min_value double, max_value double,
        mean_value double, median_value double)"""
    )
    rows: dict[str, list[list]] = {}

    def add(table: str, *row) -> None:
        rows.setdefault(table, []).append(list(row))

    for source, form, question, qtype, list_name, labels in FORM_QUESTIONS:
        label_text = json.dumps(labels, ensure_ascii=False)
        add(
            "dim_form_questions",
            source,
            form,
            form,
            question,
            question,
            qtype,
            list_name,
            labels["en"],
            label_text,
        )
        for language, label in labels.items():
            add("dim_form_labels", source, form, "question", question, None, None, language, label)
    for (source, form, list_name), choices in FORM_CHOICES.items():
        for choice, labels in choices:
            add(
                "dim_form_choices",
                source,
                form,
                list_name,
                choice,
                labels["en"],
                json.dumps(labels, ensure_ascii=False),
            )
            for language, label in labels.items():
                add("dim_form_labels", source, form, "choice", None, list_name, choice, language, label)
    places = [(s, d) for (s, _), districts in GEOGRAPHY.items() for d, _ in districts]
    forms = {("kobo", "household_survey"): places, ("odk", "water_point"): [(None, None)]}
    statuses = ["validation_status_approved", "validation_status_on_hold", "none"]
    for (source, form), geo in forms.items():
        for state_code, district_code in geo:
            enumerators = [f"enum_{district_code or 'x'}_{i}".lower() for i in (1, 2)]
            day = date(2025, 1, 1)
            while day <= date(2025, 12, 31):
                version = "v1" if day.month < 7 else "v2"
                for enumerator in enumerators:
                    if n := rng.randint(0, 4):
                        keys = [
                            source,
                            form,
                            day,
                            day.replace(day=1),
                            version,
                            enumerator,
                            rng.choice(statuses),
                        ]
                        add(
                            "fct_form_submissions_daily",
                            *keys,
                            state_code,
                            district_code,
                            n,
                            rng.randint(0, n // 2),
                        )
                day += timedelta(days=3)
            for month in MONTHS:
                _form_month(add, rng, source, form, month, state_code, district_code)
    # one bulk insert per table: row-by-row inserts would double the fixture's build time
    for table, table_rows in rows.items():
        columns = [r[0] for r in con.execute(f"describe {table}").fetchall()]
        batch = pa.table({c: [r[i] for r in table_rows] for i, c in enumerate(columns)})  # noqa: F841
        con.execute(f"insert into {table} select * from batch")


def _form_month(add, rng: random.Random, source, form, month, state_code, district_code) -> None:
    for q_source, q_form, question, qtype, list_name, labels in FORM_QUESTIONS:
        if (q_source, q_form) != (source, form):
            continue
        head = [source, form, form, question, labels["en"], qtype]
        if list_name:
            for choice, choice_labels in FORM_CHOICES[(source, form, list_name)]:
                label_text = json.dumps(choice_labels, ensure_ascii=False)
                tail = [choice, choice_labels["en"], label_text, False, rng.randint(1, 30)]
                add("fct_form_choices_monthly", *head, list_name, month, state_code, district_code, *tail)
            continue
        values = sorted(rng.uniform(1, 12) for _ in range(rng.randint(3, 20)))
        if qtype == "integer":
            values = [float(round(v)) for v in values]
        summary = [values[0], values[-1], sum(values) / len(values), values[len(values) // 2]]
        add(
            "fct_form_numbers_monthly",
            *head,
            month,
            state_code,
            district_code,
            len(values),
            rng.randint(0, 3),
            *summary,
        )


def _insert_funder(con, level, geo_code, state, district, month, counts: dict) -> None:
    row = _with_pcts(dict(counts))
    row["visits_per_field_worker"] = (
        None if row["home_visits"] is None else round(row["home_visits"] / row["active_field_workers"], 2)
    )
    row["registration_coverage_pct"] = _pct(row["registered_pregnant_women"], row["target_registrations"])
    suppressed = any(v is None for v in counts.values())
    cols = ["level", "geo_code", "state", "district", "month", *row, "suppressed"]
    con.execute(
        f"insert into mart_funder_summary ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
        [level, geo_code, state, district, month, *row.values(), suppressed],
    )
