"""Flaky servers: every fault the emulators inject is retried; a source that keeps failing is reported and
does not stop the others; no secret appears in any output, log or table."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import httpx
import pytest

from extract.run import load_sources, run_source
from tests.conftest import TEST_SECRETS


def arm(url: str, **fault) -> None:
    httpx.post(f"{url}/_emulator/faults", json=fault, timeout=5).raise_for_status()


@pytest.fixture
def clear_faults(emulators):
    yield
    for url in (emulators.kobo_url, emulators.odk_url):
        httpx.delete(f"{url}/_emulator/faults", timeout=5)


def _count(wh: Path, table: str) -> int:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(f"select count(*) from {table}").fetchone()[0]


@pytest.mark.parametrize(
    "fault",
    [
        {"fault": "429", "retry_after": 1},
        {"fault": "500"},
        {"fault": "502"},
        {"fault": "503"},
        {"fault": "drop"},
        {"fault": "truncate"},
        {"fault": "slow", "delay": 3},
    ],
    ids=lambda f: f["fault"],
)
def test_kobo_fault_is_retried(fault, emulators, demo_world, make_config, clear_faults, caplog) -> None:
    def tweak(doc):
        doc["sources"][0].update(page_size=100, timeout_s=1.5)

    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets", tweak)
    arm(emulators.kobo_url, times=2, path_contains="/data/", **fault)
    caplog.set_level(logging.WARNING, logger="sangam.extract")
    result = run_source(config.source("kobo"), config, backoff_base_s=0.05)
    assert result.ok, result.error
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) >= 2
    if fault["fault"] == "429":
        assert "HTTP 429" in retries[0].getMessage()
        # Retry-After (1 s) wins over the much shorter backoff
        waits = [float(r.getMessage().rsplit(" in ", 1)[1].rstrip("s")) for r in retries]
        assert min(waits) >= 1.0
    wh = config.warehouse.path
    assert _count(wh, "raw_kobo.child_health") == _count(
        wh, "(select distinct submission_id from raw_kobo.child_health)"
    )
    assert _count(wh, "raw_kobo.child_health") > 0


@pytest.mark.parametrize("fault", ["429", "503", "drop", "truncate"])
def test_odk_fault_is_retried(fault, emulators, demo_world, make_config, clear_faults) -> None:
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets")
    arm(emulators.odk_url, fault=fault, times=2, path_contains="Submissions", retry_after=1)
    result = run_source(config.source("odk"), config, backoff_base_s=0.05)
    assert result.ok, result.error
    assert _count(config.warehouse.path, "raw_odk.anc_visit") > 0


def test_failing_source_does_not_stop_others_and_leaks_no_secret(
    emulators, demo_world, make_config, clear_faults, caplog, capsys
) -> None:
    def tweak(doc):
        doc["sources"][0]["max_retries"] = 1

    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets", tweak)
    arm(emulators.kobo_url, fault="500", times=1000, path_contains="/api/v2/")
    caplog.set_level(logging.DEBUG)
    report = load_sources(config)
    print(report.summary())
    assert [r.source for r in report.failed] == ["kobo"]
    err = report.result("kobo").error
    assert "HTTP 500" in err and "kobo" in err
    assert report.result("odk").ok and report.result("sheets").ok
    wh = config.warehouse.path
    with duckdb.connect(str(wh), read_only=True) as con:
        failed = con.execute(
            "select status, error from raw_kobo._sangam_loads where status = 'failed'"
        ).fetchall()
    assert failed and "HTTP 500" in failed[0][1]
    _assert_no_secret(capsys.readouterr(), caplog, wh)


def test_wrong_token_fails_clearly_without_leaking(
    emulators, demo_world, make_config, monkeypatch, caplog, capsys
) -> None:
    monkeypatch.setenv("SANGAM_KOBO_TOKEN", "wrong-token-a8f7e6d5")
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets")
    caplog.set_level(logging.DEBUG)
    report = load_sources(config, only=["kobo"])
    print(report.summary())
    assert not report.ok and "HTTP 401" in report.result("kobo").error
    out = capsys.readouterr()
    for text in (out.out, out.err, caplog.text):
        assert "wrong-token-a8f7e6d5" not in text
    _assert_no_secret(out, caplog, config.warehouse.path, extra=["wrong-token-a8f7e6d5"])


def _assert_no_secret(out, caplog, wh: Path, extra: list[str] = ()) -> None:
    secrets = [*TEST_SECRETS.values(), *extra]
    texts = [out.out, out.err, caplog.text]
    for text in texts:
        for s in secrets:
            assert s not in text
    # nor in the warehouse file or dlt's working directory (state, traces, schemas)
    files = [wh, *wh.parent.rglob("*")]
    for f in files:
        if f.is_file():
            data = f.read_bytes()
            for s in secrets:
                assert s.encode() not in data, f


def test_missing_form_fails_alone(emulators, demo_world, make_config) -> None:
    """A form uid the server does not know: the source is reported failed naming the form, its other forms
    still load."""

    def tweak(doc):
        doc["sources"][0]["forms"].append({"uid": "aNoSuchAssetUid000000", "table": "retired_form"})
        doc["sources"][1]["forms"].append({"xml_form_id": "no_such_form"})

    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets", tweak)
    report = load_sources(config, only=["kobo", "odk"])
    kobo, odk = report.result("kobo"), report.result("odk")
    assert not kobo.ok and "form retired_form" in kobo.error and "404" in kobo.error
    assert not odk.ok and "form no_such_form" in odk.error
    wh = config.warehouse.path
    assert _count(wh, "raw_kobo.child_health") > 0 and _count(wh, "raw_odk.anc_visit") > 0
    with duckdb.connect(str(wh), read_only=True) as con:
        failed = con.execute("select form from raw_kobo._sangam_loads where status = 'failed'").fetchall()
    assert failed == [("retired_form",)]
