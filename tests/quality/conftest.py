"""A small hand-built warehouse with the contract's raw and mart columns (docs/contracts.md sections 3-4), so
the quality gates and publication can be tested without the extract and dbt steps. End-to-end tests on real
pipeline output live in test_pipeline_e2e.py."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from quality.publish import ServingPaths

DISTRICTS = [
    ("MH", "Maharashtra", "MH_PUN", "Pune"),
    ("MH", "Maharashtra", "MH_NAG", "Nagpur"),
    ("BR", "Bihar", "BR_GAY", "Gaya"),
]
MONTHS = [date(2025, m, 1) for m in range(1, 7)]
WOMEN = 40

SYSTEM = """submission_id VARCHAR, instance_id VARCHAR, root_uuid VARCHAR, deprecated_id VARCHAR,
  submitted_at TIMESTAMP, updated_at TIMESTAMP, deleted_at TIMESTAMP, form_version VARCHAR,
  submitted_by VARCHAR,
  review_state VARCHAR, _loaded_at TIMESTAMP"""


def phone(i: int) -> str:
    return f"98{i:08d}"


def aadhaar(i: int) -> str:
    return f"4{i:011d}"


def home_gps(i: int) -> tuple[float, float]:
    return 18.5 + i * 0.001234, 73.8 + i * 0.000987


def build_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw_kobo; CREATE SCHEMA raw_odk; CREATE SCHEMA marts")
    con.execute(f"""CREATE TABLE raw_kobo.pregnancy_registration ({SYSTEM}, worker_id VARCHAR, state VARCHAR,
        district VARCHAR, block VARCHAR, village VARCHAR, woman_id VARCHAR, woman_name VARCHAR,
        age_years BIGINT,
        phone VARCHAR, aadhaar VARCHAR, home_gps_latitude DOUBLE, home_gps_longitude DOUBLE,
        home_gps_altitude DOUBLE, home_gps_accuracy DOUBLE, registration_date DATE, lmp_date DATE)""")
    con.execute(f"""CREATE TABLE raw_odk.anc_visit ({SYSTEM}, worker_id VARCHAR, village VARCHAR,
        woman_id VARCHAR,
        visit_date DATE, visit_number BIGINT, weight_kg DOUBLE, hb_gdl DOUBLE)""")
    con.execute("""CREATE TABLE raw_kobo.form_fields (source VARCHAR, form VARCHAR, column_name VARCHAR,
        table_name VARCHAR, type VARCHAR, is_personal BOOLEAN)""")
    for col, personal in [
        ("woman_name", True),
        ("phone", True),
        ("aadhaar", True),
        ("age_years", False),
        ("woman_id", False),
    ]:
        con.execute(
            "INSERT INTO raw_kobo.form_fields VALUES ('kobo', 'pregnancy_registration', ?, "
            "'pregnancy_registration', 'text', ?)",
            [col, personal],
        )
    base = datetime(2025, 1, 3, 9, 0)
    for i in range(WOMEN):
        district = DISTRICTS[i % len(DISTRICTS)][2]
        reg = date(2025, 1 + i % 6, 5)
        lat, lon = home_gps(i)
        con.execute(
            "INSERT INTO raw_kobo.pregnancy_registration VALUES "
            "(?, ?, ?, NULL, ?, NULL, NULL, 'v1', 'fw', NULL, "
            "now(), ?, 'MH', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 5, ?, ?)",
            [
                str(1000 + i),
                f"uuid:{i}",
                f"uuid:{i}",
                base + timedelta(days=i * 4),
                f"FW{i % 5:04d}",
                district,
                f"{district}_B1",
                f"{district}_B1_V01",
                f"W{i:04d}",
                f"Sunita Devi {i}",
                20 + i % 20,
                phone(i),
                aadhaar(i),
                lat,
                lon,
                reg,
                reg - timedelta(days=60),
            ],
        )
        con.execute(
            "INSERT INTO raw_odk.anc_visit VALUES "
            "(?, ?, ?, NULL, ?, NULL, NULL, '1', 'fw', NULL, now(), ?, ?, ?, ?,"
            " 1, 55.5, 11.2)",
            [
                f"uuid:anc{i}",
                f"uuid:anc{i}",
                f"uuid:anc{i}",
                base + timedelta(days=i * 4 + 10),
                f"FW{i % 5:04d}",
                f"{district}_B1_V01",
                f"W{i:04d}",
                reg + timedelta(days=10),
            ],
        )

    con.execute(
        """CREATE TABLE marts.dim_geography AS SELECT d.district_code || '_B1_V01' AS village_code,
        'Village 1' AS village, d.district_code || '_B1' AS block_code, 'Block 1' AS block, d.district_code,
        d.district, d.state_code, d.state FROM (VALUES """
        + ", ".join(f"('{s}', '{sn}', '{dc}', '{dn}')" for s, sn, dc, dn in DISTRICTS)
        + ") d(state_code, state, district_code, district)"
    )
    con.execute("""CREATE TABLE marts.dim_date AS SELECT CAST(d AS DATE) AS date_day,
        CAST(date_trunc('month', d) AS DATE) AS month_start, CAST(date_trunc('week',
        d) AS DATE) AS week_start,
        year(d) AS year, month(d) AS month, weekofyear(d) AS iso_week
        FROM generate_series(TIMESTAMP '2025-01-01', TIMESTAMP '2025-06-30', INTERVAL 1 DAY) t(d)""")
    con.execute("""CREATE TABLE marts.mart_program_indicators_monthly (state_code VARCHAR, state VARCHAR,
        district_code VARCHAR, district VARCHAR, month DATE, registered_pregnant_women BIGINT,
        deliveries BIGINT,
        institutional_deliveries BIGINT, institutional_delivery_pct DOUBLE, women_delivered_with_anc4 BIGINT,
        anc4_pct DOUBLE, children_12_23_visited BIGINT, children_12_23_fully_immunized BIGINT,
        fully_immunized_12_23_pct DOUBLE, children_measured BIGINT, underweight BIGINT, stunted BIGINT,
        wasted BIGINT, underweight_pct DOUBLE, stunted_pct DOUBLE, wasted_pct DOUBLE, home_visits BIGINT,
        active_field_workers BIGINT, visits_per_field_worker DOUBLE, target_registrations BIGINT,
        registration_coverage_pct DOUBLE)""")
    for k, (s, sn, dc, dn) in enumerate(DISTRICTS):
        for m, month in enumerate(MONTHS):
            n = 10 + k + m
            con.execute(
                "INSERT INTO marts.mart_program_indicators_monthly VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    s,
                    sn,
                    dc,
                    dn,
                    month,
                    n,
                    8,
                    6,
                    75.0,
                    4,
                    50.0,
                    5,
                    4,
                    80.0,
                    12,
                    3,
                    4,
                    1,
                    25.0,
                    33.3,
                    8.3,
                    30,
                    5,
                    6.0,
                    20,
                    n * 5.0,
                ],
            )
    con.execute("""CREATE TABLE marts.mart_scheme_applications AS SELECT scheme, g.state_code, g.state,
        g.district_code, g.district, m AS month, 10 AS applications, 6 AS approvals,
        2 AS rejections, 2 AS pending,
        5 AS benefits_received, 21.5 AS median_days_to_benefit
        FROM (SELECT DISTINCT state_code, state, district_code, district FROM marts.dim_geography) g,
             (VALUES ('pmmvy'), ('jsy')) s(scheme),
             (SELECT DISTINCT month_start AS m FROM marts.dim_date) mm""")
    con.execute("""CREATE TABLE marts.mart_field_worker_weekly AS SELECT 'FW' || lpad(w::VARCHAR, 4, '0')
        AS worker_id, 'SV0001' AS supervisor_id, 'MH' AS state_code, 'MH_PUN' AS district_code,
        wk AS week_start,
        7 AS submissions, 5 AS home_visits, 1 AS late_submissions, 14.3 AS late_pct, 0 AS dq_flags,
        100.0 AS dq_score FROM range(5) r(w), (SELECT DISTINCT week_start AS wk FROM marts.dim_date) d""")
    con.execute("""CREATE TABLE marts.mart_funder_summary AS SELECT 'district' AS level,
        district_code AS geo_code,
        state, district, month, registered_pregnant_women, deliveries, institutional_delivery_pct, anc4_pct,
        false AS suppressed FROM marts.mart_program_indicators_monthly""")
    con.execute("""CREATE TABLE marts.mart_hmis_monthly AS SELECT state, district, month, 'HMIS_1.1' AS
        indicator_code, 'Pregnant women registered' AS indicator_name,
        registered_pregnant_women::DOUBLE AS value
        FROM marts.mart_program_indicators_monthly""")
    # the form layer (one form, one select question, one number)
    con.execute("""CREATE TABLE marts.dim_form_questions AS SELECT 'kobo' AS source, 'child_health' AS form,
        'child_health__child' AS table_name, 'sex' AS question, 'sex' AS question_name,
        'select_one' AS question_type, 'sex' AS list_name, 'Sex' AS question_label,
        '{"en": "Sex"}' AS question_labels""")
    con.execute("""CREATE TABLE marts.dim_form_choices AS SELECT 'kobo' AS source, 'child_health' AS form,
        'sex' AS list_name, c AS choice, upper(c) AS choice_label, '{}' AS choice_labels
        FROM (VALUES ('male'), ('female')) v(c)""")
    con.execute("""CREATE TABLE marts.dim_form_labels AS SELECT 'kobo' AS source, 'child_health' AS form,
        'question' AS kind, 'sex' AS question, NULL AS list_name, NULL AS choice, 'en' AS language,
        'Sex' AS label""")
    con.execute("""CREATE TABLE marts.fct_form_submissions_daily AS SELECT 'kobo' AS source,
        'child_health' AS form, date_day AS day, month_start AS month, 'v1' AS form_version,
        'FW0001' AS enumerator, 'none' AS review_state, 'MH' AS state_code, 'MH_PUN' AS district_code,
        3 AS submissions, 0 AS flagged_submissions FROM marts.dim_date""")
    con.execute("""CREATE TABLE marts.fct_form_choices_monthly AS SELECT 'kobo' AS source,
        'child_health' AS form, 'child_health__child' AS table_name, 'sex' AS question,
        'Sex' AS question_label, 'select_one' AS question_type, 'sex' AS list_name, m AS month,
        'MH' AS state_code,
        'MH_PUN' AS district_code, 'male' AS choice, 'Male' AS choice_label, '{}' AS choice_labels,
        false AS choice_unknown, 9 AS answers FROM (SELECT DISTINCT month_start AS m FROM marts.dim_date)""")
    con.execute("""CREATE TABLE marts.fct_form_numbers_monthly AS SELECT 'kobo' AS source,
        'child_health' AS form, 'child_health__child' AS table_name, 'weight_kg' AS question,
        'Weight (kg)' AS question_label, 'decimal' AS question_type, m AS month, 'MH' AS state_code,
        'MH_PUN' AS district_code, 9 AS answers, 1 AS missing, 3.1 AS min_value, 14.2 AS max_value,
        9.5 AS mean_value, 9.1 AS median_value FROM (SELECT DISTINCT month_start AS m FROM marts.dim_date)""")
    # dbt's personal dimension: must never be served (it is not in serving_tables.yaml).
    con.execute("""CREATE TABLE marts.dim_field_worker AS SELECT DISTINCT worker_id,
        'Asha Kumari' AS worker_name
        FROM marts.mart_field_worker_weekly""")
    con.close()


@pytest.fixture(scope="session")
def _base_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("quality_base") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture
def paths(_base_warehouse: Path, tmp_path: Path) -> ServingPaths:
    """A fresh copy of the small warehouse and where its serving file goes."""
    (tmp_path / "warehouse").mkdir()
    warehouse = tmp_path / "warehouse" / "warehouse.duckdb"
    shutil.copyfile(_base_warehouse, warehouse)
    return ServingPaths(warehouse, tmp_path / "warehouse" / "serving.duckdb")
