"""Each kind of value DHIS2 rejects gives a clear error naming the value, and leaves the server unchanged:
the dry run finds the conflicts, so the real import is never sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from deliver.dhis2_client import Dhis2Client
from deliver.dhis2_export import DataValueSet, build_batch
from deliver.dhis2_push import ImportConflicts, import_sets, push
from tests.deliver.conftest import make_mapping

PUNE = "j4SKTfYWl6A"


def _good(mapping, serving: Path) -> DataValueSet:
    return next(s for s in build_batch(mapping, serving, "202501").sets if s.district_code == "MH_PUN")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"of": "SGM_ANC4", "dataElement": "SGM_NOT_THERE"},
            "data element SGM_NOT_THERE (?), org unit j4SKTfYWl6A (MH_PUN), period 202501, value '{value}': "
            "E7610: Data element not found or not accessible: `SGM_NOT_THERE`",
        ),
        (
            {"of": "SGM_PW_REG", "value": "twelve"},
            "data element {de} ({indicator}), org unit j4SKTfYWl6A (MH_PUN), period 202501, value 'twelve': "
            "E7619: Value must match data element's `{uid}` type constraints: "
            "Data value is not zero or positive integer",
        ),
        (
            {"of": "SGM_HV_TOTAL", "period": "202513"},
            "data element {de} ({indicator}), org unit j4SKTfYWl6A (MH_PUN), period 202513, value '{value}': "
            "E7611: Period not valid: `202513`",
        ),
        (
            {"of": "SGM_DEL_INST_PCT", "orgUnit": "bbbbbbbbbbb"},
            "data element {de} ({indicator}), org unit j4SKTfYWl6A (MH_PUN), period 202501, value '{value}': "
            "E7612: Organisation unit not found or not accessible: `bbbbbbbbbbb`",
        ),
    ],
    ids=["unknown data element", "non-numeric value", "bad period", "unknown org unit"],
)
def test_each_conflict_kind_is_named_and_nothing_is_imported(
    dhis2, serving_file: Path, change: dict, expected: str
) -> None:
    url, app = dhis2
    mapping = make_mapping(url)
    push(mapping, serving_file, "202502")  # something already on the server, which must stay as it is
    before = {k: dict(v) for k, v in app.values.items()}
    good = _good(mapping, serving_file)
    values = [dict(v) for v in good.values]
    of = change.pop("of")
    index = next(i for i, v in enumerate(values) if v["dataElement"] == of)
    original = dict(values[index])
    values[index].update(change)
    bad = DataValueSet(good.district_code, good.org_unit, good.period, tuple(values))
    indicators = {e.data_element: e.indicator for e in mapping.data_elements}
    with Dhis2Client(mapping.server) as client:
        uid = client.get(
            "/api/dataElements", {"filter": f"code:eq:{original['dataElement']}", "fields": "id"}
        )
    expected = expected.format(
        value=values[index]["value"],
        de=original["dataElement"],
        indicator=indicators[original["dataElement"]],
        uid=uid["dataElements"][0]["id"],
    )
    with Dhis2Client(mapping.server) as client, pytest.raises(ImportConflicts) as err:
        import_sets(client, mapping, [good, bad], None, dry_run=True)
    message = str(err.value)
    assert "rejected 1 value(s) in the dry run (nothing was imported)" in message
    assert err.value.conflicts == [expected]
    assert app.values == before
    assert all(i["dryRun"] for i in app.imports[-2:])


def test_a_set_level_unknown_org_unit_aborts_with_409_and_is_named(dhis2, serving_file: Path) -> None:
    url, app = dhis2
    mapping = make_mapping(url)
    good = _good(mapping, serving_file)
    bad = DataValueSet("MH_PUN", "ccccccccccc", good.period, good.values)
    with Dhis2Client(mapping.server) as client, pytest.raises(ImportConflicts) as err:
        import_sets(client, mapping, [bad], None, dry_run=True)
    assert err.value.conflicts == [
        "org unit ccccccccccc (MH_PUN), period 202501: "
        "E7603: Org unit not found or not accessible: `ccccccccccc`"
    ]
    assert app.values == {}
