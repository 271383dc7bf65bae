"""ODK `Submissions` pages parsed straight into Arrow give exactly the main table of the per-row path, and
pages the layout does not fit take that path."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from extract.arrow_build import BadValues
from extract.odk import OdkFlattener
from extract.odk_pages import parse_submissions, submissions_layout
from extract.schema import schema_from_odk
from extract.xform import parse_xform

LOADED = datetime(2026, 1, 1, 12, 0, 0)
FORMS = ("anc_visit", "delivery", "scheme_application")


def _form(world: Path, form: str) -> tuple[list[dict], str, list[dict]]:
    folder = world / "odk" / "forms" / "1" / form
    rows = [json.loads(line) for line in (folder / "Submissions.jsonl").read_text().splitlines() if line]
    return json.loads((folder / "fields.json").read_text()), (folder / "form.xml").read_text(), rows


def _both(fields: list[dict], xml: str | None, rows: list[dict]) -> tuple[bool, pa.Table, pa.Table]:
    """(parsed into Arrow?, table from the parsed page, table from the per-row path)."""
    schema = schema_from_odk("odk", "form", fields, parse_xform(xml) if xml else None)
    page = parse_submissions(orjson.dumps({"value": rows}), submissions_layout(fields), "odk/form")
    flat = OdkFlattener(schema)
    parsed = (
        flat.main_arrow(page.arrow, LOADED, BadValues())
        if page.arrow is not None
        else flat.main(page.rows, LOADED, BadValues())
    )
    per_row = OdkFlattener(schema_from_odk("odk", "form", fields, parse_xform(xml) if xml else None))
    return page.arrow is not None, parsed, per_row.main(copy.deepcopy(rows), LOADED, BadValues())


@pytest.mark.parametrize("form", FORMS)
def test_demo_pages_parse_into_the_same_tables(demo_world: Path, form: str) -> None:
    fields, xml, rows = _form(demo_world, form)
    as_arrow, parsed, per_row = _both(fields, xml, rows[:600])
    assert as_arrow
    assert parsed.schema == per_row.schema
    assert parsed.equals(per_row)


# oddity → whether the page still parses straight into Arrow
ODDITIES = {
    "empty_group": True,
    "unknown_text_answer": True,
    "unknown_group_of_text": True,
    "number_in_a_text_field": False,
    "text_in_a_number_field": False,
    "unknown_number_answer": False,
}


@pytest.mark.parametrize("oddity", list(ODDITIES))
def test_irregular_pages(demo_world: Path, oddity: str) -> None:
    fields, xml, rows = _form(demo_world, "anc_visit")
    rows = copy.deepcopy(rows[:40])
    if oddity == "empty_group":
        rows[1]["exam"] = {}  # Central sends an empty group as {}
        rows[2]["location"] = {}
    elif oddity == "unknown_text_answer":
        rows[3]["old_question"] = "kept"
    elif oddity == "unknown_group_of_text":
        rows[3]["old_group"] = {"note": "kept", "empty": None}
    elif oddity == "number_in_a_text_field":
        rows[4]["worker_id"] = 17
    elif oddity == "text_in_a_number_field":
        rows[4]["ifa_tablets"] = "thirty"
    else:
        rows[5]["old_count"] = 3
    as_arrow, parsed, per_row = _both(fields, xml, rows)
    assert as_arrow == ODDITIES[oddity]
    assert parsed.schema == per_row.schema
    assert parsed.equals(per_row)
    if oddity.startswith("unknown_") and as_arrow:
        assert parsed.column_names[-1] in ("old_question", "note", "empty")


GEO_FIELDS = [
    {"name": "worker_id", "path": "/worker_id", "type": "string"},
    {"name": "home", "path": "/home", "type": "geopoint"},
    {"name": "n", "path": "/n", "type": "int"},
]


def _geo_row(i: int, home) -> dict:
    return {
        "__id": f"uuid:{i}", "worker_id": f"FW{i}", "home": home, "n": i,
        "meta": {"instanceID": f"uuid:{i}"},
        "__system": {"submissionDate": "2026-01-01T10:00:00.000Z", "updatedAt": None, "deletedAt": None,
                     "submitterName": "FW", "reviewState": None, "formVersion": "v1"},
    }  # fmt: skip


def test_geopoints_match_the_per_row_path() -> None:
    homes = [
        {"type": "Point", "coordinates": [78.93, 20.97, 308.8], "properties": {"accuracy": 9.0}},
        {"type": "Point", "coordinates": [78.5, 21.25]},
        {"type": "Point", "coordinates": [78.0, 21.0, 300], "properties": {"accuracy": None}},
        None,
    ]
    rows = [_geo_row(i, h) for i, h in enumerate(homes)]
    as_arrow, parsed, per_row = _both(GEO_FIELDS, None, rows)
    assert as_arrow and parsed.equals(per_row)
    assert parsed.column("home_latitude").to_pylist() == [20.97, 21.25, 21.0, None]
    assert parsed.column("home_accuracy").to_pylist() == [9.0, None, None, None]


def test_a_geopoint_that_is_not_a_point_takes_the_per_row_path() -> None:
    rows = [
        _geo_row(0, {"type": "Point", "coordinates": [78.93, 20.97]}),
        _geo_row(1, {"type": "Feature", "coordinates": [78.5, 21.25]}),
    ]
    as_arrow, parsed, per_row = _both(GEO_FIELDS, None, rows)
    assert not as_arrow and parsed.equals(per_row)
