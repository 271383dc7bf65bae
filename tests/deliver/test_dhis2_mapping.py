"""The DHIS2 mapping file: the repo's demo mapping parses, and each mistake names its key."""

from __future__ import annotations

import copy

import pytest

from deliver.dhis2_mapping import MappingError, load_mapping, parse_mapping
from tests.deliver.conftest import MAPPING_FILE, mapping_doc


def test_the_demo_mapping_covers_every_indicator_of_mart_hmis_monthly() -> None:
    import re

    from tests.conftest import REPO

    sql = (REPO / "transform/models/marts/mart_hmis_monthly.sql").read_text()
    mart_codes = re.findall(r"\('([A-Z0-9_]+)',\s*'", sql)
    mapping = load_mapping(MAPPING_FILE)
    assert sorted(e.indicator for e in mapping.data_elements) == sorted(mart_codes)
    assert len(mapping.org_units) == 9 and mapping.source == "mart_hmis_monthly"
    assert mapping.scheme_params == {
        "idScheme": "CODE",
        "dataElementIdScheme": "CODE",
        "orgUnitIdScheme": "UID",
    }
    assert mapping.schedule.enabled is False


def _edit(path: list, value) -> dict:
    doc = copy.deepcopy(mapping_doc())
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["server", "url"], "htp:/x", "dhis2_mapping.yaml: server.url: not a URL: 'htp:/x'"),
        (["server", "url"], "https://h.example.org/api", "server.url: give the DHIS2 base URL without /api"),
        (["server", "token_env"], KeyError, "server: name token_env, or both username_env and password_env"),
        (["server", "token_env"], "not a name", "server.token_env: expected an environment variable name"),
        (["server", "timeout_s"], 0, "server.timeout_s: expected a positive number"),
        (["source"], "mart_other", "source: unknown serving table 'mart_other'"),
        (["period_type"], "Weekly", "period_type: 'Weekly' is not supported"),
        (["org_unit_id_scheme"], "ATTRIBUTE:abc", "org_unit_id_scheme: expected one of UID, CODE, NAME"),
        (["org_units", "MH_PUN"], "Pune-1", "org_units.MH_PUN: 'Pune-1' is not a DHIS2 UID"),
        (
            ["org_units", "MH_NSK"],
            "j4SKTfYWl6A",
            "org_units.MH_NSK: organisation unit 'j4SKTfYWl6A' is already mapped",
        ),
        (["data_elements", "ANC4"], "", "data_elements.ANC4.data_element: expected a non-empty string"),
        (["data_elements", "ANC4"], {"data_elment": "X"}, "data_elements.ANC4.data_elment: unknown key"),
        (
            ["data_elements", "ANC4"],
            "SGM_PW_REG",
            "data_elements.ANC4: data element 'SGM_PW_REG' is already mapped",
        ),
        (["data_set"], KeyError, "data_set: missing"),
        (["mark_complete"], "yes", "mark_complete: expected true or false"),
        (["schedule", "day_of_month"], 31, "schedule.day_of_month: 31 is out of range [1, 28]"),
        (["extra"], 1, "extra: unknown key"),
    ],
)
def test_a_mapping_error_names_the_key(path: list, value, message: str) -> None:
    with pytest.raises(MappingError) as err:
        parse_mapping(_edit(path, value), MAPPING_FILE)
    assert message in str(err.value)
    assert str(err.value).startswith("dhis2_mapping.yaml: ")


def test_a_missing_or_broken_file_is_named(tmp_path) -> None:
    with pytest.raises(MappingError, match="DHIS2 mapping file not found"):
        load_mapping(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: [\n")
    with pytest.raises(MappingError, match="bad.yaml: not valid YAML"):
        load_mapping(bad)
