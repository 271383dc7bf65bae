"""A month of the published marts to the DHIS2 emulator: read back, idempotence, completeness, auth."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from deliver.dhis2_client import Dhis2AuthError, Dhis2Client
from deliver.dhis2_export import build_batch
from deliver.dhis2_push import CompletedPeriod, MetadataMismatch, push
from tests.deliver.conftest import TOKEN, make_mapping


def read_back(url: str, mapping, period: str) -> dict[tuple[str, str, str], str]:
    """(data element, period, org unit) → value, as GET /api/dataValueSets answers in the mapping's ids."""
    params = [("dataSet", mapping.data_set), ("period", period), ("children", "true"), ("orgUnit", "IN")]
    params += [("idScheme", "CODE"), ("dataElementIdScheme", "CODE"), ("orgUnitIdScheme", "UID")]
    # the root's UID: looked up like any client would
    with Dhis2Client(mapping.server) as client:
        root = client.get("/api/organisationUnits", {"filter": "level:eq:1", "fields": "id"})[
            "organisationUnits"
        ][0]
        params = [(k, root["id"] if k == "orgUnit" else v) for k, v in params]
        doc = client.get("/api/dataValueSets", params)
    return {(v["dataElement"], v["period"], v["orgUnit"]): v["value"] for v in doc["dataValues"]}


def expected(mapping, serving: Path, period: str) -> dict[tuple[str, str, str], str]:
    batch = build_batch(mapping, serving, period)
    return {(v["dataElement"], s.period, s.org_unit): v["value"] for s in batch.sets for v in s.values}


