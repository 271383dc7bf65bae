"""ODK soft deletes after the first load: the tables a rerun leaves equal those of a first load of the same
server, repeat tables included (Central's repeat tables leave out the rows of deleted submissions), and
staging keeps no repeat row of a deleted submission."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import httpx

from demo.emulators import running
from extract.run import load_sources
from sangam.config import SangamConfig, parse_config
from tests.conftest import REPO
from tests.extract.conftest import config_doc
from transform.dbt_runner import build

FORM = "delivery"
REPEAT = "delivery__baby"
DELETED_AT = "2030-01-02T03:04:05.678Z"


def _config(em, world: Path, warehouse: Path) -> SangamConfig:
    return parse_config(config_doc(em.kobo_url, em.odk_url, world / "sheets", warehouse), home=REPO)


def soft_delete(world: Path, form: str, how_many: int) -> list[str]:
    """Mark `how_many` live submissions that have repeat rows deleted, as Central's soft delete does: the row
    stays with `__system.deletedAt` set, `updatedAt` untouched (lib/model/query/submissions.js `del`)."""
    folder = world / "odk" / "forms" / "1" / form
    with_children = {
        json.loads(line)["__Submissions-id"] for line in (folder / "Submissions.babies.baby.jsonl").open()
    }
    path = folder / "Submissions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    chosen: list[str] = []
    for r in rows:
        if len(chosen) < how_many and r["__id"] in with_children and not r["__system"].get("deletedAt"):
            r["__system"]["deletedAt"] = DELETED_AT
            chosen.append(r["__id"])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return chosen


def _tables(wh: Path) -> dict[str, list[tuple]]:
    """Every ODK form table, without the load times (which differ between two loads)."""
    with duckdb.connect(str(wh), read_only=True) as con:
        return {
            t: con.execute(f"select * exclude (_loaded_at) from raw_odk.{t} order by all").fetchall()
            for t in ("anc_visit", FORM, REPEAT, "scheme_application")
        }


def test_delete_after_load_gives_the_tables_of_a_first_load(world_copy: Path, tmp_path: Path) -> None:
    with running(world_copy) as em:
        rerun = _config(em, world_copy, tmp_path / "rerun" / "warehouse.duckdb")
        assert load_sources(rerun, only=["odk"]).ok
        deleted = soft_delete(world_copy, FORM, 3)
        httpx.post(f"{em.odk_url}/_emulator/reload", timeout=30).raise_for_status()
        second = load_sources(rerun, only=["odk"])
        assert second.ok, second.summary()
        first = load_sources(_config(em, world_copy, tmp_path / "first" / "warehouse.duckdb"), only=["odk"])
        assert first.ok, first.summary()
    after_rerun, first_load = _tables(rerun.warehouse.path), _tables(tmp_path / "first" / "warehouse.duckdb")
    assert {r[0] for r in first_load[REPEAT]}.isdisjoint(deleted), "Central does not list their rows"
    for table, rows in first_load.items():
        assert after_rerun[table] == rows, table
    with duckdb.connect(str(rerun.warehouse.path), read_only=True) as con:
        marked = con.execute(
            f"select submission_id from raw_odk.{FORM} where deleted_at is not null "
            "and submission_id in (select unnest(?))",
            [deleted],
        ).fetchall()
    assert sorted(r[0] for r in marked) == sorted(deleted), "the parents stay, marked deleted"


def test_staging_has_no_repeat_rows_of_deleted_submissions(world_copy: Path, tmp_path: Path) -> None:
    wh = tmp_path / "warehouse" / "warehouse.duckdb"
    models = [f"stg_odk__{FORM}", f"stg_odk__{REPEAT}"]
    with running(world_copy) as em:
        config = _config(em, world_copy, wh)
        assert load_sources(config, only=["odk"]).ok
        assert build(wh, select=models, target_path=tmp_path / "target").success
        deleted = soft_delete(world_copy, FORM, 3)
        httpx.post(f"{em.odk_url}/_emulator/reload", timeout=30).raise_for_status()
        assert load_sources(config, only=["odk"]).ok
    result = build(wh, select=models, target_path=tmp_path / "target")  # incremental
    assert result.success, result.failures
    with duckdb.connect(str(wh), read_only=True) as con:
        kept = {r[0] for r in con.execute(f"select submission_id from staging.stg_odk__{REPEAT}").fetchall()}
        parents = {r[0] for r in con.execute(f"select submission_id from staging.stg_odk__{FORM}").fetchall()}
    assert kept and kept <= parents
    assert kept.isdisjoint(deleted)
