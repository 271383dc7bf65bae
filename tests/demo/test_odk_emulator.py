"""The ODK Central emulator against central-backend's behaviour (docs/api.yaml, lib/formats/odata.js,
lib/data/odata-filter.js, lib/model/query/submissions.js), and pyodk, the official client, reading it.

A hand-built form with a group, a geopoint, a repeat nested in a repeat, edits, soft deletes and tied
submission times pins down each rule; the shared generated world is read through pyodk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from demo.emulators import running

FORM = "household"
BASE = f"/v1/projects/7/forms/{FORM}"
COUNT = 40
DELETED = {5, 17, 33}
T0 = datetime(2025, 1, 1, 6, 0, tzinfo=UTC)

FIELDS = [
    {"name": "worker_id", "path": "/worker_id", "type": "string", "binary": None, "selectMultiple": None},
    {"name": "loc", "path": "/loc", "type": "structure", "binary": None, "selectMultiple": None},
    {"name": "village", "path": "/loc/village", "type": "string", "binary": None, "selectMultiple": None},
    {"name": "gps", "path": "/loc/gps", "type": "geopoint", "binary": None, "selectMultiple": None},
    {"name": "members", "path": "/members", "type": "int", "binary": None, "selectMultiple": None},
    {"name": "kids", "path": "/kids", "type": "structure", "binary": None, "selectMultiple": None},
    {"name": "child", "path": "/kids/child", "type": "repeat", "binary": None, "selectMultiple": None},
    {"name": "name", "path": "/kids/child/name", "type": "string", "binary": None, "selectMultiple": None},
    {"name": "dose", "path": "/kids/child/dose", "type": "repeat", "binary": None, "selectMultiple": None},
    {
        "name": "vaccine",
        "path": "/kids/child/dose/vaccine",
        "type": "string",
        "binary": None,
        "selectMultiple": None,
    },
    {"name": "meta", "path": "/meta", "type": "structure", "binary": None, "selectMultiple": None},
    {
        "name": "instanceID",
        "path": "/meta/instanceID",
        "type": "string",
        "binary": None,
        "selectMultiple": None,
    },
]


def _stamp(moment: datetime | None) -> str | None:
    return (
        None
        if moment is None
        else moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _sha(*parts: str) -> str:
    return hashlib.sha1("%%".join(parts).encode()).hexdigest()


def _build() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    submissions, children, doses = [], [], []
    for i in range(COUNT):
        instance = f"uuid:{i:08d}-aaaa-4bbb-8ccc-{i:012d}"
        # pairs of submissions arrive in the same millisecond: the cursor must break ties by arrival
        submitted = T0 + timedelta(hours=6 * (i // 2))
        updated = submitted + timedelta(days=2) if i % 3 == 0 else None
        row = {
            "__id": instance,
            "worker_id": f"FW{i % 4:03d}",
            "loc": {
                "village": f"V{i % 5}",
                "gps": {
                    "type": "Point",
                    "coordinates": [73.5 + i / 100, 18.25, 560.5],
                    "properties": {"accuracy": 4.5},
                },
            },
            "members": 2 + i % 6,
            "kids": {
                "child@odata.navigationLink": f"Submissions('{instance.replace(':', '%3A')}')/kids/child"
            },
            "meta": {"instanceID": instance},
            "__system": {
                "submissionDate": _stamp(submitted),
                "updatedAt": _stamp(updated),
                "deletedAt": _stamp(submitted + timedelta(days=3)) if i in DELETED else None,
                "submitterId": str(100 + i % 4),
                "submitterName": f"FW{i % 4:03d}",
                "attachmentsPresent": 0,
                "attachmentsExpected": 0,
                "status": None,
                "reviewState": ["approved", None, "hasIssues", "edited" if updated else None][i % 4],
                "deviceId": None,
                "edits": 1 if updated else 0,
                "formVersion": "2025010101",
            },
        }
        submissions.append(row)
        for c in range(i % 3):
            child_id = _sha(f"Submissions#{instance}", "kids#", f"child#{c}")
            link = f"Submissions('{instance.replace(':', '%3A')}')/kids/child('{child_id}')/dose"
            children.append(
                {
                    "name": f"kid{i}-{c}",
                    "dose@odata.navigationLink": link,
                    "__id": child_id,
                    "__Submissions-id": instance,
                }
            )
            for d in range(c + 1):
                doses.append(
                    {
                        "vaccine": ["bcg", "opv1", "penta1"][d],
                        "__id": _sha(child_id, str(d)),
                        "__Submissions-kids-child-id": child_id,
                    }
                )
    return submissions, children, doses


SUBMISSIONS, CHILDREN, DOSES = _build()
ALIVE = [s for i, s in enumerate(SUBMISSIONS) if i not in DELETED]
NEWEST_FIRST = list(reversed(ALIVE))  # arrival order ascending; ties broken by arrival, descending


def _write_world(root: Path) -> Path:
    folder = root / "odk" / "forms" / "7" / FORM
    folder.mkdir(parents=True)
    (root / "odk" / "projects.json").write_text(
        json.dumps([{"id": 7, "name": "Test project", "archived": None}])
    )
    (root / "odk" / "users.json").write_text(
        json.dumps([{"email": "second@example.org", "password": "second-pw"}])
    )
    form = {"projectId": 7, "xmlFormId": FORM, "name": "Household", "version": "2025010101", "state": "open"}
    (folder / "form.json").write_text(json.dumps(form))
    (folder / "fields.json").write_text(json.dumps(FIELDS))
    (folder / "form.xml").write_text('<?xml version="1.0"?><h:html xmlns:h="http://www.w3.org/1999/xhtml"/>')
    for name, rows in (
        ("Submissions", SUBMISSIONS),
        ("Submissions.kids.child", CHILDREN),
        ("Submissions.kids.child.dose", DOSES),
    ):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_world(tmp_path_factory.mktemp("odk_world"))


@pytest.fixture(scope="module")
def servers(world: Path):
    with running(world) as running_servers:
        yield running_servers


def _login(url: str) -> str:
    body = {"email": os.environ["SANGAM_ODK_EMAIL"], "password": os.environ["SANGAM_ODK_PASSWORD"]}
    return httpx.post(f"{url}/v1/sessions", json=body).json()["token"]


@pytest.fixture(scope="module")
def odk(servers):
    token = _login(servers.odk_url)
    with httpx.Client(
        base_url=servers.odk_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


def _table(client: httpx.Client, table: str = "Submissions", **params: Any) -> dict[str, Any]:
    response = client.get(f"{BASE}.svc/{table}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _follow(client: httpx.Client, table: str = "Submissions", **params: Any) -> list[dict[str, Any]]:
    page = _table(client, table, **params)
    rows = list(page["value"])
    while "@odata.nextLink" in page:
        response = client.get(page["@odata.nextLink"])
        assert response.status_code == 200, response.text
        page = response.json()
        rows += page["value"]
    return rows


# -- sessions and auth --------------------------------------------------------------------------------


def test_session_login_and_bad_credentials(servers) -> None:
    url = servers.odk_url
    good = httpx.post(
        f"{url}/v1/sessions",
        json={"email": os.environ["SANGAM_ODK_EMAIL"], "password": os.environ["SANGAM_ODK_PASSWORD"]},
    )
    assert good.status_code == 200
    session = good.json()
    assert len(session["token"]) == 64
    expires = datetime.fromisoformat(session["expiresAt"])
    created = datetime.fromisoformat(session["createdAt"])
    assert timedelta(hours=23) < expires - created <= timedelta(hours=24)
    wrong = httpx.post(
        f"{url}/v1/sessions", json={"email": os.environ["SANGAM_ODK_EMAIL"], "password": "nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"message": "Could not authenticate with the provided credentials.", "code": 401.2}
    blank = httpx.post(f"{url}/v1/sessions", json={"email": "x@example.org"})
    assert blank.status_code == 400 and blank.json()["code"] == 400.3
    # accounts listed in odk/users.json work too
    assert (
        httpx.post(
            f"{url}/v1/sessions", json={"email": "second@example.org", "password": "second-pw"}
        ).status_code
        == 200
    )


def test_everything_else_needs_a_bearer_token_or_basic(servers) -> None:
    url = f"{servers.odk_url}/v1/projects"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer " + "x" * 64}).json()["code"] == 401.2
    assert httpx.get(f"{servers.odk_url}{BASE}.svc/Submissions").status_code == 401
    basic = httpx.get(url, auth=(os.environ["SANGAM_ODK_EMAIL"], os.environ["SANGAM_ODK_PASSWORD"]))
    assert basic.status_code == 200 and basic.json()[0]["id"] == 7
    assert httpx.get(url, auth=(os.environ["SANGAM_ODK_EMAIL"], "wrong")).status_code == 401


def test_logging_out_ends_the_session(servers) -> None:
    token = _login(servers.odk_url)
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.get(f"{servers.odk_url}/v1/users/current", headers=headers).json()["email"]
        == os.environ["SANGAM_ODK_EMAIL"]
    )
    assert httpx.delete(f"{servers.odk_url}/v1/sessions/current", headers=headers).status_code == 200
    assert httpx.get(f"{servers.odk_url}/v1/projects", headers=headers).status_code == 401


# -- projects, forms ----------------------------------------------------------------------------------


def test_projects_forms_fields_and_xml(odk: httpx.Client) -> None:
    assert odk.get("/v1/projects").json() == [{"id": 7, "name": "Test project", "archived": None}]
    assert odk.get("/v1/projects/7").json()["name"] == "Test project"
    missing = odk.get("/v1/projects/8")
    assert missing.status_code == 404 and missing.json()["code"] == 404.1
    forms = odk.get("/v1/projects/7/forms").json()
    assert [f["xmlFormId"] for f in forms] == [FORM]
    extended = odk.get("/v1/projects/7/forms", headers={"X-Extended-Metadata": "true"}).json()[0]
    assert extended["submissions"] == len(ALIVE)
    assert extended["lastSubmission"] == ALIVE[-1]["__system"]["submissionDate"]
    assert odk.get(BASE).json()["version"] == "2025010101"
    assert odk.get(f"{BASE}/fields", params={"odata": "true"}).json() == FIELDS
    xml = odk.get(f"{BASE}.xml")
    assert xml.headers["content-type"].startswith("application/xml") and xml.text.startswith("<?xml")
    assert odk.get("/v1/projects/7/forms/nope.svc/Submissions").status_code == 404
    for unknown in ("/v1/nothing", "/v1/projects/7/forms/household/nothing", "/"):
        missing = odk.get(unknown)
        assert missing.status_code == 404 and missing.json()["code"] == 404.1
    listed = odk.get(f"{BASE}/submissions").json()
    assert [s["instanceId"] for s in listed] == [s["__id"] for s in ALIVE]
    assert (
        listed[0]["createdAt"] == ALIVE[0]["__system"]["submissionDate"] and listed[0]["submitterId"] == 100
    )


def test_service_document_and_metadata(odk: httpx.Client) -> None:
    document = odk.get(f"{BASE}.svc").json()
    assert document["@odata.context"] == f"{odk.base_url}{BASE}.svc/$metadata"
    assert [t["name"] for t in document["value"]] == [
        "Submissions",
        "Submissions.kids.child",
        "Submissions.kids.child.dose",
    ]
    edmx = ET.fromstring(odk.get(f"{BASE}.svc/$metadata").content)
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    types = {e.get("Name"): e for e in edmx.iterfind(".//edm:EntityType", ns)}
    assert set(types) == {"Submissions", "Submissions.kids.child", "Submissions.kids.child.dose"}
    props = {p.get("Name"): p.get("Type") for p in types["Submissions"].iterfind("edm:Property", ns)}
    assert props["members"] == "Edm.Int64" and props["__system"] == "org.opendatakit.submission.metadata"
    dose_props = [p.get("Name") for p in types["Submissions.kids.child.dose"].iterfind("edm:Property", ns)]
    assert "__Submissions-kids-child-id" in dose_props
    groups = {c.get("Name") for c in edmx.iterfind(".//edm:ComplexType", ns)}
    assert {"loc", "kids", "meta"} <= groups
    gps = edmx.find(".//edm:ComplexType[@Name='loc']/edm:Property[@Name='gps']", ns)
    assert gps is not None and gps.get("Type") == "Edm.GeographyPoint"


# -- the Submissions table ----------------------------------------------------------------------------


def test_submissions_are_newest_first_without_deleted_rows(odk: httpx.Client) -> None:
    page = _table(odk, **{"$count": "true"})
    assert page["value"] == NEWEST_FIRST
    assert page["@odata.count"] == len(ALIVE)
    assert page["@odata.context"] == f"{odk.base_url}{BASE}.svc/$metadata#Submissions"
    assert "@odata.nextLink" not in page


def test_top_pages_follow_next_links_with_an_opaque_skiptoken(odk: httpx.Client) -> None:
    first = _table(odk, **{"$top": "7", "$count": "true", "$skip": "2"})
    assert first["value"] == NEWEST_FIRST[2:9]
    link = urlsplit(first["@odata.nextLink"])
    params = parse_qs(link.query)
    assert link.path == f"{BASE}.svc/Submissions" and "$skip" not in params
    assert params["$top"] == ["7"] and params["$count"] == ["true"]
    token = params["$skiptoken"][0]
    assert token.startswith("01")
    assert json.loads(base64.b64decode(token[2:])) == {"instanceId": NEWEST_FIRST[8]["__id"]}
    assert _follow(odk, **{"$top": "7"}) == NEWEST_FIRST
    assert _follow(odk, **{"$top": "2"}) == NEWEST_FIRST  # every page boundary falls between tied rows
    last = _table(odk, **{"$top": str(len(ALIVE))})
    assert "@odata.nextLink" not in last


def test_skiptoken_of_a_deleted_submission_still_works(odk: httpx.Client) -> None:
    deleted = SUBMISSIONS[17]
    token = "01" + base64.b64encode(json.dumps({"instanceId": deleted["__id"]}).encode()).decode()
    rows = _table(odk, **{"$skiptoken": token})["value"]
    assert rows == [s for s in NEWEST_FIRST if SUBMISSIONS.index(s) < 17]


def test_bad_skiptoken_and_orderby_with_skiptoken(odk: httpx.Client) -> None:
    bad = odk.get(f"{BASE}.svc/Submissions", params={"$skiptoken": "garbage"})
    assert bad.status_code == 400 and bad.json()["code"] == 400.35
    token = "01" + base64.b64encode(b'{"instanceId": "uuid:x"}').decode()
    both = odk.get(f"{BASE}.svc/Submissions", params={"$skiptoken": token, "$orderby": "__id"})
    assert both.status_code == 501


def test_top_zero_answers_only_the_count(odk: httpx.Client) -> None:
    assert _table(odk, **{"$top": "0", "$count": "true"}) == {
        "value": [],
        "@odata.context": f"{odk.base_url}{BASE}.svc/$metadata#Submissions",
        "@odata.count": len(ALIVE),
    }


def _at(i: int, field: str = "submissionDate") -> str:
    return SUBMISSIONS[i]["__system"][field]


def _system(row: dict[str, Any], field: str) -> Any:
    return row["__system"][field]


FILTERS = [
    ("gt", f"__system/submissionDate gt {_at(20)}", lambda r: _system(r, "submissionDate") > _at(20)),
    (
        "ge quoted",
        f"__system/submissionDate ge '{_at(20)}'",
        lambda r: _system(r, "submissionDate") >= _at(20),
    ),
    (
        "lt date",
        "__system/submissionDate lt 2025-01-03",
        lambda r: _system(r, "submissionDate") < "2025-01-03",
    ),
    ("le", f"__system/submissionDate le {_at(9)}", lambda r: _system(r, "submissionDate") <= _at(9)),
    ("eq", f"__system/submissionDate eq {_at(10)}", lambda r: _system(r, "submissionDate") == _at(10)),
    ("ne", f"__system/submissionDate ne {_at(10)}", lambda r: _system(r, "submissionDate") != _at(10)),
    ("updated null", "__system/updatedAt eq null", lambda r: _system(r, "updatedAt") is None),
    ("updated not null", "__system/updatedAt ne null", lambda r: _system(r, "updatedAt") is not None),
    (
        "incremental",
        f"__system/submissionDate gt {_at(30)} or __system/updatedAt gt {_at(30)}",
        lambda r: _system(r, "submissionDate") > _at(30) or (_system(r, "updatedAt") or "") > _at(30),
    ),
    # SQL three-valued logic: a null updatedAt is neither > nor not >
    (
        "not with nulls",
        f"not (__system/updatedAt gt {_at(12)})",
        lambda r: (u := _system(r, "updatedAt")) is not None and u <= _at(12),
    ),
    (
        "and or parentheses",
        "(__system/reviewState eq 'approved' or __system/reviewState eq 'hasIssues') "
        "and __system/submitterId eq '100'",
        lambda r: (
            _system(r, "reviewState") in ("approved", "hasIssues") and _system(r, "submitterId") == "100"
        ),
    ),
    ("review null", "__system/reviewState eq null", lambda r: _system(r, "reviewState") is None),
    ("id", f"__id eq '{SUBMISSIONS[3]['__id']}'", lambda r: r["__id"] == SUBMISSIONS[3]["__id"]),
    (
        "root prefix",
        f"$root/Submissions/__system/submissionDate lt {_at(4)}",
        lambda r: _system(r, "submissionDate") < _at(4),
    ),
    ("function", "day(__system/submissionDate) eq 3", lambda r: _system(r, "submissionDate")[8:10] == "03"),
    ("year", "year(__system/submissionDate) eq 2024", lambda r: False),
]


@pytest.mark.parametrize(("name", "expr", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filter_follows_centrals_sql(odk: httpx.Client, name: str, expr: str, expected: Any) -> None:
    rows = _follow(odk, **{"$filter": expr, "$top": "5"})
    assert rows == [r for r in NEWEST_FIRST if expected(r)]


def test_deleted_rows_only_when_the_filter_asks_for_deleted_at(odk: httpx.Client) -> None:
    deleted = _table(odk, **{"$filter": "__system/deletedAt ne null"})["value"]
    assert sorted(r["__id"] for r in deleted) == sorted(SUBMISSIONS[i]["__id"] for i in DELETED)
    both = _table(
        odk, **{"$filter": "__system/deletedAt eq null or __system/deletedAt ne null", "$count": "true"}
    )
    assert both["@odata.count"] == COUNT
    assert all(
        r["__system"]["deletedAt"] is None
        for r in _table(odk, **{"$filter": "__system/submissionDate gt 2000-01-01"})["value"]
    )


@pytest.mark.parametrize(
    ("expr", "status", "code"),
    [
        ("__system/submissionDate gt", 400, 400.18),
        ("worker_id eq 'FW001'", 501, 501.5),
        ("__system/submitterName eq 'x'", 501, 501.5),
        ("__system/edits add 1 eq 2", 501, 501.4),
    ],
)
def test_unsupported_filters_are_refused_with_centrals_problems(
    odk: httpx.Client, expr: str, status: int, code: float
) -> None:
    response = odk.get(f"{BASE}.svc/Submissions", params={"$filter": expr})
    assert response.status_code == status and response.json()["code"] == code


@pytest.mark.parametrize(
    ("params", "headers", "code"),
    [
        ({"foo": "1"}, {}, 501.1),
        ({"$expand": "kids"}, {}, 501.6),
        ({"$expand": "*", "$select": "__id"}, {}, 501.11),
        ({"$format": "xml"}, {}, 406.1),
        ({}, {"Accept": "application/xml"}, 406.1),
        ({"$select": "kids/child/name"}, {}, 400.24),
    ],
)
def test_odata_requests_central_refuses(odk: httpx.Client, params: dict, headers: dict, code: float) -> None:
    response = odk.get(f"{BASE}.svc/Submissions", params=params, headers=headers)
    assert response.status_code == int(code) and response.json()["code"] == code
    assert odk.get(f"{BASE}.svc/Submissions", params={"$format": "json"}).status_code == 200


def test_orderby(odk: httpx.Client) -> None:
    ascending = _table(odk, **{"$orderby": "__system/submissionDate"})["value"]
    assert ascending == ALIVE
    by_update = _table(odk, **{"$orderby": "__system/updatedAt desc"})["value"]
    stamps = [r["__system"]["updatedAt"] for r in by_update]
    present = [s for s in stamps if s is not None]
    assert present == sorted(present, reverse=True) and stamps[len(present) :] == [None] * (
        len(stamps) - len(present)
    )


def test_select_keeps_only_asked_properties(odk: httpx.Client) -> None:
    rows = _table(odk, **{"$select": "__id,loc/village,__system/reviewState", "$top": "3"})["value"]
    assert rows == [
        {
            "__id": r["__id"],
            "loc": {"village": r["loc"]["village"]},
            "__system": {"reviewState": r["__system"]["reviewState"]},
        }
        for r in NEWEST_FIRST[:3]
    ]
    groups = _table(odk, **{"$select": "loc", "$top": "1"})["value"]
    assert groups == [{"loc": NEWEST_FIRST[0]["loc"]}]
    unknown = odk.get(f"{BASE}.svc/Submissions", params={"$select": "nope"})
    assert unknown.status_code == 400 and unknown.json()["code"] == 400.23


def test_wkt_turns_geopoints_into_text(odk: httpx.Client) -> None:
    row = _table(odk, **{"$wkt": "true", "$top": "1"})["value"][0]
    x, y, z = NEWEST_FIRST[0]["loc"]["gps"]["coordinates"]
    assert row["loc"]["gps"] == f"POINT ({x} {y} {z})"


def test_expand_inlines_nested_repeats(odk: httpx.Client) -> None:
    instance = SUBMISSIONS[38]  # 38 % 3 == 2 children, with 1 and 2 doses
    row = _table(odk, **{"$expand": "*", "$filter": f"__id eq '{instance['__id']}'"})["value"][0]
    kids = row["kids"]["child"]
    assert [k["name"] for k in kids] == ["kid38-0", "kid38-1"]
    assert [[d["vaccine"] for d in k["dose"]] for k in kids] == [["bcg"], ["bcg", "opv1"]]
    assert "__Submissions-id" not in kids[0]


# -- repeat tables ------------------------------------------------------------------------------------


def _children_newest_first() -> list[dict[str, Any]]:
    return [c for s in NEWEST_FIRST for c in CHILDREN if c["__Submissions-id"] == s["__id"]]


def test_repeat_table_follows_its_parents_order_and_hides_deleted_parents(odk: httpx.Client) -> None:
    page = _table(odk, "Submissions.kids.child", **{"$count": "true"})
    assert page["value"] == _children_newest_first()
    assert page["@odata.count"] == len(_children_newest_first())
    assert page["@odata.context"].endswith("$metadata#Submissions.kids.child")
    paged = _follow(odk, "Submissions.kids.child", **{"$top": "4"})
    assert paged == _children_newest_first()
    token = parse_qs(
        urlsplit(_table(odk, "Submissions.kids.child", **{"$top": "4"})["@odata.nextLink"]).query
    )["$skiptoken"][0]
    assert json.loads(base64.b64decode(token[2:])) == {"repeatId": _children_newest_first()[3]["__id"]}


def test_repeat_table_filters_on_the_root_submission(odk: httpx.Client) -> None:
    since = _at(30)
    rows = _table(
        odk, "Submissions.kids.child", **{"$filter": f"$root/Submissions/__system/submissionDate gt {since}"}
    )["value"]
    parents = {s["__id"] for s in NEWEST_FIRST if s["__system"]["submissionDate"] > since}
    assert rows == [c for c in _children_newest_first() if c["__Submissions-id"] in parents]
    assert (
        odk.get(
            f"{BASE}.svc/Submissions.kids.child", params={"$filter": "__system/submissionDate gt 2025-01-01"}
        ).status_code
        == 501
    )


def test_nested_repeat_table(odk: httpx.Client) -> None:
    rows = _table(odk, "Submissions.kids.child.dose")["value"]
    order = [c["__id"] for c in _children_newest_first()]
    expected = sorted(
        (d for d in DOSES if d["__Submissions-kids-child-id"] in order),
        key=lambda d: order.index(d["__Submissions-kids-child-id"]),
    )
    assert rows == expected


def test_single_submission_and_its_repeat_rows(odk: httpx.Client) -> None:
    instance = SUBMISSIONS[38]["__id"]
    single = odk.get(f"{BASE}.svc/Submissions('{instance}')").json()
    assert single["value"] == [SUBMISSIONS[38]]
    assert single["@odata.context"] == f"{odk.base_url}{BASE}.svc/$metadata#Submissions"
    kids = odk.get(f"{BASE}.svc/Submissions('{instance}')/kids/child").json()
    assert kids["value"] == [c for c in CHILDREN if c["__Submissions-id"] == instance]
    paged = odk.get(f"{BASE}.svc/Submissions('{instance}')/kids/child", params={"$top": "1"}).json()
    assert len(paged["value"]) == 1 and "@odata.nextLink" in paged
    gone = odk.get(f"{BASE}.svc/Submissions('{SUBMISSIONS[5]['__id']}')")
    assert gone.status_code == 404


# -- reload -------------------------------------------------------------------------------------------


def test_reload_sees_new_soft_deletes(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    table = copy / "odk" / "forms" / "7" / FORM / "Submissions.jsonl"
    with running(copy) as servers:
        token = _login(servers.odk_url)
        client = httpx.Client(base_url=servers.odk_url, headers={"Authorization": f"Bearer {token}"})
        assert _table(client, **{"$top": "0", "$count": "true"})["@odata.count"] == len(ALIVE)
        rows = [json.loads(line) for line in table.read_text().splitlines()]
        rows[0]["__system"]["deletedAt"] = "2025-02-01T00:00:00.000Z"
        table.write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert client.post("/_emulator/reload").status_code == 200
        assert _table(client, **{"$top": "0", "$count": "true"})["@odata.count"] == len(ALIVE) - 1
        client.close()


# -- pyodk, the official client, on the generated demo world ------------------------------------------


def test_pyodk_lists_projects_and_forms_and_reads_a_table(
    demo_world: Path, emulators, tmp_path: Path
) -> None:
    from pyodk.client import Client

    config = tmp_path / "pyodk_config.toml"
    config.write_text(
        "[central]\n"
        f'base_url = "{emulators.odk_url}"\n'
        f'username = "{os.environ["SANGAM_ODK_EMAIL"]}"\n'
        f'password = "{os.environ["SANGAM_ODK_PASSWORD"]}"\n'
        "default_project_id = 1\n"
    )
    with Client(config_path=str(config), cache_path=str(tmp_path / "pyodk_cache.toml")) as client:
        projects = client.projects.list()
        assert [p.id for p in projects] == [
            p["id"] for p in json.loads((demo_world / "odk" / "projects.json").read_text())
        ]
        forms = {f.xmlFormId for f in client.forms.list()}
        on_disk = {p.name for p in (demo_world / "odk" / "forms" / "1").iterdir()}
        assert forms == on_disk
        rows = [
            json.loads(line)
            for line in (demo_world / "odk" / "forms" / "1" / "delivery" / "Submissions.jsonl").open()
        ]
        alive = [r for r in rows if r["__system"]["deletedAt"] is None]
        table = client.submissions.get_table(form_id="delivery", count=True)
        assert table["@odata.count"] == len(alive)
        assert {r["__id"] for r in table["value"]} == {r["__id"] for r in alive}
        page = client.submissions.get_table(form_id="delivery", table_name="Submissions.babies.baby", top=5)
        assert len(page["value"]) == 5 and all("__Submissions-id" in r for r in page["value"])
        listed = client.submissions.list(form_id="delivery")
        assert {s.instanceId for s in listed} == {r["__id"] for r in alive}
        since = sorted(r["__system"]["submissionDate"] for r in alive)[len(alive) // 2]
        recent = client.submissions.get_table(
            form_id="delivery", filter=f"__system/submissionDate gt {since}"
        )
        assert {r["__id"] for r in recent["value"]} == {
            r["__id"] for r in alive if r["__system"]["submissionDate"] > since
        }


def test_reload_after_evolve_shows_new_soft_deletes(demo_world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "world"
    shutil.copytree(demo_world, copy)
    _evolve(copy, seed=44)
    path = copy / "odk" / "forms" / "1" / "anc_visit" / "Submissions.jsonl"
    with running(copy) as servers:
        client = httpx.Client(
            base_url=servers.odk_url, headers={"Authorization": f"Bearer {_login(servers.odk_url)}"}
        )
        url = "/v1/projects/1/forms/anc_visit.svc/Submissions"
        rows = [json.loads(line) for line in path.open()]
        deleted = {r["__id"] for r in rows if r["__system"]["deletedAt"]}
        edited = {r["__id"] for r in rows if r["__system"]["updatedAt"] and not r["__system"]["deletedAt"]}
        assert deleted and edited, "evolve should soft-delete and edit some ODK submissions"
        served = client.get(url, params={"$filter": "__system/deletedAt ne null"}).json()["value"]
        assert {r["__id"] for r in served} == deleted
        alive = client.get(url, params={"$count": "true", "$top": "0"}).json()["@odata.count"]
        assert alive == len(rows) - len(deleted)
        changed = client.get(url, params={"$filter": "__system/updatedAt ne null"}).json()["value"]
        assert {r["__id"] for r in changed} == edited
        client.close()


def _evolve(world: Path, seed: int) -> None:
    """The generator's "next day", through its command (`python -m demo evolve`)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "demo", "evolve", "--data", str(world), "--seed", str(seed)]
    subprocess.run(command, check=True, capture_output=True, cwd=Path(__file__).parents[2], timeout=300)