def test_push_reads_back_equal_to_the_mart_and_a_second_push_changes_nothing(
    dhis2, serving_file: Path
) -> None:
    url, app = dhis2
    mapping = make_mapping(url)
    first = push(mapping, serving_file, "202502")
    want = expected(mapping, serving_file, "202502")
    assert len(want) == first.values > 100
    assert first.imported["imported"] == first.values and first.imported["updated"] == 0
    assert read_back(url, mapping, "202502") == want
    assert sorted(first.completed) == sorted(mapping.org_units)
    stored = {k: dict(v) for k, v in app.values.items()}

    second = push(mapping, serving_file, "202502")
    assert second.sent == [] and sorted(second.unchanged) == sorted(mapping.org_units)
    assert second.imported == {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
    assert second.dry_run["ignored"] == first.values
    assert app.values == stored  # lastUpdated too: nothing was written
    assert [i["dryRun"] for i in app.imports].count(False) == len(mapping.org_units)  # only the first push


def test_default_period_is_the_last_complete_month(dhis2, serving_file: Path) -> None:
    from datetime import date

    url, _ = dhis2
    result = push(make_mapping(url), serving_file, today=date(2025, 3, 15))
    assert result.period == "202502"


def test_a_month_complete_on_the_server_is_not_overwritten_unless_forced(dhis2, serving_file: Path) -> None:
    url, app = dhis2
    mapping = make_mapping(url)
    with Dhis2Client(mapping.server) as client:
        # a district officer entered one value by hand and completed Pune's January
        ds = client.get("/api/dataSets", {"filter": "code:eq:SGM_MCH_MONTHLY", "fields": "id"})["dataSets"][
            0
        ]["id"]
        status, doc = client.post_json(
            "/api/dataValueSets",
            {"dataSet": ds, "period": "202501", "orgUnit": mapping.org_units["MH_PUN"],
             "dataValues": [{"dataElement": "SGM_PW_REG", "value": "999"}]},
            {"dataElementIdScheme": "CODE"},
        )  # fmt: skip
        assert status == 200 and doc["response"]["importCount"]["imported"] == 1
        client.post_json(
            "/api/completeDataSetRegistrations",
            {"completeDataSetRegistrations": [{"dataSet": ds, "period": "202501",
                                               "organisationUnit": mapping.org_units["MH_PUN"]}]},
        )  # fmt: skip
    before = dict(app.values)
    with pytest.raises(CompletedPeriod) as err:
        push(mapping, serving_file, "202501")
    message = str(err.value)
    assert "202501 is registered complete" in message and "MH_PUN" in message and "--force" in message
    assert "nothing was sent" in message
    assert app.values == before  # no district got anything

    forced = push(mapping, serving_file, "202501", force=True)
    assert forced.forced == ["MH_PUN"]
    assert read_back(url, mapping, "202501") == expected(mapping, serving_file, "202501")


def test_unknown_metadata_is_named_and_nothing_is_sent(dhis2, serving_file: Path) -> None:
    url, app = dhis2
    doc_changes = make_mapping(url)
    elements = {e.indicator: e.data_element for e in doc_changes.data_elements}
    elements["ANC4"] = "SGM_NO_SUCH_ELEMENT"
    units = dict(doc_changes.org_units)
    units["MH_NSK"] = "aaaaaaaaaaa"
    mapping = make_mapping(url, data_elements=elements, org_units=units)
    with pytest.raises(MetadataMismatch) as err:
        push(mapping, serving_file, "202501")
    message = str(err.value)
    assert "data_elements.ANC4: data element SGM_NO_SUCH_ELEMENT not found (by CODE)" in message
    assert "org_units.MH_NSK: organisation unit aaaaaaaaaaa not found (by UID)" in message
    assert "nothing was sent" in message
    assert app.imports == [] and app.values == {}

    wrong_set = make_mapping(url, data_set="SGM_OTHER")
    with pytest.raises(MetadataMismatch, match="data_set: SGM_OTHER not found"):
        push(wrong_set, serving_file, "202501")
    assert app.imports == []


def test_wrong_token_is_a_clear_401_and_no_secret_is_printed(
    dhis2, serving_file: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    url, app = dhis2
    wrong = "d2pat_wrong9z8y7x6w5v4u3t2s1r0q9p8o7n6m5"
    monkeypatch.setenv("SANGAM_DHIS2_TOKEN", wrong)
    with pytest.raises(Dhis2AuthError) as err:
        push(make_mapping(url), serving_file, "202501")
    message = str(err.value)
    assert (
        "refused the credentials (HTTP 401: The API token does not exists); check SANGAM_DHIS2_TOKEN"
        in message
    )
    assert app.imports == []
    # the CLI prints the same one line; neither the wrong nor the right token appears anywhere
    from deliver.dhis2 import main

    mapping_file = serving_file.parent / "mapping.yaml"
    import yaml

    from tests.deliver.conftest import mapping_doc

    doc = mapping_doc()
    doc["server"]["url"] = url
    mapping_file.write_text(yaml.safe_dump(doc))
    config = serving_file.parent / "sources.yaml"
    config.write_text(yaml.safe_dump(_sources_with_serving(serving_file)))
    code = main(["push", "--period", "202501", "--mapping", str(mapping_file), "--config", str(config)])
    out = capsys.readouterr()
    assert code == 1
    assert "HTTP 401" in out.err
    for text in (out.out, out.err, caplog.text, message):
        assert wrong not in text and TOKEN not in text


def test_basic_auth_works_and_a_wrong_password_is_401(dhis2, serving_file: Path, monkeypatch) -> None:
    from tests.deliver.conftest import PASSWORD, USER

    url, _ = dhis2
    server = {"url": url, "username_env": "SANGAM_DHIS2_USERNAME", "password_env": "SANGAM_DHIS2_PASSWORD"}
    mapping = make_mapping(url, server=server)
    monkeypatch.setenv("SANGAM_DHIS2_USERNAME", USER)
    monkeypatch.setenv("SANGAM_DHIS2_PASSWORD", PASSWORD)
    assert push(mapping, serving_file, "202503").sent
    monkeypatch.setenv("SANGAM_DHIS2_PASSWORD", "not-the-password")
    with pytest.raises(
        Dhis2AuthError, match=r"HTTP 401: Unauthorized\); check SANGAM_DHIS2_USERNAME / SANGAM_DHIS2_PASSWORD"
    ):
        push(mapping, serving_file, "202503")


def _sources_with_serving(serving: Path) -> dict:
    import yaml

    from tests.conftest import REPO

    doc = yaml.safe_load((REPO / "sources.yaml").read_text())
    doc["warehouse"] = {
        "path": str(serving.parent / "warehouse.duckdb"),
        "serving_path": str(serving),
        "exports_dir": str(serving.parent / "exports"),
    }
    return doc


def test_server_unreachable_is_one_clear_line(serving_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("SANGAM_DHIS2_TOKEN", TOKEN)
    from deliver.dhis2_client import Dhis2Error

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    mapping = make_mapping("http://127.0.0.1:9")
    client = Dhis2Client(mapping.server, transport=httpx.MockTransport(refuse))
    with pytest.raises(
        Dhis2Error, match=r"DHIS2 at http://127.0.0.1:9: GET /api/system/info failed: ConnectError"
    ):
        push(mapping, serving_file, "202501", client=client)
