"""Incremental loads after the world moves on a day: new rows arrive, edits replace, deletes are marked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import httpx
import pytest

from demo.emulators import running
from demo.generator import KOBO_ASSET_UIDS, evolve
from extract.http import HttpClient
from extract.run import load_sources
from sangam.config import parse_config
from tests.extract.conftest import config_doc


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _rows(wh: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def evolved(demo_world: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("incremental")
    world_copy = tmp / "world"
    shutil.copytree(demo_world, world_copy)
    with running(world_copy) as em:
        doc = config_doc(em.kobo_url, em.odk_url, world_copy / "sheets", tmp / "warehouse.duckdb")
        doc["sources"][0]["reconcile_deletes_every_hours"] = 0  # reconcile on every run
        config = parse_config(doc)
        first = load_sources(config, only=["kobo", "odk"])
        assert first.ok, first.summary()
        summary = evolve(world_copy, 7)
        for url in (em.kobo_url, em.odk_url):
            httpx.post(f"{url}/_emulator/reload", timeout=30).raise_for_status()
        with pytest.MonkeyPatch.context() as patch:
            repeat_reads = _record_repeat_reads(patch)
            second = load_sources(config, only=["kobo", "odk"])
        assert second.ok, second.summary()
        third = load_sources(config, only=["kobo", "odk"])
        assert third.ok, third.summary()
    return config.warehouse.path, world_copy, summary, repeat_reads


def _record_repeat_reads(patch: pytest.MonkeyPatch) -> list[dict]:
    """The query of every request for an ODK repeat table (`Submissions.<repeat>`)."""
    reads: list[dict] = []
    original = HttpClient.request

    def recording(self, method, url, **kwargs):
        if ".svc/Submissions." in str(url):
            reads.append(dict(kwargs.get("params") or {}))
        return original(self, method, url, **kwargs)

    patch.setattr(HttpClient, "request", recording)
    return reads


def test_kobo_new_edited_and_hard_deleted(evolved) -> None:
    wh, world, summary, _ = evolved
    assert summary["deleted"] or summary["edited"], "the evolution should change something"
    for form, uid in KOBO_ASSET_UIDS.items():
        subs = _jsonl(world / "kobo" / "submissions" / f"{uid}.jsonl")
        server = {str(s["_id"]): s for s in subs}
        rows = _rows(wh, f"select submission_id, instance_id, deleted_at from raw_kobo.{form}")
        assert len(rows) == len({r[0] for r in rows}), "no duplicates"
        live = {r[0]: r for r in rows if r[2] is None}
        assert set(live) == set(server), form
        for sid, s in server.items():
            assert live[sid][1] == s.get("meta/instanceID"), (form, sid)  # edits applied
        gone = [r for r in rows if r[2] is not None]
        assert len(gone) == summary["deleted"].get(form, 0), form  # marked, never removed
    subs = _jsonl(world / "kobo" / "submissions" / f"{KOBO_ASSET_UIDS['child_health']}.jsonl")
    expected = {str(s["_id"]): len(s.get("children/child") or []) for s in subs}
    got = dict(_rows(wh, "select submission_id, count(*) from raw_kobo.child_health__child group by 1"))
    # a hard-deleted submission's rows go from its repeat tables, as a first load never has them
    assert got == {k: v for k, v in expected.items() if v}


def test_odk_edits_and_soft_deletes(evolved) -> None:
    wh, world, summary, _ = evolved
    for form in ("anc_visit", "delivery", "scheme_application"):
        server = {r["__id"]: r for r in _jsonl(world / "odk" / "forms" / "1" / form / "Submissions.jsonl")}
        rows = {
            r[0]: r
            for r in _rows(
                wh, f"select submission_id, instance_id, updated_at, deleted_at from raw_odk.{form}"
            )
        }
        assert set(rows) == set(server), form
        for sid, r in server.items():
            sysb = r["__system"]
            assert (rows[sid][3] is not None) == bool(sysb.get("deletedAt")), (form, sid)
            assert (rows[sid][2] is not None) == bool(sysb.get("updatedAt")), (form, sid)
            assert rows[sid][1] == r["meta"]["instanceID"], (form, sid)
    n_deleted = _rows(wh, "select count(*) from raw_odk.anc_visit where deleted_at is not null")[0][0]
    assert n_deleted >= summary["deleted"].get("anc_visit", 0)


def test_loads_table_records_every_run(evolved) -> None:
    wh, _, _, _ = evolved
    runs = _rows(wh, "select count(distinct load_id) from raw_kobo._sangam_loads where status = 'ok'")[0][0]
    assert runs == 3
    cursors = _rows(
        wh, "select cursor from raw_kobo._sangam_loads where table_name = 'child_health' order by started_at"
    )
    assert cursors[0][0] <= cursors[-1][0]


def test_odk_repeats_of_changed_submissions_only(evolved) -> None:
    """An incremental run asks Central for the repeat rows of the submissions changed since its cursor
    (`$root/Submissions/...` filter), and the stored repeat rows still match the server's."""
    wh, world, _, repeat_reads = evolved
    assert repeat_reads, "the evolved day changed deliveries, so their babies were read"
    assert all("$root/Submissions/__system/submissionDate ge" in r.get("$filter", "") for r in repeat_reads)
    folder = world / "odk" / "forms" / "1" / "delivery"
    alive = {r["__id"] for r in _jsonl(folder / "Submissions.jsonl") if not r["__system"].get("deletedAt")}
    server = {
        (r["__Submissions-id"], r["__id"])
        for r in _jsonl(folder / "Submissions.babies.baby.jsonl")
        if r["__Submissions-id"] in alive
    }
    stored = set(_rows(wh, "select submission_id, row_id from raw_odk.delivery__baby"))
    assert {s for s in stored if s[0] in alive} == server
