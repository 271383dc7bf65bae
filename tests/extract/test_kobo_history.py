"""KoBo edits of old submissions and hard deletes reach the warehouse on the next scheduled run, not at the
daily reconciliation (issue 11, point 2): through the project history when the token may read it, through a
listing of every `_id`/`_uuid` when it may not (403)."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import duckdb
import httpx
import pytest

from demo.emulators import running
from demo.generator import KOBO_ASSET_UIDS
from extract.http import HttpClient
from extract.run import run_source
from tests.conftest import TEST_SECRETS

FORM = "pregnancy_registration"
UID = KOBO_ASSET_UIDS[FORM]


def _q(wh: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql).fetchall()


def _subs_path(world: Path) -> Path:
    return world / "kobo" / "submissions" / f"{UID}.jsonl"


def _edit(world: Path, submission_id: int, answer: str) -> dict:
    """An edit as KPI stores it: same `_id`, `_submission_time` and root uuid; new `_uuid` and instanceID."""
    path = _subs_path(world)
    subs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for s in subs:
        if s["_id"] == submission_id:
            new = str(uuid.uuid4())
            s["meta/deprecatedID"] = s["meta/instanceID"]
            s["meta/instanceID"] = f"uuid:{new}"
            s["_uuid"] = new
            s["pregnancy/danger_signs"] = answer
            edited = s
    path.write_text("".join(json.dumps(s) + "\n" for s in subs))
    return edited


def _delete(kobo_url: str, submission_id: int) -> None:
    headers = {"Authorization": f"Token {TEST_SECRETS['SANGAM_KOBO_TOKEN']}"}
    r = httpx.delete(f"{kobo_url}/api/v2/assets/{UID}/data/{submission_id}/", headers=headers, timeout=30)
    assert r.status_code == 204, r.text


@pytest.fixture
def requests_made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict]]:
    seen: list[tuple[str, dict]] = []
    original = HttpClient.request

    def recording(self, method, url, **kwargs):
        seen.append((str(url), dict(kwargs.get("params") or {})))
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(HttpClient, "request", recording)
    return seen


@pytest.fixture
def loaded(make_config, world_copy: Path):
    """One KoBo form loaded in full; the daily listing is not due for the runs of a test."""
    with running(world_copy) as em:

        def one_form(doc: dict) -> None:
            doc["sources"] = [s for s in doc["sources"] if s["kind"] == "kobo"]
            doc["sources"][0]["forms"] = [{"uid": UID, "table": FORM}]

        config = make_config(em.kobo_url, em.odk_url, world_copy / "sheets", one_form)
        src = config.sources[0]
        first = run_source(src, config)
        assert first.status == "ok", first.error
        yield config, src, em, world_copy


def _old_ids(wh: Path, n: int) -> list[int]:
    """Submissions far older than the incremental window (its overlap re-reads the newest hour)."""
    old = f"submitted_at < (select max(submitted_at) - interval 2 day from raw_kobo.{FORM})"
    rows = _q(wh, f"select submission_id from raw_kobo.{FORM} where {old} order by 1 limit {n}")
    return [int(r[0]) for r in rows]


def _state(wh: Path, ids: list[int]) -> dict[str, tuple]:
    wanted = ",".join(f"'{i}'" for i in ids)
    rows = _q(wh, f"select submission_id, instance_id, danger_signs, danger_signs_list, deleted_at "
                  f"from raw_kobo.{FORM} where submission_id in ({wanted})")  # fmt: skip
    return {r[0]: r[1:] for r in rows}


def _listings(seen: list[tuple[str, dict]]) -> list[dict]:
    return [p for url, p in seen if url.endswith("/data/") and "fields" in p]


def _history_reads(seen: list[tuple[str, dict]]) -> list[dict]:
    return [p for url, p in seen if "/history/" in url]


def test_history_brings_old_edits_and_hard_deletes_in_the_next_run(loaded, requests_made) -> None:
    config, src, em, world = loaded
    wh = config.warehouse.path
    edited_id, deleted_id = _old_ids(wh, 2)
    edited = _edit(world, edited_id, "bleeding swelling")
    _delete(em.kobo_url, deleted_id)

    second = run_source(src, config)
    assert second.status == "ok", second.error
    now = _state(wh, [edited_id, deleted_id])
    expected = (edited["meta/instanceID"], "bleeding swelling", '["bleeding","swelling"]')
    assert now[str(edited_id)][:3] == expected
    assert now[str(edited_id)][3] is None
    assert now[str(deleted_id)][3] is not None
    assert _history_reads(requests_made) and not _listings(requests_made)  # no listing of every id
    assert _q(wh, f"select count(*) from raw_kobo.{FORM} where deleted_at is not null") == [(1,)]

    # nothing changed since: one history request, nothing asked for again, nothing marked again
    requests_made.clear()
    mark = _q(wh, f"select deleted_at from raw_kobo.{FORM} where submission_id = '{deleted_id}'")
    third = run_source(src, config)
    assert third.status == "ok", third.error
    assert len(_history_reads(requests_made)) == 1
    assert not [p for _, p in requests_made if "$in" in p.get("query", "")]
    assert _q(wh, f"select deleted_at from raw_kobo.{FORM} where submission_id = '{deleted_id}'") == mark


def test_without_history_permission_a_listing_of_ids_finds_them(loaded, requests_made, caplog) -> None:
    config, src, em, world = loaded
    wh = config.warehouse.path
    em.kobo.manage_asset = False  # a token that may view submissions but not manage the project
    edited_id, deleted_id = _old_ids(wh, 2)
    edited = _edit(world, edited_id, "fever")
    _delete(em.kobo_url, deleted_id)

    with caplog.at_level(logging.WARNING, logger="sangam.extract"):
        second = run_source(src, config)
    assert second.status == "ok", second.error
    now = _state(wh, [edited_id, deleted_id])
    assert now[str(edited_id)][:3] == (edited["meta/instanceID"], "fever", '["fever"]')
    assert now[str(deleted_id)][3] is not None
    assert len(_listings(requests_made)) >= 1
    warnings = [r.getMessage() for r in caplog.records if "history cannot be read" in r.getMessage()]
    assert len(warnings) == 1 and "403" in warnings[0] and "Manage project" in warnings[0]
    assert TEST_SECRETS["SANGAM_KOBO_TOKEN"] not in warnings[0]

    # nothing changed since: the listing finds nothing to ask for again
    requests_made.clear()
    third = run_source(src, config)
    assert third.status == "ok", third.error
    assert len(_listings(requests_made)) >= 1
    assert not [p for _, p in requests_made if "$in" in p.get("query", "")]


def test_a_failing_history_falls_back_to_the_listing_for_that_run(loaded, requests_made) -> None:
    config, src, em, _ = loaded
    wh = config.warehouse.path
    (deleted_id,) = _old_ids(wh, 1)
    _delete(em.kobo_url, deleted_id)
    fault = {"fault": "500", "times": 20, "path_contains": "/history/"}
    httpx.post(f"{em.kobo_url}/_emulator/faults", json=fault, timeout=10).raise_for_status()
    second = run_source(src, config)
    assert second.status == "ok", second.error  # the pages of this run are stored all the same
    assert _state(wh, [deleted_id])[str(deleted_id)][3] is not None
    assert _listings(requests_made)
    httpx.delete(f"{em.kobo_url}/_emulator/faults", timeout=10).raise_for_status()
