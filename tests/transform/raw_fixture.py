# ruff: noqa: E501  (the fixture rows read best one case per line)
"""A tiny raw warehouse shaped exactly as docs/contracts.md §3, built by SQL, with known answers.

It lets the dbt models be tested without the generator, emulators and extractor: each case below is one
rule of the contract (latest edit wins, deleted rows never count, resubmitted duplicates count once,
institutional places, ANC4, full immunization, WHO z-scores, late submissions, coverage).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

GEO = ("MH", "MH_PUN", "MH_PUN_B1", "MH_PUN_B1_V01")
GEO2 = ("MH", "MH_NAS", "MH_NAS_B1", "MH_NAS_B1_V01")
GEO_COLS = [("state", "select_one", "state"), ("district", "select_one", "district"),
            ("block", "select_one", "block"), ("village", "select_one", "village")]  # fmt: skip

# form → (source, [(name, type, list_name)], {repeat table: [(name, type, list_name)]})
FORMS = {
    "pregnancy_registration": ("kobo", [
        ("woman_id", "text", None), ("woman_name", "text", None), ("phone", "text", None),
        ("aadhaar", "text", None), ("age_years", "integer", None), ("lmp_date", "date", None),
        ("registration_date", "date", None), *GEO_COLS, ("home_gps", "geopoint", None),
        ("danger_signs", "select_multiple", "danger_signs"), ("worker_id", "text", None),
    ], {}),
    "child_health": ("kobo", [
        ("visit_date", "date", None), *GEO_COLS, ("worker_id", "text", None), ("head_name", "text", None),
        ("home_gps", "geopoint", None),
    ], {"child_health__child": [
        ("child_id", "text", None), ("child_name", "text", None), ("sex", "select_one", "sex"),
        ("dob", "date", None), ("age_months", "calculate", None), ("weight_kg", "decimal", None),
        ("height_cm", "decimal", None), ("muac_cm", "decimal", None), ("vaccines", "select_multiple", "vaccines"),
    ]}),
    "anc_visit": ("odk", [
        ("woman_id", "text", None), ("visit_date", "date", None), ("visit_number", "integer", None),
        ("weight_kg", "decimal", None), ("hb_gdl", "decimal", None), ("bp_systolic", "integer", None),
        ("bp_diastolic", "integer", None), ("ifa_tablets", "integer", None), *GEO_COLS,
        ("worker_id", "text", None),
    ], {}),
    "delivery": ("odk", [
        ("woman_id", "text", None), ("delivery_date", "date", None), ("place", "select_one", "place"),
        *GEO_COLS, ("worker_id", "text", None),
    ], {"delivery__baby": [
        ("sex", "select_one", "sex"), ("birth_weight_kg", "decimal", None), ("outcome", "select_one", "outcome"),
    ]}),
    "scheme_application": ("odk", [
        ("application_id", "text", None), ("family_id", "text", None), ("head_name", "text", None),
        ("phone", "text", None), ("scheme", "select_one", "scheme"), *GEO_COLS, ("worker_id", "text", None),
        ("applied_date", "date", None), ("status", "select_one", "status"), ("decision_date", "date", None),
        ("benefit_received_date", "date", None),
    ], {}),
}  # fmt: skip
PERSONAL = {"woman_name", "child_name", "head_name", "phone", "aadhaar", "home_gps"}
SQL_TYPE = {"integer": "BIGINT", "decimal": "DOUBLE", "date": "DATE"}
SYSTEM = """submission_id VARCHAR, instance_id VARCHAR, root_uuid VARCHAR, deprecated_id VARCHAR,
    submitted_at TIMESTAMP, updated_at TIMESTAMP, deleted_at TIMESTAMP, form_version VARCHAR,
    submitted_by VARCHAR, review_state VARCHAR, _loaded_at TIMESTAMP"""
REPEAT_SYSTEM = (
    "submission_id VARCHAR, row_id VARCHAR, repeat_index BIGINT, parent_row_id VARCHAR, _loaded_at TIMESTAMP"
)


def _columns(fields: list[tuple[str, str, str | None]]) -> list[str]:
    cols = []
    for name, xtype, _ in fields:
        if xtype == "geopoint":
            cols += [f"{name}_{p} DOUBLE" for p in ("latitude", "longitude", "altitude", "accuracy")]
        elif xtype == "select_multiple":
            cols += [f"{name} VARCHAR", f"{name}_list VARCHAR[]"]
        else:
            cols.append(f"{name} {SQL_TYPE.get(xtype, 'VARCHAR')}")
    return cols


def _create(con: duckdb.DuckDBPyConnection) -> None:
    for source in ("kobo", "odk", "sheets"):
        con.execute(f"create schema raw_{source}")
    for source in ("kobo", "odk"):
        con.execute(f"""create table raw_{source}.form_fields (source VARCHAR, form VARCHAR, form_version VARCHAR,
            path VARCHAR, name VARCHAR, column_name VARCHAR, table_name VARCHAR, type VARCHAR, list_name VARCHAR,
            required BOOLEAN, label VARCHAR, labels VARCHAR, is_personal BOOLEAN)""")
        con.execute(f"""create table raw_{source}.form_choices (source VARCHAR, form VARCHAR, list_name VARCHAR,
            name VARCHAR, label VARCHAR, labels VARCHAR)""")
    for form, (source, fields, repeats) in FORMS.items():
        con.execute(f"create table raw_{source}.{form} ({SYSTEM}, {', '.join(_columns(fields))})")
        tables = [(form, fields, form)] + [(t, f, f"{form}/{t.split('__')[1]}") for t, f in repeats.items()]
        for table, cols, prefix in tables:
            if table != form:
                con.execute(
                    f"create table raw_{source}.{table} ({REPEAT_SYSTEM}, {', '.join(_columns(cols))})"
                )
            for name, xtype, list_name in cols:
                label = name.replace("_", " ").capitalize()
                con.execute(
                    f"insert into raw_{source}.form_fields values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        source,
                        form,
                        "v1",
                        f"{prefix}/{name}",
                        name,
                        name,
                        table,
                        xtype,
                        list_name,
                        False,
                        label,
                        json.dumps({"en": label, "hi": f"{label} (hi)"}),
                        name in PERSONAL,
                    ],
                )
    for level, values in (("state", ["MH"]), ("district", ["MH_PUN", "MH_NAS"]),
                          ("block", ["MH_PUN_B1", "MH_NAS_B1"]), ("village", ["MH_PUN_B1_V01", "MH_NAS_B1_V01"])):  # fmt: skip
        for code in values:
            label = {"MH": "Maharashtra", "MH_PUN": "Pune", "MH_NAS": "Nashik"}.get(code, code.title())
            for source in ("kobo", "odk"):
                con.execute(
                    f"insert into raw_{source}.form_choices values (?, 'anc_visit', ?, ?, ?, ?)",
                    [source, level, code, label, json.dumps({"en": label, "hi": label})],
                )
    con.execute("""create table raw_sheets.field_workers (worker_id VARCHAR, worker_name VARCHAR,
        supervisor_id VARCHAR, state VARCHAR, district VARCHAR, block VARCHAR, _source_file VARCHAR,
        _source_row BIGINT, _loaded_at TIMESTAMP)""")
    con.execute("""create table raw_sheets.district_targets (state VARCHAR, district VARCHAR, year BIGINT,
        month BIGINT, target_registrations BIGINT, _source_file VARCHAR, _source_row BIGINT, _loaded_at TIMESTAMP)""")
    con.execute("""create table raw_sheets.partner_monthly (district VARCHAR, month VARCHAR,
        beneficiaries_reached BIGINT, _source_file VARCHAR, _source_row BIGINT, _loaded_at TIMESTAMP)""")


def _sub(sid: str, submitted: str, *, updated=None, deleted=None, version="v1") -> list:
    return [sid, f"uuid:{sid}", f"uuid:{sid}", None, submitted, updated, deleted, version, "enum1", None,
            "2025-03-31 00:00:00"]  # fmt: skip


def _insert(con: duckdb.DuckDBPyConnection, table: str, values: list) -> None:
    con.execute(f"insert into {table} values ({', '.join('?' * len(values))})", values)


def build(path: Path) -> Path:
    con = duckdb.connect(str(path))
    _create(con)
    gps = [18.5, 73.8, 560.0, 5.0]
    # pregnancy_registration: w1 (March, Pune), w2 registered twice (the earliest wins: February, Pune),
    # w3 deleted, w4 in Nashik whose chosen district disagrees with its village (the village decides).
    preg = [
        (_sub("1", "2025-03-02 10:00:00"), "w1", "2025-03-01", GEO, "W01"),
        (_sub("2", "2025-02-10 10:00:00"), "w2", "2025-02-09", GEO, "W01"),
        (_sub("3", "2025-03-20 10:00:00"), "w2", "2025-03-19", GEO, "W01"),
        (_sub("4", "2025-03-05 10:00:00", deleted="2025-03-06 00:00:00"), "w3", "2025-03-05", GEO, "W01"),
        (
            _sub("5", "2025-03-25 10:00:00"),
            "w4",
            "2025-03-03",
            ("MH", "MH_PUN", "MH_NAS_B1", "MH_NAS_B1_V01"),
            "W02",
        ),
    ]
    for sys, woman, reg, geo, worker in preg:
        _insert(
            con,
            "raw_kobo.pregnancy_registration",
            [
                *sys,
                woman,
                "Name",
                "999",
                "1234",
                24,
                "2024-07-01",
                reg,
                *geo,
                *gps,
                "fever",
                ["fever"],
                worker,
            ],
        )
    # anc_visit: w1 has 4 distinct dates before delivery (one duplicated), plus one after; w2 has 3.
    anc = [("a1", "w1", "2024-10-01"), ("a2", "w1", "2024-11-01"), ("a3", "w1", "2024-12-01"),
           ("a4", "w1", "2024-12-01"), ("a5", "w1", "2025-01-15"), ("a6", "w1", "2025-03-20"),
           ("a7", "w2", "2024-12-01"), ("a8", "w2", "2025-01-01"), ("a9", "w2", "2025-02-01")]  # fmt: skip
    for sid, woman, visit in anc:
        _insert(
            con,
            "raw_odk.anc_visit",
            [*_sub(sid, visit + " 12:00:00"), woman, visit, 1, 60.0, 11.0, 120, 80, 30, *GEO, "W01"],
        )
    # deliveries in March: w1 at a PHC (institutional, ANC4), w2 at home, w5 deleted; d2 was edited from
    # 'phc' to 'home': the raw row holds the latest version.
    deliveries = [(_sub("d1", "2025-03-11 09:00:00"), "w1", "2025-03-10", "phc"),
                  (_sub("d2", "2025-03-12 09:00:00", updated="2025-03-13 09:00:00"), "w2", "2025-03-12", "home"),
                  (_sub("d3", "2025-03-12 09:00:00", deleted="2025-03-14 00:00:00"), "w5", "2025-03-12", "chc")]  # fmt: skip
    for sys, woman, date, place in deliveries:
        _insert(con, "raw_odk.delivery", [*sys, woman, date, place, *GEO, "W01"])
        con.execute(
            "insert into raw_odk.delivery__baby values (?,?,1,null,'2025-03-31',?,3.1,'live_birth')",
            [sys[0], f"{sys[0]}-b1", "female"],
        )
    # child_health visits in March: c1 (boy, 18 months, fully immunized, well nourished) visited twice:
    # the latest visit counts; c2 (girl, 14 months, missing mr1, underweight and wasted); c3 implausible
    # weight (WAZ < -6 excluded); the visit of c4 submitted 10 days late.
    full = "bcg opv0 opv1 opv2 opv3 penta1 penta2 penta3 mr1"
    children = [
        ("h1", "2025-03-03", "W01", "2025-03-03 18:00:00", [("c1", "male", "2023-09-01", 9.0, 78.0, full)]),
        ("h2", "2025-03-17", "W01", "2025-03-18 18:00:00", [("c1", "male", "2023-09-01", 11.0, 82.0, full),
                                                           ("c2", "female", "2024-01-10", 7.0, 76.0, full.replace(" mr1", ""))]),
        ("h3", "2025-03-20", "W02", "2025-03-20 18:00:00", [("c3", "female", "2024-06-01", 2.0, 70.0, "bcg")]),
        ("h4", "2025-03-05", "W02", "2025-03-15 18:00:00", [("c4", "male", "2021-01-01", 14.0, 95.0, "bcg")]),
    ]  # fmt: skip
    for sid, visit, worker, submitted, kids in children:
        _insert(con, "raw_kobo.child_health", [*_sub(sid, submitted), visit, *GEO, worker, "Head", *gps])
        for i, (cid, sex, dob, weight, height, vaccines) in enumerate(kids, start=1):
            _insert(
                con,
                "raw_kobo.child_health__child",
                [
                    sid,
                    f"{sid}-{i}",
                    i,
                    None,
                    "2025-03-31",
                    cid,
                    "Child",
                    sex,
                    dob,
                    "0",
                    weight,
                    height,
                    None,
                    vaccines,
                    vaccines.split(),
                ],
            )
    schemes = [
        (_sub("s1", "2025-03-02 10:00:00"), "app1", "pension", "2025-03-01", "approved", "2025-03-10", "2025-03-21"),
        (_sub("s2", "2025-03-03 10:00:00"), "app2", "pension", "2025-03-02", "rejected", "2025-03-12", None),
        (_sub("s3", "2025-03-04 10:00:00"), "app3", "pension", "2025-03-03", "approved", "2025-03-05", "2025-03-13"),
        (_sub("s4", "2025-03-05 10:00:00"), "app4", "pension", "2025-03-04", "pending", None, None),
        (_sub("s5", "2025-03-06 10:00:00"), "app1", "pension", "2025-03-05", "approved", "2025-03-10", "2025-03-21"),
    ]  # fmt: skip
    for sys, app, scheme, applied, status, decided, benefit in schemes:
        _insert(
            con,
            "raw_odk.scheme_application",
            [*sys, app, "f1", "Head", "999", scheme, *GEO, "W01", applied, status, decided, benefit],
        )
    con.execute("""insert into raw_sheets.field_workers values
        ('W01', 'Asha One', 'S01', 'MH', 'MH_PUN', 'MH_PUN_B1', 'field_workers.xlsx', 2, '2025-03-31'),
        ('W02', 'Asha Two', 'S01', 'MH', 'MH_NAS', 'MH_NAS_B1', 'field_workers.xlsx', 3, '2025-03-31'),
        ('W09', 'Asha Idle', 'S01', 'MH', 'MH_PUN', 'MH_PUN_B1', 'field_workers.xlsx', 4, '2025-03-31')""")
    con.execute("""insert into raw_sheets.district_targets values
        ('MH', 'MH_PUN', 2025, 3, 4, 'district_targets.xlsx', 2, '2025-03-31'),
        ('MH', 'MH_NAS', 2025, 3, 0, 'district_targets.xlsx', 3, '2025-03-31')""")
    con.close()
    return path


def add_child_visit(path: Path, sid: str, visit_date: str, kids: list[tuple], worker: str = "W01") -> None:
    """Add one child-health visit with children (child_id, sex, dob, weight_kg, height_cm, vaccines)."""
    con = duckdb.connect(str(path))
    _insert(con, "raw_kobo.child_health", [*_sub(sid, visit_date + " 18:00:00"), visit_date, *GEO, worker, "Head",
                                           18.5, 73.8, 560.0, 5.0])  # fmt: skip
    for i, (cid, sex, dob, weight, height, vaccines) in enumerate(kids, start=1):
        _insert(con, "raw_kobo.child_health__child", [sid, f"{sid}-{i}", i, None, "2025-03-31", cid, "Child", sex,
                                                      dob, "0", weight, height, None, vaccines, vaccines.split()])  # fmt: skip
    con.close()
