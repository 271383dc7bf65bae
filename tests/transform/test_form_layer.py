"""The generic form layer (marts fct_form_* / dim_form_*) against what the survey servers' own APIs return.

The expected figures are computed here from the KoBo data endpoint and the ODK OData feed of the emulators,
not from the raw tables the models read, so a mistake in extract or in the models shows as a difference."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import httpx

from tests.conftest import TEST_SECRETS

CHILD_HEALTH = "aCh8lD4hE6aLtH2vKs9WpQ"


def _kobo_submissions(url: str, uid: str) -> list[dict]:
    headers = {"Authorization": f"Token {TEST_SECRETS['SANGAM_KOBO_TOKEN']}"}
    out, page = [], f"{url}/api/v2/assets/{uid}/data/?format=json&limit=1000"
    while page:
        body = httpx.get(page, headers=headers, timeout=60).raise_for_status().json()
        out += body["results"]
        page = body.get("next")
    return out


def _odk_submissions(url: str, form: str) -> list[dict]:
    login = {"email": TEST_SECRETS["SANGAM_ODK_EMAIL"], "password": TEST_SECRETS["SANGAM_ODK_PASSWORD"]}
    token = httpx.post(f"{url}/v1/sessions", json=login, timeout=30).raise_for_status().json()["token"]
    feed = f"{url}/v1/projects/1/forms/{form}.svc/Submissions"
    body = httpx.get(feed, headers={"Authorization": f"Bearer {token}"}, timeout=60).raise_for_status().json()
    return body["value"]


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_choice_counts_equal_the_kobo_api(demo_warehouse: Path, emulators) -> None:
    expected: Counter = Counter()
    for sub in _kobo_submissions(emulators.kobo_url, CHILD_HEALTH):
        month = sub["_submission_time"][:7]
        district = sub["location/district"]
        for child in sub.get("children/child", []):
            expected[("sex", month, district, child["children/child/sex"])] += 1
            for vaccine in child.get("children/child/vaccines", "").split():
                expected[("vaccines", month, district, vaccine)] += 1
    assert expected
    got = {
        (q, m.isoformat()[:7], d, c): n
        for q, m, d, c, n in _rows(
            demo_warehouse,
            "select question, month, district_code, choice, answers from marts.fct_form_choices_monthly "
            "where form = 'child_health' and question in ('sex', 'vaccines')",
        )
    }
    assert got == dict(expected)
    labels = dict(
        _rows(
            demo_warehouse,
            "select distinct choice, choice_label from marts.fct_form_choices_monthly "
            "where form = 'child_health' and question = 'sex'",
        )
    )
    assert labels == {"male": "Male", "female": "Female"}


def test_numeric_summaries_equal_the_odk_api(demo_warehouse: Path, emulators) -> None:
    values: dict[tuple, list] = defaultdict(list)
    for sub in _odk_submissions(emulators.odk_url, "anc_visit"):
        if sub["__system"].get("deletedAt"):
            continue
        key = (sub["__system"]["submissionDate"][:7], sub["location"]["district"])
        values[key].append(sub["exam"]["weight_kg"])
    assert values
    got = {
        (m.isoformat()[:7], d): (n, missing, lo, hi, mean, median)
        for m, d, n, missing, lo, hi, mean, median in _rows(
            demo_warehouse,
            "select month, district_code, answers, missing, min_value, max_value, mean_value, median_value "
            "from marts.fct_form_numbers_monthly where form = 'anc_visit' and question = 'weight_kg'",
        )
    }
    assert sorted(got) == sorted(values)
    for key, vs in values.items():
        present = [v for v in vs if v is not None]
        n, missing, lo, hi, mean, median = got[key]
        assert (n, missing) == (len(present), len(vs) - len(present)), key
        if present:
            assert (lo, hi) == (min(present), max(present)), key
            assert abs(mean - statistics.fmean(present)) < 1e-9, key
            assert abs(median - statistics.median(present)) < 1e-9, key


def test_submissions_per_day_and_no_personal_questions(demo_warehouse: Path, emulators) -> None:
    subs = _kobo_submissions(emulators.kobo_url, CHILD_HEALTH)
    expected = Counter((s["_submission_time"][:10], s["worker_id"], s["location/state"]) for s in subs)
    got = {
        (d.isoformat(), e, st): n
        for d, e, st, n in _rows(
            demo_warehouse,
            "select day, enumerator, state_code, sum(submissions)::bigint "
            "from marts.fct_form_submissions_daily where form = 'child_health' group by all",
        )
    }
    assert got == dict(expected)
    questions = {q for (q,) in _rows(demo_warehouse, "select question from marts.dim_form_questions")}
    assert {"vaccines", "weight_kg", "scheme"} <= questions
    assert not questions & {"head_name", "child_name", "woman_name", "phone", "aadhaar", "home_gps"}
    languages = {lang for (lang,) in _rows(demo_warehouse, "select language from marts.dim_form_labels")}
    assert languages == {"en", "hi"}
