"""The KoBo emulator's asset versions (kpi/views/v2/asset_version.py, kpi/serializers/v2/asset_version.py).

A hand-built world has an asset with deployed versions, undeployed drafts between them and more versions
than a page holds; the generated demo world serves each form's deployed versions with their content.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from demo.emulators import running
from demo.generator import KOBO_ASSET_UIDS
from demo.generator.kobo import KOBO_VERSION_UIDS, content_hash

UID = "aVersioned00000000000001"
OTHER = "aNoVersions0000000000002"
N_VERSIONS = 130  # more than KPI's PAGE_SIZE of 100
LIST_FIELDS = ["uid", "url", "content_hash", "date_deployed", "date_modified", "version_number"]


def _auth() -> dict[str, str]:
    return {"Authorization": f"Token {os.environ['SANGAM_KOBO_TOKEN']}"}


def _content(i: int) -> dict:
    return {"survey": [{"type": "integer", "name": f"q{i}", "label": [f"Q{i}"]}], "choices": []}


def _version(i: int) -> dict:
    """Version i (0 oldest): every tenth one deployed, the others drafts (date_deployed false)."""
    when = f"2025-01-{1 + i // 24:02d}T{i % 24:02d}:00:00.000000Z"
    deployed = i % 10 == 0
    return {
        "uid": f"vTest{i:017d}",
        "url": f"http://127.0.0.1:8765/api/v2/assets/{UID}/versions/vTest{i:017d}/",
        "content_hash": content_hash(_content(i)),
        "date_deployed": when if deployed else False,
        "date_modified": when,
        "version_number": str(i // 10 + 1) if deployed else f"{i // 10 + 1}.{i % 10}",
        "content": _content(i),
    }


VERSIONS = [_version(i) for i in range(N_VERSIONS)]


@pytest.fixture(scope="module")
def kobo(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("kobo_versions")
    (root / "kobo" / "assets").mkdir(parents=True)
    for uid in (UID, OTHER):
        asset = {"uid": uid, "name": uid, "asset_type": "survey", "content": _content(0)}
        (root / "kobo" / "assets" / f"{uid}.json").write_text(json.dumps(asset))
    folder = root / "kobo" / "versions" / UID
    folder.mkdir(parents=True)
    for v in VERSIONS[::-1]:  # file order must not matter
        (folder / f"{v['uid']}.json").write_text(json.dumps(v))
    with (
        running(root) as servers,
        httpx.Client(base_url=servers.kobo_url, headers=_auth(), timeout=30) as client,
    ):
        yield client


def _all(client: httpx.Client, url: str, **params) -> tuple[list[dict], list[dict]]:
    pages = [client.get(url, params=params).json()]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    return [r for p in pages for r in p["results"]], pages


def test_list_is_newest_first_paged_without_content(kobo: httpx.Client) -> None:
    results, pages = _all(kobo, f"/api/v2/assets/{UID}/versions/")
    assert [p["count"] for p in pages] == [N_VERSIONS, N_VERSIONS]
    assert [len(p["results"]) for p in pages] == [100, N_VERSIONS - 100]  # PAGE_SIZE 100
    assert [r["uid"] for r in results] == [v["uid"] for v in VERSIONS[::-1]]
    assert all(list(r) == LIST_FIELDS for r in results)
    assert results[0]["url"] == f"{kobo.base_url}/api/v2/assets/{UID}/versions/{VERSIONS[-1]['uid']}/"
    following = urlsplit(pages[0]["next"])
    assert following.path == f"/api/v2/assets/{UID}/versions/"
    assert parse_qs(following.query) == {"limit": ["100"], "offset": ["100"]}  # DRF's offset, not start
    assert pages[0]["previous"] is None and pages[1]["next"] is None
    assert parse_qs(urlsplit(pages[1]["previous"]).query) == {"limit": ["100"]}
    small = kobo.get(f"/api/v2/assets/{UID}/versions/", params={"limit": 7, "offset": 14}).json()
    assert [r["uid"] for r in small["results"]] == [v["uid"] for v in VERSIONS[::-1][14:21]]


def test_deployed_filter_takes_djangos_booleans(kobo: httpx.Client) -> None:
    url = f"/api/v2/assets/{UID}/versions/"
    deployed, _ = _all(kobo, url, deployed="True")
    assert [r["uid"] for r in deployed] == [v["uid"] for v in VERSIONS[::-1] if v["date_deployed"]]
    assert len(deployed) == 13 and all(r["date_deployed"] == r["date_modified"] for r in deployed)
    drafts, _ = _all(kobo, url, deployed="False")
    assert len(drafts) == N_VERSIONS - 13 and all(r["date_deployed"] is False for r in drafts)
    assert [r["uid"] for r in _all(kobo, url, deployed="1")[0]] == [r["uid"] for r in deployed]
    assert [r["uid"] for r in _all(kobo, url, deployed="f")[0]] == [r["uid"] for r in drafts]
    # BooleanField.to_python refuses anything else; KPI lets the ValidationError through as a 500
    assert kobo.get(url, params={"deployed": "yes"}).status_code == 500


def test_detail_adds_the_content(kobo: httpx.Client) -> None:
    v = VERSIONS[40]
    got = kobo.get(f"/api/v2/assets/{UID}/versions/{v['uid']}/").json()
    assert list(got) == [*LIST_FIELDS, "content"]
    assert got["content"] == v["content"] and got["content_hash"] == content_hash(got["content"])
    assert got["url"] == f"{kobo.base_url}/api/v2/assets/{UID}/versions/{v['uid']}/"
    assert kobo.get(f"/api/v2/assets/{UID}/versions/{v['uid']}/", params={"format": "json"}).json() == got


def test_not_found_and_formats(kobo: httpx.Client) -> None:
    for path in (
        "/api/v2/assets/aNope/versions/",
        f"/api/v2/assets/aNope/versions/{VERSIONS[0]['uid']}/",
        f"/api/v2/assets/{UID}/versions/vNope/",
        f"/api/v2/assets/{OTHER}/versions/{VERSIONS[0]['uid']}/",  # another asset's version
    ):
        response = kobo.get(path)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}, path
    empty = kobo.get(f"/api/v2/assets/{OTHER}/versions/").json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}
    assert kobo.get(f"/api/v2/assets/{UID}/versions/", params={"format": "xml"}).status_code == 404


def test_versions_need_the_token(kobo: httpx.Client) -> None:
    base = str(kobo.base_url)
    for path in (f"/api/v2/assets/{UID}/versions/", f"/api/v2/assets/{UID}/versions/{VERSIONS[0]['uid']}/"):
        assert httpx.get(base + path).status_code == 401
        wrong = httpx.get(base + path, headers={"Authorization": "Token wrong"})
        assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid token."}


def test_demo_world_serves_every_deployed_version(emulators, demo_world: Path) -> None:
    with httpx.Client(base_url=emulators.kobo_url, headers=_auth(), timeout=30) as client:
        for form, uid in KOBO_ASSET_UIDS.items():
            asset = client.get(f"/api/v2/assets/{uid}/").json()
            listed = client.get(f"/api/v2/assets/{uid}/versions/", params={"deployed": "True"}).json()
            expected = [vuid for (f, _), vuid in KOBO_VERSION_UIDS.items() if f == form][::-1]
            assert [r["uid"] for r in listed["results"]] == expected
            assert listed["results"][0]["uid"] == asset["deployed_version_id"] == asset["version_id"]
            assert [r["uid"] for r in asset["deployed_versions"]["results"]] == expected
            for row in listed["results"]:
                detail = client.get(f"/api/v2/assets/{uid}/versions/{row['uid']}/").json()
                assert detail["content_hash"] == row["content_hash"] == content_hash(detail["content"])
                if row["uid"] == asset["version_id"]:
                    assert detail["content"] == asset["content"]
                    assert row["content_hash"] == asset["version__content_hash"]
    names = {
        vuid: {r.get("name") for r in json.loads(path.read_text())["content"]["survey"]}
        for path in (demo_world / "kobo" / "versions" / KOBO_ASSET_UIDS["child_health"]).glob("*.json")
        for vuid in [path.stem]
    }
    v1, v2 = KOBO_VERSION_UIDS[("child_health", "v1")], KOBO_VERSION_UIDS[("child_health", "v2")]
    assert "oedema" in names[v1] and "oedema" not in names[v2]
    assert "muac_cm" in names[v2] and "muac_cm" not in names[v1]
