"""The KoBoToolbox emulator against KPI API v2's documented behaviour (kpi/views/v2/data.py, paginators.py).

A small hand-built world pins down every rule (operators, type brackets, missing fields, sorting); the
shared generated world checks that a real demo world pages through completely and unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from demo.emulators import running

UID = "aTestSurvey0000000000001"
BLOCK_UID = "aTestBlock00000000000002"
ROWS = 1234


def _auth() -> dict[str, str]:
    # tests/conftest.py puts the test credentials in the environment for the whole session
    return {"Authorization": f"Token {os.environ['SANGAM_KOBO_TOKEN']}"}


def _submission(i: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "_id": 500 + i,
        "formhub/uuid": "f" * 32,
        "start": f"2025-03-{1 + i % 28:02d}T09:00:00.000+05:30",
        "group_geo/district": ["MH_PUN", "MH_NAG", "UP_LKO"][i % 3],
        "age_years": str(18 + i % 30),
        "__version__": "vAAA" if i % 2 else "vBBB",
        "meta/instanceID": f"uuid:00000000-0000-0000-0000-{i:012d}",
        "meta/rootUuid": f"uuid:00000000-0000-0000-0000-{i:012d}",
        "_xform_id_string": UID,
        "_uuid": f"00000000-0000-0000-0000-{i:012d}",
        "_attachments": [],
        "_status": "submitted_via_web",
        "_geolocation": [18.5, 73.8],
        # several submissions share a second, as on a busy server
        "_submission_time": f"2025-03-{1 + (i // 50) % 28:02d}T{(i // 4) % 24:02d}:{i % 60:02d}:00",
        "_validation_status": {},
        "_submitted_by": f"worker{i % 7}",
    }
    if i % 5:
        row["phone"] = f"98{i:08d}"  # unanswered questions are omitted
    if i % 11 == 0:
        row["_validation_status"] = {
            "uid": "validation_status_approved",
            "label": "Approved",
            "by_whom": "sup",
        }
    if i % 4 == 0:
        row["children/child"] = [
            {"children/child/child_name": f"c{i}a", "children/child/sex": "male"},
            {"children/child/child_name": f"c{i}b", "children/child/sex": "female"},
        ]
    return row


SUBMISSIONS = [_submission(i) for i in range(ROWS)]


def _write_world(root: Path) -> Path:
    (root / "kobo" / "assets").mkdir(parents=True)
    (root / "kobo" / "submissions").mkdir(parents=True)
    survey = {
        "uid": UID,
        "name": "Test survey",
        "asset_type": "survey",
        "date_modified": "2025-03-02T10:00:00.000000Z",
        "url": f"http://127.0.0.1:8765/api/v2/assets/{UID}/",
        "downloads": [{"format": "xls", "url": f"http://127.0.0.1:8765/api/v2/assets/{UID}.xls"}],
        "content": {
            "survey": [{"type": "integer", "name": "age_years", "label": ["Age", "आयु"], "$kuid": "k1"}],
            "choices": [],
            "translations": ["English (en)", "Hindi (hi)"],
        },
        "deployment__active": True,
    }
    block = {
        "uid": BLOCK_UID,
        "name": "Geography block",
        "asset_type": "block",
        "date_modified": "2025-01-01",
    }
    (root / "kobo" / "assets" / f"{UID}.json").write_text(json.dumps(survey))
    (root / "kobo" / "assets" / f"{BLOCK_UID}.json").write_text(json.dumps(block))
    with open(root / "kobo" / "submissions" / f"{UID}.jsonl", "w") as out:
        for row in SUBMISSIONS:
            out.write(json.dumps(row) + "\n")
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_world(tmp_path_factory.mktemp("kobo_world"))


@pytest.fixture(scope="module")
def kobo(world: Path):
    with (
        running(world) as servers,
        httpx.Client(base_url=servers.kobo_url, headers=_auth(), timeout=30) as client,
    ):
        yield client


def _data(client: httpx.Client, **params: Any) -> httpx.Response:
    encoded = {k: json.dumps(v) if not isinstance(v, str | int) else v for k, v in params.items()}
    return client.get(f"/api/v2/assets/{UID}/data/", params=encoded)


def _all_ids(client: httpx.Client, **params: Any) -> list[int]:
    page = _data(client, limit=1000, **params).json()
    ids = [r["_id"] for r in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        ids += [r["_id"] for r in page["results"]]
    assert len(ids) == page["count"]
    return ids


# -- auth ---------------------------------------------------------------------------------------------


def test_requests_without_a_token_are_refused_like_drf(world: Path) -> None:
    with running(world) as servers:
        url = f"{servers.kobo_url}/api/v2/assets/{UID}/data/"
        missing = httpx.get(url)
        wrong = httpx.get(url, headers={"Authorization": "Token not-the-token"})
        empty = httpx.get(url, headers={"Authorization": "Token"})
        assets = httpx.get(f"{servers.kobo_url}/api/v2/assets/")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Authentication credentials were not provided."}
    assert missing.headers["www-authenticate"] == "Token"
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid token."}
    assert empty.status_code == 401 and empty.json() == {
        "detail": "Invalid token header. No credentials provided."
    }
    assert assets.status_code == 401


# -- assets -------------------------------------------------------------------------------------------


def test_asset_list_pages_and_filters_by_asset_type(kobo: httpx.Client) -> None:
    everything = kobo.get("/api/v2/assets/").json()
    assert everything["count"] == 2 and everything["next"] is None and everything["previous"] is None
    surveys = kobo.get("/api/v2/assets/", params={"q": "asset_type:survey"}).json()
    assert [a["uid"] for a in surveys["results"]] == [UID]
    listed = surveys["results"][0]
    assert "content" not in listed
    assert listed["url"] == f"{kobo.base_url}/api/v2/assets/{UID}/"
    assert listed["data"] == f"{kobo.base_url}/api/v2/assets/{UID}/data/"
    assert listed["deployment__submission_count"] == ROWS
    assert listed["deployment__last_submission_time"] == max(s["_submission_time"] for s in SUBMISSIONS) + "Z"
    # URLs the generator wrote for the default port follow the port the server really listens on
    assert listed["downloads"][0]["url"].startswith(str(kobo.base_url))
    first = kobo.get("/api/v2/assets/", params={"limit": 1}).json()
    assert len(first["results"]) == 1 and parse_qs(urlsplit(first["next"]).query) == {
        "limit": ["1"],
        "start": ["1"],
    }


def test_asset_detail_has_content_and_unknown_uid_is_404(kobo: httpx.Client) -> None:
    asset = kobo.get(f"/api/v2/assets/{UID}/").json()
    assert asset["content"]["translations"] == ["English (en)", "Hindi (hi)"]
    assert asset["content"]["survey"][0]["name"] == "age_years"
    for path in ("/api/v2/assets/aNope/", "/api/v2/assets/aNope/data/", "/api/v2/nothing/"):
        missing = kobo.get(path)
        assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}


# -- paging -------------------------------------------------------------------------------------------


def test_default_limit_is_100_and_larger_limits_are_capped_at_1000(kobo: httpx.Client) -> None:
    default = _data(kobo).json()
    assert default["count"] == ROWS and len(default["results"]) == 100
    assert parse_qs(urlsplit(default["next"]).query) == {"limit": ["100"], "start": ["100"]}
    capped = _data(kobo, limit=5000).json()
    assert len(capped["results"]) == 1000
    assert parse_qs(urlsplit(capped["next"]).query) == {"limit": ["1000"], "start": ["1000"]}
    last = kobo.get(capped["next"]).json()
    assert len(last["results"]) == ROWS - 1000 and last["next"] is None


def test_next_and_previous_are_absolute_and_keep_other_parameters(kobo: httpx.Client) -> None:
    query = {"_id": {"$gte": 600}}
    page = _data(kobo, limit=30, start=40, query=query).json()
    following, previous = urlsplit(page["next"]), urlsplit(page["previous"])
    assert f"{following.scheme}://{following.netloc}" == str(kobo.base_url)
    assert following.path == f"/api/v2/assets/{UID}/data/"
    assert json.loads(parse_qs(following.query)["query"][0]) == query
    assert parse_qs(following.query)["start"] == ["70"] and parse_qs(previous.query)["start"] == ["10"]
    # DRF drops `start` altogether when the previous page is the first one
    second = _data(kobo, limit=30, start=30, query=query).json()
    assert "start" not in parse_qs(urlsplit(second["previous"]).query)
    assert _data(kobo, limit=30, query=query).json()["previous"] is None


def test_following_next_returns_every_submission_once_in_id_order(kobo: httpx.Client) -> None:
    assert _all_ids(kobo) == [s["_id"] for s in SUBMISSIONS]


def test_data_json_and_format_json_are_the_same_list(kobo: httpx.Client) -> None:
    plain = kobo.get(f"/api/v2/assets/{UID}/data/", params={"limit": 3}).json()
    suffixed = kobo.get(f"/api/v2/assets/{UID}/data.json", params={"limit": 3}).json()
    formatted = kobo.get(f"/api/v2/assets/{UID}/data/", params={"limit": 3, "format": "json"}).json()
    assert plain["results"] == suffixed["results"] == formatted["results"] == SUBMISSIONS[:3]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"limit": "0"}, {"limit": "A positive integer is required"}),
        ({"limit": "ten"}, {"limit": "A positive integer is required"}),
        ({"start": "-1"}, {"start": "A positive integer is required."}),
        ({"query": "{not json"}, {"query": "Value must be valid JSON."}),
        ({"sort": "{'_id': 1}"}, {"sort": "Value must be valid JSON."}),
        ({"fields": "[_id"}, {"fields": "Value must be valid JSON."}),
        ({"query": '{"_id": {"$bogus": 1}}'}, ["Unsupported query"]),
        ({"query": '{"_id": {"$in": 5}}'}, ["Unsupported query"]),
        ({"query": "[1, 2]"}, ["Unsupported query"]),
    ],
)
def test_bad_parameters_get_kpis_400(kobo: httpx.Client, params: dict[str, str], error: Any) -> None:
    response = kobo.get(f"/api/v2/assets/{UID}/data/", params=params)
    assert response.status_code == 400
    assert response.json() == error


# -- query --------------------------------------------------------------------------------------------


def _time(i: int) -> str:
    return SUBMISSIONS[i]["_submission_time"]


QUERIES = [
    ("_id $gt", {"_id": {"$gt": 1600}}, lambda s: s["_id"] > 1600),
    ("_id $gte $lt", {"_id": {"$gte": 600, "$lt": 650}}, lambda s: 600 <= s["_id"] < 650),
    ("_id $lte", {"_id": {"$lte": 510}}, lambda s: s["_id"] <= 510),
    ("_id $in", {"_id": {"$in": [501, 777, 99999]}}, lambda s: s["_id"] in (501, 777)),
    ("_id $eq", {"_id": {"$eq": 1000}}, lambda s: s["_id"] == 1000),
    ("_id implicit eq", {"_id": 1001}, lambda s: s["_id"] == 1001),
    ("_id $ne", {"_id": {"$ne": 1000}}, lambda s: s["_id"] != 1000),
    ("_id as text matches nothing", {"_id": {"$gt": "600"}}, lambda s: False),
    (
        "_id text equality becomes int",
        {"$or": [{"_id": "640"}, {"_id": 641}]},
        lambda s: s["_id"] in (640, 641),
    ),
    ("time $gt", {"_submission_time": {"$gt": _time(700)}}, lambda s: s["_submission_time"] > _time(700)),
    ("time $gte", {"_submission_time": {"$gte": _time(700)}}, lambda s: s["_submission_time"] >= _time(700)),
    (
        "time prefix $lt",
        {"_submission_time": {"$lt": "2025-03-05"}},
        lambda s: s["_submission_time"] < "2025-03-05",
    ),
    ("time $lte", {"_submission_time": {"$lte": _time(99)}}, lambda s: s["_submission_time"] <= _time(99)),
    (
        "answer $in",
        {"group_geo/district": {"$in": ["MH_PUN", "UP_LKO"]}},
        lambda s: s["group_geo/district"] != "MH_NAG",
    ),
    ("answers are strings", {"age_years": {"$gt": "40"}}, lambda s: s["age_years"] > "40"),
    ("number against strings", {"age_years": {"$gt": 40}}, lambda s: False),
    ("$ne matches missing", {"phone": {"$ne": "9800000001"}}, lambda s: s.get("phone") != "9800000001"),
    ("$exists false", {"phone": {"$exists": False}}, lambda s: "phone" not in s),
    ("null is missing", {"phone": None}, lambda s: "phone" not in s),
    (
        "$nin",
        {"_submitted_by": {"$nin": ["worker1", "worker2"]}},
        lambda s: s["_submitted_by"] not in ("worker1", "worker2"),
    ),
    (
        "nested dot path",
        {"_validation_status.uid": "validation_status_approved"},
        lambda s: s["_id"] % 11 == 500 % 11,
    ),
    (
        "implicit and",
        {"_id": {"$gt": 900}, "age_years": "20"},
        lambda s: s["_id"] > 900 and s["age_years"] == "20",
    ),
    (
        "$and $or",
        {"$and": [{"$or": [{"_id": {"$lt": 520}}, {"_id": {"$gt": 1700}}]}, {"__version__": "vAAA"}]},
        lambda s: (s["_id"] < 520 or s["_id"] > 1700) and s["__version__"] == "vAAA",
    ),
    (
        "$regex",
        {"_submitted_by": {"$regex": "^WORKER[34]$", "$options": "i"}},
        lambda s: s["_submitted_by"] in ("worker3", "worker4"),
    ),
    ("array element", {"children/child": {"$size": 2}}, lambda s: len(s.get("children/child", [])) == 2),
    ("$not", {"_id": {"$not": {"$gt": 510}}}, lambda s: not s["_id"] > 510),
]


@pytest.mark.parametrize(("name", "query", "expected"), QUERIES, ids=[q[0] for q in QUERIES])
def test_query_matches_mongodb_semantics(
    kobo: httpx.Client, name: str, query: dict[str, Any], expected: Any
) -> None:
    wanted = [s["_id"] for s in SUBMISSIONS if expected(s)]
    assert _all_ids(kobo, query=query) == wanted


# -- sort and fields ----------------------------------------------------------------------------------


def test_sort_descending_by_id_and_by_submission_time(kobo: httpx.Client) -> None:
    assert _all_ids(kobo, sort={"_id": -1}) == [s["_id"] for s in reversed(SUBMISSIONS)]
    by_time = _data(kobo, sort={"_submission_time": -1}, limit=1000).json()["results"]
    times = [r["_submission_time"] for r in by_time]
    assert times == sorted((s["_submission_time"] for s in SUBMISSIONS), reverse=True)[:1000]


def test_sort_on_an_answer_puts_missing_values_first(kobo: httpx.Client) -> None:
    ids = _all_ids(kobo, sort={"phone": 1})
    missing = [s["_id"] for s in SUBMISSIONS if "phone" not in s]
    assert ids[: len(missing)] == missing
    phones = [s["phone"] for s in sorted((s for s in SUBMISSIONS if "phone" in s), key=lambda s: s["phone"])]
    by_id = {s["_id"]: s for s in SUBMISSIONS}
    assert [by_id[i]["phone"] for i in ids[len(missing) :]] == phones


def test_fields_returns_only_those_plus_what_kpi_always_adds(kobo: httpx.Client) -> None:
    results = _data(kobo, fields=["_submission_time", "age_years"], limit=12).json()["results"]
    assert set(results[0]) == {
        "_id",
        "_submission_time",
        "age_years",
        "_uuid",
        "meta/rootUuid",
        "_validation_status",
    }
    # not projected, so KPI's _inject_properties fills in an empty status
    assert results[11]["_validation_status"] == {}
    asked = _data(kobo, fields=["_validation_status"], limit=12).json()["results"]
    assert asked[11]["_validation_status"] == SUBMISSIONS[11]["_validation_status"] != {}
    assert [r["age_years"] for r in results] == [s["age_years"] for s in SUBMISSIONS[:12]]


def test_one_submission_by_id(kobo: httpx.Client) -> None:
    assert kobo.get(f"/api/v2/assets/{UID}/data/{SUBMISSIONS[7]['_id']}/").json() == SUBMISSIONS[7]
    assert kobo.get(f"/api/v2/assets/{UID}/data/99999999/").status_code == 404


# -- reload -------------------------------------------------------------------------------------------


def test_reload_rereads_submissions_and_assets(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    with running(copy) as servers, httpx.Client(base_url=servers.kobo_url, headers=_auth()) as client:
        assert _data(client, limit=1).json()["count"] == ROWS
        with open(copy / "kobo" / "submissions" / f"{UID}.jsonl", "a") as out:
            out.write(
                json.dumps({**SUBMISSIONS[0], "_id": 99999, "_submission_time": "2026-01-01T00:00:00"}) + "\n"
            )
        (copy / "kobo" / "assets" / f"{BLOCK_UID}.json").unlink()
        assert client.post("/_emulator/reload").status_code == 200
        assert _data(client, query={"_id": 99999}).json()["count"] == 1
        assert _data(client, limit=1).json()["count"] == ROWS + 1
        assert client.get("/api/v2/assets/").json()["count"] == 1


# -- the generated demo world -------------------------------------------------------------------------


def test_generated_world_pages_through_unchanged(demo_world: Path, emulators) -> None:
    with httpx.Client(headers=_auth(), timeout=30) as client:
        assets = client.get(f"{emulators.kobo_url}/api/v2/assets/", params={"q": "asset_type:survey"}).json()
        assert assets["count"] >= 2
        for asset in assets["results"]:
            uid = asset["uid"]
            on_disk = [
                json.loads(line) for line in (demo_world / "kobo" / "submissions" / f"{uid}.jsonl").open()
            ]
            page = client.get(asset["data"], params={"limit": 250}).json()
            served = list(page["results"])
            while page["next"]:
                page = client.get(page["next"]).json()
                served += page["results"]
            assert asset["deployment__submission_count"] == len(on_disk) == page["count"]
            assert [s["_id"] for s in served] == sorted(s["_id"] for s in on_disk)
            assert served == sorted(on_disk, key=lambda s: s["_id"])


def test_reload_after_evolve_serves_the_next_day(demo_world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "world"
    shutil.copytree(demo_world, copy)
    uid = json.loads(next((copy / "kobo" / "assets").glob("*.json")).read_text())["uid"]
    path = copy / "kobo" / "submissions" / f"{uid}.jsonl"
    with (
        running(copy) as servers,
        httpx.Client(base_url=servers.kobo_url, headers=_auth(), timeout=30) as client,
    ):
        before = client.get(f"/api/v2/assets/{uid}/data/", params={"limit": 1}).json()["count"]
        assert before == sum(1 for _ in path.open())
        _evolve(copy, seed=43)
        assert client.post("/_emulator/reload").status_code == 200
        on_disk = [json.loads(line) for line in path.open()]
        page = client.get(f"/api/v2/assets/{uid}/data/", params={"limit": 1000}).json()
        served = list(page["results"])
        while page["next"]:
            page = client.get(page["next"]).json()
            served += page["results"]
        assert len(on_disk) != before or any(s.get("meta/deprecatedID") for s in on_disk)
        assert served == sorted(on_disk, key=lambda s: s["_id"])


def test_serve_command_runs_every_server_until_interrupted(world: Path) -> None:
    import re
    import signal
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "demo",
        "serve",
        "--data",
        str(world),
        "--kobo-port",
        "0",
        "--odk-port",
        "0",
        "--dhis2-port",
        "0",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        urls = re.findall(r"http://127\.0\.0\.1:\d+", line)
        assert len(urls) == 3, line
        kobo_url, odk_url, dhis2_url = urls
        assert httpx.get(f"{kobo_url}/api/v2/assets/", headers=_auth()).json()["count"] == 2
        assert httpx.get(f"{odk_url}/v1/projects").status_code == 401
        assert httpx.get(f"{dhis2_url}/api/dataSets").status_code == 401
        assert os.environ["SANGAM_KOBO_TOKEN"] not in line
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


CROSS_CHECK_QUERIES = [
    {"_id": {"$gt": 700, "$lte": 900}},
    {"_id": {"$in": [501, 502, "503"]}},
    {"_id": {"$nin": [501, 502]}},
    {"_id": {"$exists": True}},
    {"_id": {"$ne": "501"}},
    {"_submission_time": {"$gte": "2025-03-10", "$lt": "2025-03-12T05"}},
    {"_submission_time": {"$in": ["2025-03-01T00:00:00", "nope"]}},
    {"_submission_time": {"$gt": 5}},
    {"children/child": {"$elemMatch": {"children/child/sex": "female"}}},
    {"children/child.children/child/sex": "male"},
    {"phone": {"$exists": True}, "$nor": [{"age_years": "20"}, {"age_years": "21"}]},
    {"_validation_status": {}},
    {"_geolocation": [18.5, 73.8]},
    {"_geolocation": 73.8},
    {"_submitted_by": {"$all": ["worker1"]}},
]


@pytest.mark.parametrize("query", CROSS_CHECK_QUERIES, ids=[json.dumps(q) for q in CROSS_CHECK_QUERIES])
def test_vectorised_matching_agrees_with_row_by_row_matching(world: Path, query: dict[str, Any]) -> None:
    from demo.emulators.kobo import SubmissionIndex
    from demo.emulators.mongo_query import document_matches

    index = SubmissionIndex(world / "kobo" / "submissions" / f"{UID}.jsonl")
    rows = index.select(query, {})
    assert [SUBMISSIONS[r]["_id"] for r in rows] == [
        s["_id"] for s in SUBMISSIONS if document_matches(s, query)
    ]
    assert len(rows) > 0 or query in ({"_submission_time": {"$gt": 5}},)


def test_sort_orders_types_like_mongodb(tmp_path: Path) -> None:
    from demo.emulators.kobo import SubmissionIndex

    values = ["b", 10, None, "a", 2.5, [3, 1], {"x": 1}]
    path = tmp_path / "mixed.jsonl"
    rows = [{"_id": i + 1, "_submission_time": "2025-01-01T00:00:00", "v": v} for i, v in enumerate(values)]
    rows.append({"_id": 99, "_submission_time": "2025-01-01T00:00:00"})  # missing sorts with null
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    index = SubmissionIndex(path)
    ordered = [rows[r]["_id"] for r in index.select({}, {"v": 1})]
    # null and missing < numbers < strings < objects; an array sorts by its smallest element ascending...
    assert ordered == [3, 99, 6, 5, 2, 4, 1, 7]
    # ... and by its largest descending
    assert [rows[r]["_id"] for r in index.select({}, {"v": -1})] == [7, 1, 4, 2, 6, 5, 3, 99]


def _evolve(world: Path, seed: int) -> None:
    """The generator's "next day", through its command (`python -m demo evolve`)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "demo", "evolve", "--data", str(world), "--seed", str(seed)]
    subprocess.run(command, check=True, capture_output=True, cwd=Path(__file__).parents[2], timeout=300)


def test_wait_returns_once_servers_answer_and_gives_up_when_the_process_died(world: Path) -> None:
    import subprocess
    import sys

    from demo.emulators.wait import wait_for

    with running(world) as servers:
        assert wait_for([servers.kobo_url, servers.odk_url], timeout=10) == []
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    assert wait_for([servers.kobo_url], timeout=30, pid=int(dead.stdout)) == [servers.kobo_url]


def test_a_broken_world_file_is_named(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    (copy / "kobo" / "assets" / f"{BLOCK_UID}.json").write_text("{not json")
    with pytest.raises(ValueError, match=f"{BLOCK_UID}.json: not valid JSON"), running(copy):
        pass
    (copy / "kobo" / "assets" / f"{BLOCK_UID}.json").unlink()
    with open(copy / "kobo" / "submissions" / f"{UID}.jsonl", "a") as out:
        out.write('{"_id": 1\n')
    from demo.emulators.kobo import SubmissionIndex

    with pytest.raises(ValueError, match=rf"{UID}.jsonl: line {ROWS + 1} is not valid JSON"):
        SubmissionIndex(copy / "kobo" / "submissions" / f"{UID}.jsonl")
