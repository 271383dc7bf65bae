"""KoBo hard deletes found after the first load: the stored row is marked (`deleted_at`), every other value of
it stays exactly as loaded, whatever its column kind (select_multiple lists, geopoints, dates, timestamps),
and the run that marks it also loads page rows of the same table (issue 11, point 1)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from demo.generator import KOBO_ASSET_UIDS
from extract.run import run_source

FORM = "pregnancy_registration"
UID = KOBO_ASSET_UIDS[FORM]


def _q(wh: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(sql).fetchall()


def _kobo(config):
    return next(s for s in config.sources if s.kind == "kobo")


def _rewrite(world: Path, keep) -> list[dict]:
    """Hard-delete on the server's side: the submissions file without the rows `keep` refuses."""
    path = world / "kobo" / "submissions" / f"{UID}.jsonl"
    subs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    gone = [s for s in subs if not keep(s)]
    path.write_text("".join(json.dumps(s) + "\n" for s in subs if keep(s)))
    return gone


@pytest.fixture
def one_form(make_config, world_copy: Path):
    from demo.emulators import running

    with running(world_copy) as em:

        def only_registrations(doc: dict) -> None:
            doc["sources"] = [s for s in doc["sources"] if s["kind"] == "kobo"]
            doc["sources"][0]["forms"] = [{"uid": UID, "table": FORM}]
            doc["sources"][0]["reconcile_deletes_every_hours"] = 0  # reconcile on every run

        config = make_config(em.kobo_url, em.odk_url, world_copy / "sheets", only_registrations)
        yield config, em, world_copy


def test_hard_delete_on_a_select_multiple_geopoint_form_is_marked_and_keeps_its_values(one_form) -> None:
    config, _, world = one_form
    src = _kobo(config)
    first = run_source(src, config)
    assert first.status == "ok", first.error
    wh = config.warehouse.path
    columns = {
        r[0]: r[1]
        for r in _q(
            wh,
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'raw_kobo' and table_name = '{FORM}'",
        )  # fmt: skip
    }
    assert columns["danger_signs_list"] == "JSON" and columns["home_gps_latitude"] == "DOUBLE"
    # a submission answering the list and the geopoint: its stored values must survive the mark
    victim = _q(wh, f"select submission_id from raw_kobo.{FORM} where danger_signs_list is not null "
                    "and json_array_length(danger_signs_list) > 1 and home_gps_latitude is not null "
                    "order by submission_id limit 1")[0][0]  # fmt: skip
    before = _q(wh, f"select * exclude (deleted_at, _loaded_at) from raw_kobo.{FORM} "
                    f"where submission_id = '{victim}'")  # fmt: skip
    gone = _rewrite(world, lambda s: str(s["_id"]) != victim)
    assert len(gone) == 1

    second = run_source(src, config)
    assert second.status == "ok", second.error
    rows = _q(wh, f"select submission_id, deleted_at from raw_kobo.{FORM} where deleted_at is not null")
    assert [r[0] for r in rows] == [victim]
    after = _q(wh, f"select * exclude (deleted_at, _loaded_at) from raw_kobo.{FORM} "
                   f"where submission_id = '{victim}'")  # fmt: skip
    assert after == before  # marked, not replaced: the list, the geopoint, the dates are as loaded
    total = _q(wh, f"select count(*), count(distinct submission_id) from raw_kobo.{FORM}")[0]
    assert total[0] == total[1]
    # a third run with nothing new keeps the mark and does not mark it again
    third = run_source(src, config)
    assert third.status == "ok", third.error
    marked = f"select submission_id, deleted_at from raw_kobo.{FORM} where deleted_at is not null"
    assert _q(wh, marked) == rows
    pipelines = wh.parent / "dlt_pipelines"
    assert not [p for p in pipelines.rglob("*.parquet") if p.stat().st_size == 0]
