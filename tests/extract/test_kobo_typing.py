"""KoBo asset content → typed raw tables, on the generated demo world (no server needed)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from demo.generator import KOBO_ASSET_UIDS
from extract.arrow_build import BadValues
from extract.kobo import KoboFlattener
from extract.schema import TOMBSTONE, schema_from_kobo_asset

LOADED = datetime(2026, 1, 1, 12, 0, 0)


def _asset(world: Path, form: str) -> dict:
    return json.loads((world / "kobo" / "assets" / f"{KOBO_ASSET_UIDS[form]}.json").read_text())


def _subs(world: Path, form: str) -> list[dict]:
    path = world / "kobo" / "submissions" / f"{KOBO_ASSET_UIDS[form]}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def child_tables(demo_world: Path) -> tuple[dict[str, pa.Table], list[dict]]:
    schema = schema_from_kobo_asset("kobo", "child_health", _asset(demo_world, "child_health"))
    subs = _subs(demo_world, "child_health")
    return KoboFlattener(schema).tables(subs, LOADED, BadValues()), subs


def test_schema_tables_and_metadata(demo_world: Path) -> None:
    schema = schema_from_kobo_asset("kobo", "child_health", _asset(demo_world, "child_health"))
    assert list(schema.tables) == ["child_health", "child_health__child"]
    child = schema.tables["child_health__child"]
    assert child.repeat_path == "children/child"
    fields = {r["name"]: r for r in schema.fields_rows(["head_name", "child_name", "home_gps"])}
    assert fields["weight_kg"]["table_name"] == "child_health__child"
    assert fields["weight_kg"]["path"] == "children/child/weight_kg"
    assert fields["vaccines"]["type"] == "select_multiple" and fields["vaccines"]["list_name"] == "vaccines"
    assert json.loads(fields["state"]["labels"]) == {"en": "State", "hi": "राज्य"}
    assert fields["state"]["label"] == "State" and fields["worker_id"]["required"] is True
    assert fields["child_name"]["is_personal"] and fields["home_gps"]["is_personal"]
    assert not fields["weight_kg"]["is_personal"]
    choices = {(c["list_name"], c["name"]): c for c in schema.choices_rows()}
    assert json.loads(choices[("vaccines", "bcg")]["labels"])["en"] == "BCG"


def test_main_table_types_and_system_columns(child_tables) -> None:
    tables, subs = child_tables
    main = tables["child_health"]
    assert main.num_rows == len(subs)
    types = dict(zip(main.column_names, main.schema.types, strict=True))
    assert types["submission_id"] == pa.string() and types["submitted_at"] == pa.timestamp("us")
    assert types["visit_date"] == pa.date32() and types["start"] == pa.timestamp("us")
    assert {c for c in main.column_names if c.startswith("home_gps")} == {
        "home_gps_latitude", "home_gps_longitude", "home_gps_altitude", "home_gps_accuracy",
    }  # fmt: skip
    row = main.slice(0, 1).to_pylist()[0]
    sub = subs[0]
    assert row["submission_id"] == str(sub["_id"])
    assert row["instance_id"] == sub["meta/instanceID"]
    assert row["form_version"] == sub["__version__"]
    assert row["submitted_at"] == datetime.fromisoformat(sub["_submission_time"])
    assert row["visit_date"] == date.fromisoformat(sub["visit_date"])
    lat, lon, alt, acc = (float(x) for x in sub["household/home_gps"].split())
    assert (row["home_gps_latitude"], row["home_gps_longitude"]) == (lat, lon)
    assert (row["home_gps_altitude"], row["home_gps_accuracy"]) == (alt, acc)
    # start carries +05:30 on the device: stored in UTC
    start = datetime.fromisoformat(sub["start"])
    assert row["start"] == start.astimezone(UTC).replace(tzinfo=None)
    if isinstance(sub.get("_validation_status"), dict) and sub["_validation_status"].get("uid"):
        assert row["review_state"] == sub["_validation_status"]["uid"]


def test_repeat_rows_keep_parent_id_and_types(child_tables) -> None:
    tables, subs = child_tables
    child = tables["child_health__child"]
    real = child.filter(pa.compute.invert(pa.compute.fill_null(child.column(TOMBSTONE), False)))
    expected = sum(len(s.get("children/child") or []) for s in subs)
    assert real.num_rows == expected
    first = subs[0]["children/child"][0]
    row = real.slice(0, 1).to_pylist()[0]
    assert row["submission_id"] == str(subs[0]["_id"]) and row["repeat_index"] == 1
    assert row["row_id"] == f"{subs[0]['_id']}/child[1]" and row["parent_row_id"] is None
    assert row["weight_kg"] == float(first["children/child/weight_kg"])
    assert row["vaccines"] == first["children/child/vaccines"]
    assert row["vaccines_list"] == first["children/child/vaccines"].split()
    assert len(set(real.column("row_id").to_pylist())) == real.num_rows
    # a v1 answer the v2 definition dropped is kept as text, never lost
    v1_oedema = [c.get("children/child/oedema") for s in subs for c in s.get("children/child") or []]
    if any(v1_oedema):
        assert real.schema.field("oedema").type == pa.string()
        assert sorted(filter(None, real.column("oedema").to_pylist())) == sorted(filter(None, v1_oedema))


def test_submission_without_children_gets_a_tombstone() -> None:
    asset = {
        "content": {
            "translations": [None],
            "survey": [
                {"type": "integer", "name": "n"},
                {"type": "begin_repeat", "name": "kid"},
                {"type": "text", "name": "nm"},
                {"type": "end_repeat"},
            ],
        }
    }
    schema = schema_from_kobo_asset("kobo", "f", asset)
    subs = [
        {
            "_id": 1,
            "n": "2",
            "kid": [{"kid/nm": "a"}, {"kid/nm": "b"}],
            "_submission_time": "2026-01-01T00:00:00",
        },
        {"_id": 2, "n": "x", "_submission_time": "2026-01-02T00:00:00"},
    ]
    bad = BadValues()
    out = KoboFlattener(schema).tables(subs, LOADED, bad)
    assert out["f"].column("n").to_pylist() == [2, None]
    assert bad[("f", "n")] == 1
    kids = out["f__kid"].to_pylist()
    assert [(k["submission_id"], k["nm"], k[TOMBSTONE]) for k in kids] == [
        ("1", "a", None), ("1", "b", None), ("2", None, True),
    ]  # fmt: skip
