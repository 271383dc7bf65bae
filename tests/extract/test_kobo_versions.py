"""Schema drift between KoBo form versions: questions only an older deployed version has are typed from that
version (as KPI's own exports do), loaded through the emulator's `/versions/` endpoints, cached across runs,
and a server without those endpoints still loads with the VARCHAR fallback."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pytest

from demo.emulators import running
from demo.emulators.kobo import KoboApp, _detail
from demo.generator import KOBO_ASSET_UIDS
from demo.generator.kobo import KOBO_VERSION_UIDS
from extract.arrow_build import BadValues
from extract.http import HttpClient
from extract.kobo import KoboFlattener
from extract.kobo_pages import page_layout, parse_page
from extract.run import run_source
from extract.schema import merge_kobo_versions, schema_from_kobo_asset
from tests.conftest import TEST_SECRETS

CHILD = KOBO_ASSET_UIDS["child_health"]
V1 = KOBO_VERSION_UIDS[("child_health", "v1")]
V2 = KOBO_VERSION_UIDS[("child_health", "v2")]


def _child_schema(world: Path):
    asset = json.loads((world / "kobo" / "assets" / f"{CHILD}.json").read_text())
    v1 = json.loads((world / "kobo" / "versions" / CHILD / f"{V1}.json").read_text())
    schema = schema_from_kobo_asset("kobo", "child_health", asset)
    return schema, merge_kobo_versions(schema, [(V1, v1["content"])])


def _subs(world: Path) -> list[dict]:
    path = world / "kobo" / "submissions" / f"{CHILD}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_v1_question_joins_its_repeat_typed(demo_world: Path) -> None:
    schema, added = _child_schema(demo_world)
    assert [(f.path, f.table, f.type, f.list_name, f.version) for f in added] == [
        ("children/child/oedema", "child_health__child", "select_one", "yes_no", V1)
    ]
    rows = {r["name"]: r for r in schema.fields_rows([])}
    assert rows["oedema"]["form_version"] == V1 and rows["muac_cm"]["form_version"] == V2
    assert rows["oedema"]["type"] == "select_one" and rows["oedema"]["list_name"] == "yes_no"
    assert json.loads(rows["oedema"]["labels"]) == {"en": "Bilateral pitting oedema", "hi": "दोनों पैरों में सूजन"}
    # the Arrow page layout now expects the v1 answer: a page of v1 rows takes the Arrow path
    subs = [s for s in _subs(demo_world) if s["__version__"] == V1][:50]
    assert any("children/child/oedema" in c for s in subs for c in s.get("children/child") or [])
    raw = json.dumps({"count": len(subs), "next": None, "previous": None, "results": subs}).encode()
    page = parse_page(raw, page_layout(schema))
    assert page.arrow is not None and page.n == len(subs)
    tables = KoboFlattener(schema).tables(page.arrow, datetime(2026, 1, 1), BadValues())
    kids = tables["child_health__child"]
    assert kids.schema.field("oedema").type == pa.string()
    expected = [c.get("children/child/oedema") for s in subs for c in s.get("children/child") or []]
    assert kids.column("oedema").to_pylist()[: len(expected)] == expected
    assert not schema.discovered  # nothing left to the VARCHAR fallback


def test_merge_rules_current_wins_old_types_old_choices_old_repeats() -> None:
    current = {
        "content": {
            "translations": ["English (en)"],
            "survey": [
                {"type": "text", "name": "age"},  # v1 had it as an integer: the current definition wins
                {"type": "select_one", "name": "colour", "select_from_list_name": "colours"},
            ],
            "choices": [{"list_name": "colours", "name": "red", "label": ["Red"]}],
        },
        "version_id": "vNow",
    }
    v2 = {
        "translations": ["English (en)"],
        "survey": [
            {"type": "integer", "name": "visits", "label": ["Visits (v2)"]},
            {"type": "begin_repeat", "name": "kid"},
            {"type": "date", "name": "dob"},
            {"type": "end_repeat"},
        ],
    }
    v1 = {
        "translations": ["English (en)"],
        "survey": [
            {"type": "integer", "name": "age"},
            {"type": "decimal", "name": "visits", "label": ["Visits (v1)"]},
            {"type": "select_one", "name": "colour", "select_from_list_name": "colours"},
            {"type": "begin_repeat", "name": "kid"},
            {"type": "decimal", "name": "weight"},
            {"type": "end_repeat"},
        ],
        "choices": [
            {"list_name": "colours", "name": "red", "label": ["Red (old)"]},
            {"list_name": "colours", "name": "blue", "label": ["Blue"]},
        ],
    }
    schema = schema_from_kobo_asset("kobo", "f", current)
    added = merge_kobo_versions(schema, [("vTwo", v2), ("vOne", v1)])  # newest first
    by_path = {f.path: f for t in schema.tables.values() for f in t.fields}
    assert by_path["age"].type == "text" and by_path["age"].version is None
    assert (by_path["visits"].type, by_path["visits"].version, by_path["visits"].labels) == (
        "integer", "vTwo", {"en": "Visits (v2)"},
    )  # fmt: skip
    kid = schema.tables["f__kid"]  # a repeat only older versions have becomes a table
    assert kid.repeat_path == "kid" and [f.name for f in kid.fields] == ["dob", "weight"]
    assert (
        dict(kid.arrow_fields())["dob"] == pa.date32() and dict(kid.arrow_fields())["weight"] == pa.float64()
    )
    assert {f.path for f in added} == {"visits", "kid/dob", "kid/weight"}
    choices = {(c["list_name"], c["name"]): c["label"] for c in schema.choices_rows()}
    assert choices == {("colours", "red"): "Red", ("colours", "blue"): "Blue"}
    fields = {r["path"]: r["form_version"] for r in schema.fields_rows([])}
    assert fields == {
        "age": "vNow",
        "colour": "vNow",
        "visits": "vTwo",
        "kid/dob": "vTwo",
        "kid/weight": "vOne",
    }


# ---------------------------------------------------------------- loads through the emulator


@pytest.fixture
def requests_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths of every request the extractors make (their one HTTP client), in order."""
    seen: list[str] = []
    original = HttpClient.request

    def counting(self, method, url, **kwargs):
        seen.append(str(url).split("?")[0].split("127.0.0.1")[-1])
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(HttpClient, "request", counting)
    return seen


