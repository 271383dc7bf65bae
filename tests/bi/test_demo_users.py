"""`python -m bi_config demo-users`: the demo users of roles.yaml, created once with kept random passwords."""

from __future__ import annotations

import logging
import socket
import stat
from pathlib import Path

import pytest
import yaml

from bi_config import server
from bi_config.__main__ import main
from bi_config.client import SupersetClient
from bi_config.demo_users import PASSWORDS_FILE, DemoUsersError, create_user, find_user, load_passwords
from bi_config.security import SecurityConfig

MH = {"Maharashtra"}
NORTH = {"Uttar Pradesh", "Bihar"}
PRESET_PASSWORD = "made-by-hand-7d2a"  # a user the admin made before demo-users ran (throwaway Superset)


def _chart_ids(client: SupersetClient) -> dict[str, int]:
    return {c["slice_name"]: c["id"] for c in client.list_all("/api/v1/chart/", ["id", "slice_name"])}


def _states(client: SupersetClient, chart_id: int) -> set[str]:
    resp = client.request("GET", f"/api/v1/chart/{chart_id}/data/?force=true")
    assert resp.status_code == 200, resp.text[:500]
    return {row["state"] for row in resp.json()["result"][0]["data"]}


def _roles(admin: SupersetClient, username: str) -> set[str]:
    user = find_user(admin, username)
    assert user is not None, f"{username} was not created"
    return {r["name"] for r in admin.get(f"/api/v1/security/users/{user['id']}")["result"]["roles"]}


def _user_count(admin: SupersetClient) -> int:
    return len(admin.list_all("/api/v1/security/users/", ["id"]))


@pytest.mark.slow
def test_demo_users_created_once_with_kept_passwords(live_superset, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    cfg = SecurityConfig.load(live_superset.roles_file)  # the committed demo_users, plus the test mappings
    names = cfg.demo_usernames()
    assert {"coordinator_mh", "coordinator_north", "funder", "analyst", "staff"} <= set(names)
    argv = [
        "--home",
        str(live_superset.home.path),
        "demo-users",
        "--url",
        live_superset.url,
        "--roles",
        str(live_superset.roles_file),
    ]
    with live_superset.admin() as admin:
        # an account an admin made by hand keeps its own password: demo-users never touches it
        create_user(admin, "staff", PRESET_PASSWORD, first_name="Hand", last_name="Made")
        for name in names:
            assert name == "staff" or find_user(admin, name) is None

    assert main(argv) == 0
    first = capsys.readouterr().out
    path = live_superset.home.path / PASSWORDS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = load_passwords(live_superset.home)
    assert set(kept) == set(names) - {"staff"}
    assert len(set(kept.values())) == len(kept) and all(len(p) >= 16 for p in kept.values())
    for password in kept.values():
        assert password in first  # shown once, when created
        assert password not in caplog.text  # never logged
    assert "staff" in first and "not created by demo-users" in first

    with live_superset.admin() as admin:
        charts = _chart_ids(admin)
        roles = {name: _roles(admin, name) for name in names}
        dashboards = {d["slug"]: d["id"] for d in admin.list_all("/api/v1/dashboard/", ["id", "slug"])}
    assert {"Coordinator", "Coordinator MH"} <= roles["coordinator_mh"]
    assert {"Coordinator", "Coordinator UP", "Coordinator BR"} <= roles["coordinator_north"]
    assert "Funder" in roles["funder"] and "Analyst" in roles["analyst"]
    assert "Program staff" in roles["staff"]  # mapped by roles.yaml even though made by hand

    # the stored password logs in, and row-level security keeps the coordinator to their states
    with SupersetClient(live_superset.url, "coordinator_mh", kept["coordinator_mh"]) as coord:
        assert _states(coord, charts["Indicators by district"]) == MH
        assert _states(coord, charts["Applications by scheme and district"]) == MH
    with SupersetClient(live_superset.url, "coordinator_north", kept["coordinator_north"]) as coord:
        assert _states(coord, charts["Indicators by district"]) == NORTH
    with SupersetClient(live_superset.url, "funder", kept["funder"]) as funder:
        program = funder.request("GET", f"/api/v1/dashboard/{dashboards['program-overview']}")
        assert program.status_code in (403, 404)
        assert funder.request("GET", f"/api/v1/dashboard/{dashboards['funder-view']}").status_code == 200
    with SupersetClient(live_superset.url, "staff", PRESET_PASSWORD):
        pass

    # a second run creates nothing, keeps the passwords and never shows or logs them again
    with live_superset.admin() as admin:
        users_before = _user_count(admin)
    caplog.clear()
    assert main(argv) == 0
    second = capsys.readouterr()
    assert "already exist" in second.out and str(path) in second.out
    for password in kept.values():
        assert password not in second.out
        assert password not in second.err
        assert password not in caplog.text
    assert load_passwords(live_superset.home) == kept
    with live_superset.admin() as admin:
        assert _user_count(admin) == users_before
    with SupersetClient(live_superset.url, "analyst", kept["analyst"]):
        pass


def test_refuses_when_superset_is_not_reachable(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    home = tmp_path / "home"
    assert main(["--home", str(home), "demo-users", "--url", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert f"Superset is not reachable at http://127.0.0.1:{port}" in err
    assert "make superset-up" in err
    assert not (home / PASSWORDS_FILE).exists()


def test_a_damaged_passwords_file_is_named_not_shown(tmp_path):
    home = server.SupersetHome(tmp_path)
    (tmp_path / PASSWORDS_FILE).write_text('{"funder": "s3cret-value",')
    with pytest.raises(DemoUsersError) as err:
        load_passwords(home)
    assert str(tmp_path / PASSWORDS_FILE) in str(err.value)
    assert "s3cret-value" not in str(err.value)


def test_demo_users_are_validated_like_the_other_mappings(tmp_path):
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "bi_config" / "roles.yaml").read_text())
    data["demo_users"]["members"].append({"user": "boss", "roles": ["Boss"]})
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(Exception, match=r"demo_users.members\[3\].roles: unknown role 'Boss'"):
        SecurityConfig.load(path)
