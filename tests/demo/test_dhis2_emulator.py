"""The DHIS2 emulator answers like dhis2-core: auth, metadata paging / fields / filters, the import summary,
zeros that are not significant, dry runs, CSV import and the export's required parameters."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from demo.emulators.dhis2 import Dhis2Accounts, Dhis2App, build_dhis2_app
from demo.emulators.server import BackgroundServer

TOKEN = "d2pat_emulatortest00112233445566778899"
BASIC = "Basic " + base64.b64encode(b"admin:district-test-pw").decode()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[httpx.Client, Dhis2App]]:
    app = build_dhis2_app(accounts=Dhis2Accounts("admin", "district-test-pw", TOKEN))
    bg = BackgroundServer(app, 0)
    bg.start()
    with httpx.Client(base_url=bg.url, headers={"Authorization": f"ApiToken {TOKEN}"}) as client:
        yield client, app
    bg.stop()


def test_auth_token_basic_and_refusals(server) -> None:
    client, _ = server
    assert client.get("/api/system/info").json()["version"].startswith("2.42")
    assert client.get("/api/me", headers={"Authorization": BASIC}).json()["username"] == "admin"
    none = httpx.get(f"{client.base_url}/api/dataElements")
    assert none.status_code == 401 and none.json()["message"] == "Unauthorized"
    bad = client.get("/api/dataElements", headers={"Authorization": "ApiToken d2pat_wrong"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "ApiToken"
    assert bad.json() == {
        "httpStatus": "Unauthorized",
        "httpStatusCode": 401,
        "status": "ERROR",
        "message": "The API token does not exists",
    }


def test_metadata_paging_fields_and_filters(server) -> None:
    client, _ = server
    first = client.get("/api/dataElements", params={"pageSize": 5, "fields": "id,code"}).json()
    assert first["pager"] == {
        "page": 1,
        "total": 18,
        "pageSize": 5,
        "pageCount": 4,
        "nextPage": first["pager"]["nextPage"],
    }
    seen = [d["code"] for d in first["dataElements"]]
    url = first["pager"]["nextPage"]
    while url:
        page = client.get(url).json()
        seen += [d["code"] for d in page["dataElements"]]
        url = page["pager"].get("nextPage")
    assert len(seen) == len(set(seen)) == 18 and set(first["dataElements"][0]) == {"id", "code"}
    unpaged = client.get("/api/organisationUnits", params={"paging": "false", "filter": "level:eq:3"}).json()
    assert "pager" not in unpaged and len(unpaged["organisationUnits"]) == 9
    assert set(unpaged["organisationUnits"][0]) == {"id", "displayName"}  # DHIS2's default fields
    both = client.get(
        "/api/organisationUnits", params=[("filter", "level:eq:3"), ("filter", "name:ilike:PUN")]
    )
    assert [o["displayName"] for o in both.json()["organisationUnits"]] == ["Pune"]
    some = client.get(
        "/api/dataElements", params={"filter": "code:in:[SGM_ANC4,SGM_PW_REG,NOPE]", "fields": "code"}
    )
    assert sorted(d["code"] for d in some.json()["dataElements"]) == ["SGM_ANC4", "SGM_PW_REG"]
    ds = client.get("/api/dataSets", params={"fields": "code,periodType,dataSetElements[dataElement[code]]"})
    (data_set,) = ds.json()["dataSets"]
    assert data_set["periodType"] == "Monthly"
    assert {e["dataElement"]["code"] for e in data_set["dataSetElements"]} >= {"SGM_ANC4", "SGM_PW_REG"}
    assert client.get("/api/dataElements", params={"filter": "code:zz:1"}).status_code == 400


def _pune(client: httpx.Client) -> str:
    return client.get("/api/organisationUnits", params={"filter": "code:eq:IN_MH_PUN"}).json()[
        "organisationUnits"
    ][0]["id"]


def test_import_summary_dry_run_zeros_and_unchanged_values(server) -> None:
    client, app = server
    app.values.clear()
    app.completions.clear()
    pune = _pune(client)
    element = app.meta.find("dataElements", "SGM_HV_TOTAL", "CODE")
    element["zeroIsSignificant"] = False
    body = {
        "dataSet": "SGM_MCH_MONTHLY",
        "period": "202401",
        "orgUnit": pune,
        "completeDate": "2024-02-03",
        "dataValues": [
            {"dataElement": "SGM_PW_REG", "value": "7"},
            {"dataElement": "SGM_HV_TOTAL", "value": "0"},
            {"dataElement": "SGM_ANC4_PCT", "value": "55.5"},
        ],
    }
    params = {"idScheme": "CODE", "dataElementIdScheme": "CODE", "orgUnitIdScheme": "UID"}
    try:
        dry = client.post("/api/dataValueSets", json=body, params={**params, "dryRun": "true"}).json()
        assert (
            dry["httpStatus"] == "OK" and dry["status"] == "OK" and dry["message"] == "Import was successful."
        )
        summary = dry["response"]
        assert summary["responseType"] == "ImportSummary" and summary["status"] == "SUCCESS"
        assert summary["importCount"] == {"imported": 2, "updated": 0, "ignored": 0, "deleted": 0}
        assert summary["importOptions"]["dryRun"] is True
        assert app.values == {}  # a dry run writes no value, but 2.42 registers the completeDate anyway
        assert list(app.completions.values())[0]["date"] == "2024-02-03"
        app.completions.clear()

        real = client.post("/api/dataValueSets", json=body, params=params).json()["response"]
        assert real["importCount"]["imported"] == 2 and real["dataSetComplete"] == "2024-02-03"
        assert len(app.values) == 2  # the insignificant zero was skipped
        again = client.post("/api/dataValueSets", json=body, params=params).json()["response"]
        assert again["importCount"] == {"imported": 0, "updated": 0, "ignored": 2, "deleted": 0}
        regs = client.get(
            "/api/completeDataSetRegistrations", params={"period": "202401", "orgUnit": pune}
        ).json()
        assert [r["date"] for r in regs["completeDataSetRegistrations"]] == ["2024-02-03"]
    finally:
        element["zeroIsSignificant"] = True


def test_conflicts_are_dhis2s_shape_and_csv_imports(server) -> None:
    client, app = server
    app.values.clear()
    pune = _pune(client)
    body = {
        "period": "202402",
        "orgUnit": pune,
        "dataValues": [
            {"dataElement": "SGM_PW_REG", "value": "x"},
            {"dataElement": "SGM_PW_REG", "value": "3"},
            {"dataElement": "NOPE", "value": "1"},
        ],
    }
    resp = client.post("/api/dataValueSets", json=body, params={"dataElementIdScheme": "CODE"})
    doc = resp.json()
    assert resp.status_code == 200 and doc["status"] == "WARNING"
    de = app.meta.find("dataElements", "SGM_PW_REG", "CODE")["id"]
    assert doc["response"]["conflicts"] == [
        {
            "object": de,
            "objects": {"dataElement": de, "value": "value_not_zero_or_positive_integer"},
            "value": f"Value must match data element's `{de}` type constraints: "
            "Data value is not zero or positive "
            "integer",
            "errorCode": "E7619",
            "property": "value",
            "indexes": [0],
        },
        {
            "object": "NOPE",
            "objects": {"dataElement": "NOPE"},
            "value": "Data element not found or not accessible: `NOPE`",
            "errorCode": "E7610",
            "property": "dataElement",
            "indexes": [2],
        },
    ]
    assert doc["response"]["rejectedIndexes"] == [0, 2] and doc["response"]["importCount"]["imported"] == 1
    aborted = client.post("/api/dataValueSets", json={"dataSet": "NOPE", "dataValues": []})
    assert aborted.status_code == 409 and aborted.json()["response"]["conflicts"][0]["errorCode"] == "E7600"
    csv = "dataelement,period,orgunit,catoptcombo,attroptcombo,value,storedby,lastupd,comment\n"
    csv += f"SGM_ANC4,202402,{pune},,,4,,,\n"
    imported = client.post(
        "/api/dataValueSets",
        content=csv,
        headers={"Content-Type": "application/csv"},
        params={"dataElementIdScheme": "CODE"},
    )
    assert imported.json()["response"]["importCount"]["imported"] == 1


def test_export_needs_data_set_period_and_org_unit(server) -> None:
    client, _ = server
    codes = [
        client.get("/api/dataValueSets", params=p).json().get("errorCode")
        for p in (
            {"period": "202401", "orgUnit": "x"},
            {"dataSet": "x", "orgUnit": "x"},
            {"dataSet": "x", "period": "1"},
        )
    ]
    assert codes == ["E2001", "E2002", "E2006"]
