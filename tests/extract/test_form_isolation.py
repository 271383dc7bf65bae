"""One form whose requests keep failing (503 after every retry) fails alone: the source's other forms load,
the run reports the source as partly loaded naming the form and its error, and the run after the fault
clears loads that form completely (its cursor did not move), with no row twice."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import pytest

from demo.generator import KOBO_ASSET_UIDS
from extract.run import LoadReport, run_source

TABLES = {
    "odk": ["anc_visit", "delivery", "delivery__baby", "scheme_application"],
    "kobo": ["child_health", "child_health__child", "pregnancy_registration"],
}
CASES = [
    # source, failing form, its tables, what the fault matches (the form's first data request on)
    ("odk", "delivery", {"delivery", "delivery__baby"}, "/forms/delivery.svc/Submissions"),
    # the form's submissions are read, then its repeat table keeps failing: nothing of it may count as done
    ("odk", "delivery", {"delivery__baby"}, "/forms/delivery.svc/Submissions.babies.baby"),
    ("kobo", "child_health", {"child_health", "child_health__child"},
     f"/assets/{KOBO_ASSET_UIDS['child_health']}/data/"),
]  # fmt: skip


def arm(url: str, **fault) -> None:
    httpx.post(f"{url}/_emulator/faults", json=fault, timeout=5).raise_for_status()


def clear(url: str) -> None:
    httpx.delete(f"{url}/_emulator/faults", timeout=5).raise_for_status()


def _tables(wh: Path, source: str) -> dict[str, list[tuple]]:
    """The source's form tables without load times; a table not created yet reads as None."""
    out: dict[str, list[tuple] | None] = {}
    with duckdb.connect(str(wh), read_only=True) as con:
        for t in TABLES[source]:
            try:
                out[t] = con.execute(
                    f"select * exclude (_loaded_at) from raw_{source}.{t} order by all"
                ).fetchall()
            except duckdb.CatalogException:
                out[t] = None
    return out


@pytest.mark.parametrize(("source", "form", "failing", "path"), CASES, ids=["odk", "odk-repeat", "kobo"])
def test_failing_form_fails_alone_and_resumes(
    source, form, failing, path, emulators, demo_world, make_config, tmp_path
) -> None:
    url = emulators.odk_url if source == "odk" else emulators.kobo_url
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets")
    reference = tmp_path / "reference" / "warehouse.duckdb"
    assert run_source(config.source(source), config, reference).ok
    expected = _tables(reference, source)

    wh = config.warehouse.path
    arm(url, fault="503", times=100_000, path_contains=path, retry_after=0)
    try:
        hit = run_source(config.source(source), config, backoff_base_s=0.01)
    finally:
        clear(url)
    assert not hit.ok and hit.status == "partial", hit
    assert list(hit.failed_forms) == [form]
    assert "503" in hit.failed_forms[form] and source in hit.failed_forms[form]
    summary = LoadReport([hit], wh).summary()
    assert f"form {form}" in summary and "503" in summary and "PARTIAL" in summary
    got = _tables(wh, source)
    for table in set(TABLES[source]) - failing:
        assert got[table] == expected[table], f"{table} of a healthy form was not loaded"
    for table in failing:
        assert not got[table], f"{table}: the failing requests' rows cannot be there"
    with duckdb.connect(str(wh), read_only=True) as con:
        failed = con.execute(
            f"select form, error from raw_{source}._sangam_loads where status = 'failed'"
        ).fetchall()
    assert [f for f, _ in failed] == [form] and "503" in failed[0][1]

    again = run_source(config.source(source), config)
    assert again.ok, again.error
    assert _tables(wh, source) == expected  # complete, no duplicates
    if "delivery__baby" in failing:
        assert again.rows.get("delivery__baby"), "the resumed form reports the rows it loaded"


def test_odk_log_in_failing_fails_the_source_once(emulators, demo_world, make_config) -> None:
    """The session is the project's, not a form's: a log-in that keeps failing fails the source after one
    round of retries, instead of each form waiting through its own."""
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets")
    arm(emulators.odk_url, fault="503", times=100_000, path_contains="/v1/sessions", retry_after=0)
    try:
        result = run_source(config.source("odk"), config, backoff_base_s=0.01)
        left = httpx.get(f"{emulators.odk_url}/_emulator/faults", timeout=5).json()["faults"][0]["times"]
    finally:
        clear(emulators.odk_url)
    assert result.status == "failed" and not result.failed_forms
    assert "/v1/sessions" in result.error and "503" in result.error
    attempts = 100_000 - left
    assert attempts == config.source("odk").max_retries + 1