def _kobo_source(config):
    return next(s for s in config.sources if s.kind == "kobo")


def _q(wh: Path, sql: str):
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql).fetchall()


def _oedema_field(wh: Path):
    return _q(wh, "select type, list_name, form_version, table_name from raw_kobo.form_fields "
                  "where form = 'child_health' and name = 'oedema'")  # fmt: skip


def _version_requests(seen: list[str]) -> tuple[list[str], list[str]]:
    listed = [p for p in seen if p.endswith("/versions/")]
    details = [p for p in seen if "/versions/v" in p]
    return listed, details


def test_load_types_v1_question_and_rerun_reads_no_version_again(
    emulators, demo_world: Path, make_config, requests_made: list[str]
) -> None:
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets")
    src = _kobo_source(config)
    first = run_source(src, config)
    assert first.status == "ok", first.error
    wh = config.warehouse.path
    assert _oedema_field(wh) == [("select_one", "yes_no", V1, "child_health__child")]
    v2_field = _q(wh, "select form_version from raw_kobo.form_fields where form = 'child_health' "
                      "and name = 'muac_cm'")  # fmt: skip
    assert v2_field == [(V2,)]
    stored = dict(_q(wh, "select oedema, count(*) from raw_kobo.child_health__child group by 1"))
    sent = [c.get("children/child/oedema") for s in _subs(demo_world) for c in s.get("children/child") or []]
    assert {k: v for k, v in stored.items() if k} == {
        v: sent.count(v) for v in set(sent) if v
    }  # every v1 answer, none lost or renamed
    listed, details = _version_requests(requests_made)
    assert len(listed) == len(KOBO_ASSET_UIDS)  # one list per form
    assert details == [f"/api/v2/assets/{CHILD}/versions/{V1}/"]  # only the non-current version

    requests_made.clear()
    again = run_source(src, config)
    assert again.status == "ok", again.error
    listed, details = _version_requests(requests_made)
    assert len(listed) == len(KOBO_ASSET_UIDS) and details == []  # the content came from the state
    assert _oedema_field(wh) == [("select_one", "yes_no", V1, "child_health__child")]


