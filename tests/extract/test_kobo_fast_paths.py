"""The vectorised flattening (a page parsed straight into Arrow, or dicts with the system fields and a
top-level repeat pivoted by Arrow) gives exactly the tables of the per-row path, and hands irregular rows to
that path."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

import extract.kobo as kobo
from demo.generator import KOBO_ASSET_UIDS
from extract.arrow_build import BadValues
from extract.kobo import KoboFlattener
from extract.kobo_pages import page_layout, parse_page
from extract.schema import schema_from_kobo_asset

LOADED = datetime(2026, 1, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def child_world(demo_world: Path) -> tuple[dict, list[dict]]:
    uid = KOBO_ASSET_UIDS["child_health"]
    asset = json.loads((demo_world / "kobo" / "assets" / f"{uid}.json").read_text())
    lines = (demo_world / "kobo" / "submissions" / f"{uid}.jsonl").read_text().splitlines()
    return asset, [json.loads(line) for line in lines[:400] if line.strip()]


def _tables(asset: dict, subs: list[dict], fast: bool, monkeypatch) -> dict[str, pa.Table]:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(kobo, "_system_struct", lambda subs: None)
            m.setattr(KoboFlattener, "_flat_repeat", lambda *a, **k: None)
        flat = KoboFlattener(schema_from_kobo_asset("kobo", "child_health", asset))
        return flat.tables(copy.deepcopy(subs), LOADED, BadValues())


def _page(asset: dict, subs: list[dict]):
    """The subs as the server's page body, parsed as the extractor parses it."""
    schema = schema_from_kobo_asset("kobo", "child_health", asset)
    body = orjson.dumps({"count": len(subs), "next": None, "previous": None, "results": subs})
    return parse_page(body, page_layout(schema))


def _page_tables(asset: dict, subs: list[dict]) -> tuple[bool, dict[str, pa.Table]]:
    page = _page(asset, subs)
    flat = KoboFlattener(schema_from_kobo_asset("kobo", "child_health", asset))
    rows = page.arrow if page.arrow is not None else page.rows
    return page.arrow is not None, flat.tables(rows, LOADED, BadValues())


def _irregular(subs: list[dict]) -> list[dict]:
    subs = copy.deepcopy(subs)
    with_kids = [s for s in subs if s.get("children/child")]
    subs[0]["meta/rootUuid"] = ""  # empty: falls back to _uuid
    subs[1]["_validation_status"] = {"uid": "validation_status_approved"}
    subs[2]["_validation_status"] = {}
    subs[3].pop("_submitted_by", None)
    subs[4]["children/child"] = []  # every child removed: a tombstone
    subs[5].pop("children/child", None)
    with_kids[-1]["children/child"] = with_kids[-1]["children/child"][:1]
    return subs


def test_fast_paths_equal_per_row_paths(child_world, monkeypatch) -> None:
    asset, subs = child_world
    subs = _irregular(subs)
    fast = _tables(asset, subs, True, monkeypatch)
    slow = _tables(asset, subs, False, monkeypatch)
    as_arrow, parsed = _page_tables(asset, subs)
    assert as_arrow, "a regular page is parsed straight into Arrow"
    assert fast.keys() == slow.keys() == parsed.keys()
    for name in slow:
        assert fast[name].schema == slow[name].schema, name
        assert fast[name].equals(slow[name]), name
        assert parsed[name].schema == slow[name].schema, name
        assert parsed[name].equals(slow[name]), name
    main, kids = fast["child_health"], fast["child_health__child"]
    assert main.column("root_uuid")[0].as_py() == subs[0]["_uuid"]
    assert main.column("review_state")[1].as_py() == "validation_status_approved"
    assert main.column("review_state")[2].as_py() is None
    tombs = kids.filter(pa.compute.equal(kids.column("_sangam_replaced"), True))
    assert {str(subs[4]["_id"]), str(subs[5]["_id"])} <= set(tombs.column("submission_id").to_pylist())
    first = kids.filter(pa.compute.equal(kids.column("submission_id"), str(subs[6]["_id"])))
    n = len(subs[6].get("children/child") or [])
    assert first.column("repeat_index").to_pylist() == (list(range(1, n + 1)) if n else [None])


# oddity → whether the page still parses straight into Arrow
ODDITIES = {
    "string_validation": False,
    "unknown_child_key": True,
    "non_dict_child": False,
    "number_answer": False,
    "unknown_text_field": True,
    "unknown_null_field": True,
    "unknown_object_field": False,
}


@pytest.mark.parametrize("oddity", list(ODDITIES))
def test_irregular_rows_take_the_per_row_path(child_world, monkeypatch, oddity: str) -> None:
    asset, subs = child_world
    subs = copy.deepcopy(subs[:50])
    kid = next(s for s in subs if s.get("children/child"))
    if oddity == "string_validation":
        subs[0]["_validation_status"] = "odd"
    elif oddity == "unknown_child_key":
        kid["children/child"][0]["children/child/old_question"] = "kept"
    elif oddity == "non_dict_child":
        kid["children/child"].append("not a dict")
    elif oddity == "number_answer":
        subs[3]["worker_id"] = 17
    elif oddity == "unknown_text_field":
        subs[2]["extra/old_text"] = "kept"
    elif oddity == "unknown_null_field":
        subs[2]["extra/old_text"] = None
    else:
        subs[2]["extra/old_object"] = {"a": [1, 2]}
    fast = _tables(asset, subs, True, monkeypatch)
    slow = _tables(asset, subs, False, monkeypatch)
    as_arrow, parsed = _page_tables(asset, subs)
    assert as_arrow == ODDITIES[oddity]
    for name in slow:
        assert fast[name].equals(slow[name]), name
        assert parsed[name].schema == slow[name].schema, name
        assert parsed[name].equals(slow[name]), name
    if oddity == "unknown_child_key":
        assert "old_question" in parsed["child_health__child"].column_names
    if oddity.startswith("unknown_") and oddity != "unknown_child_key":
        assert parsed["child_health"].column_names[-1].startswith("old_")
