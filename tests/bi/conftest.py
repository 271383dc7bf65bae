"""BI fixtures: one real Superset (from .venv-superset) per test session, set up in a temp home, serving a
small serving.duckdb built from the contract's columns, with the bundle and roles applied."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bi_config import apply as applier
from bi_config import server
from bi_config.client import SupersetClient
from bi_config.demo_users import create_user

from .serving_fixture import build_serving

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "bi"
PASSWORD = "bi-test-user-pw-4c1e"  # test users of the throwaway Superset only

TEST_USERS = {
    "coord_mh": "Coordinator of Maharashtra (user mapping)",
    "coord_north": "Coordinator of Uttar Pradesh and Bihar (group mapping)",
    "funder1": "Funder",
    "analyst1": "Analyst",
    "staff1": "Program staff",
    "coord_unmapped": "Coordinator without states",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveSuperset:
    url: str
    home: server.SupersetHome
    serving: Path
    roles_file: Path
    first_reports: list[applier.ApplyReport]
    user_password: str = PASSWORD

    def admin(self) -> SupersetClient:
        return SupersetClient(self.url, server.ADMIN_USER, self.home.admin_password())

    def login(self, username: str) -> SupersetClient:
        return SupersetClient(self.url, username, PASSWORD)


def _test_roles(tmp: Path) -> Path:
    """The committed roles.yaml with test coordinators and members mapped."""
    data = yaml.safe_load((REPO / "bi_config" / "roles.yaml").read_text())
    data["coordinators"] = [
        {"user": "coord_mh", "states": ["MH"]},
        {"group": "north-coordinators", "states": ["UP", "BR"]},
    ]
    data["members"] = [
        {"user": "funder1", "roles": ["Funder"]},
        {"user": "analyst1", "roles": ["Analyst"]},
        {"user": "staff1", "roles": ["Program staff"]},
        {"user": "coord_unmapped", "roles": ["Coordinator"]},
    ]
    path = tmp / "roles.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _create_users(client: SupersetClient) -> None:
    """Users come from an admin or a login provider, never from apply: the test plays the admin."""
    for username, label in TEST_USERS.items():
        create_user(
            client, username, PASSWORD, first_name=label, last_name="Test", email=f"{username}@example.org"
        )
    coord_north = client.get("/api/v1/security/users/?q=(filters:!((col:username,opr:eq,value:coord_north)))")
    client.post(
        "/api/v1/security/groups/",
        {
            "name": "north-coordinators",
            "label": "North coordinators",
            "users": [coord_north["result"][0]["id"]],
        },
    )


@pytest.fixture(scope="session")
def superset_home(tmp_path_factory: pytest.TempPathFactory) -> server.SupersetHome:
    if not (server.superset_bin() / "superset").exists():
        pytest.fail(".venv-superset is missing: run `make superset-setup` (a prerequisite of `make test`)")
    home = tmp_path_factory.mktemp("superset_home")
    os.environ.pop(server.ADMIN_PASSWORD_ENV, None)
    return server.setup(home, announce=False)


@pytest.fixture(scope="session")
def serving_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_serving(tmp_path_factory.mktemp("serving") / "serving.duckdb")


@pytest.fixture(scope="session")
def live_superset(
    superset_home: server.SupersetHome, serving_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSuperset]:
    tmp = tmp_path_factory.mktemp("bi")
    roles_file = _test_roles(tmp)
    with server.running(superset_home, port=free_port()) as url:
        reports = []
        with SupersetClient(url, server.ADMIN_USER, superset_home.admin_password()) as admin:
            reports.append(applier.apply(admin, serving=serving_file, roles_file=roles_file))
            _create_users(admin)
            # the users exist now: this apply gives them their roles
            reports.append(applier.apply(admin, serving=serving_file, roles_file=roles_file))
        yield LiveSuperset(url, superset_home, serving_file, roles_file, reports)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    target = tmp_path / "assets"
    shutil.copytree(REPO / "bi_config" / "assets", target)
    return target