@pytest.fixture
def old_kpi_world(demo_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo world on a KoBo emulator that has no versions endpoint (404, like an older KPI)."""

    async def no_versions(self, request):
        return _detail(404, "Not found.")

    monkeypatch.setattr(KoboApp, "version_list", no_versions)
    monkeypatch.setattr(KoboApp, "version_detail", no_versions)
    world = tmp_path / "world"
    shutil.copytree(demo_world / "kobo", world / "kobo")
    with running(world) as servers:
        yield servers.kobo_url


def test_server_without_versions_endpoint_loads_with_the_text_fallback(
    old_kpi_world: str, emulators, demo_world: Path, make_config, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(old_kpi_world, emulators.odk_url, demo_world / "sheets")
    with caplog.at_level(logging.WARNING, logger="sangam"):
        result = run_source(_kobo_source(config), config)
    assert result.status == "ok", result.error
    wh = config.warehouse.path
    assert _oedema_field(wh) == [("text", None, None, "child_health__child")]
    column = _q(wh, "select data_type from information_schema.columns where table_schema = 'raw_kobo' "
                    "and table_name = 'child_health__child' and column_name = 'oedema'")  # fmt: skip
    assert column == [("VARCHAR",)]
    assert _q(wh, "select count(oedema) from raw_kobo.child_health__child")[0][0] > 0
    warnings = [r.getMessage() for r in caplog.records if "versions could not be listed" in r.getMessage()]
    assert len(warnings) == len(KOBO_ASSET_UIDS) and "404" in warnings[0]
    assert not any(TEST_SECRETS["SANGAM_KOBO_TOKEN"] in r.getMessage() for r in caplog.records)


def test_failing_version_fetch_falls_back_and_a_later_list_failure_keeps_the_types(
    emulators, demo_world: Path, make_config, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(emulators.kobo_url, emulators.odk_url, demo_world / "sheets")
    src = _kobo_source(config)
    fault = {"fault": "500", "times": 50, "path_contains": f"/versions/{V1}/"}
    httpx.post(f"{emulators.kobo_url}/_emulator/faults", json=fault).raise_for_status()
    try:
        with caplog.at_level(logging.WARNING, logger="sangam"):
            result = run_source(src, config, backoff_base_s=0.01)
    finally:
        httpx.delete(f"{emulators.kobo_url}/_emulator/faults").raise_for_status()
    assert result.status == "ok", result.error
    wh = config.warehouse.path
    assert _oedema_field(wh) == [("text", None, None, "child_health__child")]
    assert any(f"form version {V1} could not be read" in r.getMessage() for r in caplog.records)
    assert not any(TEST_SECRETS["SANGAM_KOBO_TOKEN"] in r.getMessage() for r in caplog.records)

    assert run_source(src, config).status == "ok"  # the version reads now: typed
    assert _oedema_field(wh) == [("select_one", "yes_no", V1, "child_health__child")]
    fault = {"fault": "500", "times": 50, "path_contains": "/versions/"}
    httpx.post(f"{emulators.kobo_url}/_emulator/faults", json=fault).raise_for_status()
    try:
        result = run_source(src, config, backoff_base_s=0.01)
    finally:
        httpx.delete(f"{emulators.kobo_url}/_emulator/faults").raise_for_status()
    assert result.status == "ok", result.error
    # the list failed, but the content read before still types the column: it never flips back to text
    assert _oedema_field(wh) == [("select_one", "yes_no", V1, "child_health__child")]
