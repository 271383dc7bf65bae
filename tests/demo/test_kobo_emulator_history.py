"""The KoBo emulator's project history (`/api/v2/assets/{uid}/history/`) and submission DELETE, as kpi serves
them (kobo/apps/audit_log/views.py, serializers.py, models.py; kpi/views/v2/data.py destroy)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from demo.emulators import running
from demo.generator import KOBO_ASSET_UIDS
from tests.conftest import TEST_SECRETS

UID = KOBO_ASSET_UIDS["pregnancy_registration"]
AUTH = {"Authorization": f"Token {TEST_SECRETS['SANGAM_KOBO_TOKEN']}"}


@pytest.fixture
def server(demo_world: Path, tmp_path: Path):
    world = tmp_path / "world"
    shutil.copytree(demo_world, world)
    with running(world) as em, httpx.Client(base_url=em.kobo_url, headers=AUTH, timeout=30) as client:
        yield em, client, world


def _subs(world: Path) -> list[dict]:
    path = world / "kobo" / "submissions" / f"{UID}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _history(client: httpx.Client, **params) -> httpx.Response:
    return client.get(f"/api/v2/assets/{UID}/history/", params=params)


def test_auth_unknown_asset_and_permission(server) -> None:
    em, client, _ = server
    assert httpx.get(f"{em.kobo_url}/api/v2/assets/{UID}/history/").status_code == 401
    assert client.get("/api/v2/assets/aNoSuchAsset/history/").status_code == 404
    page = _history(client).json()
    assert page == {"count": 0, "next": None, "previous": None, "results": []}
    em.kobo.manage_asset = False
    denied = _history(client)
    assert denied.status_code == 403
    assert denied.json() == {"detail": "You do not have permission to perform this action."}
    # the data stays readable to that token
    assert client.get(f"/api/v2/assets/{UID}/data/", params={"limit": 1}).status_code == 200


def test_delete_is_hard_and_logged_with_the_root_uuid(server) -> None:
    _, client, world = server
    victim = _subs(world)[3]
    r = client.delete(f"/api/v2/assets/{UID}/data/{victim['_id']}/")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/api/v2/assets/{UID}/data/{victim['_id']}/").status_code == 404
    assert client.delete(f"/api/v2/assets/{UID}/data/{victim['_id']}/").status_code == 404
    assert victim["_id"] not in {s["_id"] for s in _subs(world)}
    (entry,) = _history(client).json()["results"]
    assert entry["action"] == "delete-submission"
    assert list(entry) == ["user", "user_uid", "username", "action", "metadata", "date_created"]
    assert entry["metadata"]["asset_uid"] == UID
    assert entry["metadata"]["submission"] == {
        "submitted_by": victim["_submitted_by"],
        "root_uuid": victim["meta/rootUuid"].removeprefix("uuid:"),
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["date_created"])


def test_edits_and_new_submissions_are_logged_and_q_filters_them(server) -> None:
    _, client, world = server
    client.get(f"/api/v2/assets/{UID}/data/", params={"limit": 1}).raise_for_status()  # the state served
    subs = _subs(world)
    subs[0]["_uuid"] = "6f0c4d0e-0000-4000-8000-000000000001"  # an edit: new _uuid, same _id and root
    subs[1]["_validation_status"] = {"uid": "validation_status_on_hold"}  # a review: modify-submission too
    subs.append({**subs[2], "_id": 10_000_000, "_uuid": "6f0c4d0e-0000-4000-8000-000000000002",
                 "meta/rootUuid": "uuid:6f0c4d0e-0000-4000-8000-000000000002"})  # fmt: skip
    path = world / "kobo" / "submissions" / f"{UID}.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in subs))
    client.post("/_emulator/reload").raise_for_status()

    every = _history(client).json()
    assert sorted(e["action"] for e in every["results"]) == ["add-submission", *["modify-submission"] * 2]
    q = "(action:modify-submission OR action:delete-submission)"
    modified = _history(client, q=q).json()["results"]
    roots = {e["metadata"]["submission"]["root_uuid"] for e in modified}
    assert roots == {
        subs[0]["meta/rootUuid"].removeprefix("uuid:"),
        subs[1]["meta/rootUuid"].removeprefix("uuid:"),
    }
    soon = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _history(client, q=f'{q} AND date_created__gte:"{soon}"').json()["count"] == 0
    assert _history(client, q=f'{q} AND date_created__gte:"{past}"').json()["count"] == 2
    assert _history(client, q="NOT action:add-submission").json()["count"] == 2
    assert _history(client, q="password:x").status_code == 400
    # paged as DRF LimitOffsetPagination with kpi's `start`
    first = _history(client, limit=2).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and "start=2" in first["next"]
    rest = client.get(first["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
