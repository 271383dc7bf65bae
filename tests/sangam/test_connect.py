"""`python -m sangam connect`: lists the emulated servers' forms and adds the chosen ones to sources.yaml,
keeping its comments; every failure is one line and writes nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sangam.config import parse_config

REPO = Path(__file__).resolve().parents[2]

START = """\
# my NGO's sources — this comment must survive
warehouse:
  path: warehouse/warehouse.duckdb   # where the raw tables go
sources:
  - name: sheets   # targets and rosters
    kind: spreadsheets
    path: demo/data/sheets
    files:
      - pattern: "targets*.xlsx"
        table: targets
"""


def _connect(sources: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sangam", "connect", *args, "--sources", str(sources)],
        capture_output=True, text=True, cwd=REPO, env=full_env, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(START)
    return path


def _world_assets(world: Path) -> dict[str, str]:
    import json

    return {
        json.loads(p.read_text())["uid"]: json.loads(p.read_text())["name"]
        for p in sorted((world / "kobo" / "assets").glob("*.json"))
    }


def test_kobo_all_adds_every_deployed_form_and_keeps_comments(sources, emulators, demo_world) -> None:
    res = _connect(sources, "kobo", "--url", emulators.kobo_url, "--all")
    assert res.returncode == 0, res.stderr
    text = sources.read_text()
    assert "# my NGO's sources — this comment must survive" in text
    assert "# where the raw tables go" in text and "# targets and rosters" in text
    doc = yaml.safe_load(text)
    kobo = [s for s in doc["sources"] if s["kind"] == "kobo"]
    assert (
        len(kobo) == 1
        and kobo[0]["url"] == emulators.kobo_url
        and kobo[0]["token_env"] == "SANGAM_KOBO_TOKEN"
    )
    assert {f["uid"] for f in kobo[0]["forms"]} == set(_world_assets(demo_world))
    assert doc["sources"][0]["name"] == "sheets"  # order kept: the new source goes last
    parse_config(doc, home=REPO)  # the pipeline's parser accepts it
    assert "Next: make run" in res.stdout
    assert os.environ["SANGAM_KOBO_TOKEN"] not in res.stdout + res.stderr
    again = _connect(sources, "kobo", "--url", emulators.kobo_url, "--all")
    assert again.returncode == 0 and "Nothing to add" in again.stdout
    assert sources.read_text() == text


def test_odk_one_form_then_another_join_the_same_source(sources, emulators) -> None:
    res = _connect(sources, "odk", "--url", emulators.odk_url, "--project-id", "1", "--form", "delivery")
    assert res.returncode == 0, res.stderr
    assert "delivery" in res.stdout and "anc_visit" in res.stdout  # the listing shows every form
    res = _connect(sources, "odk", "--url", emulators.odk_url, "--project-id", "1", "--form", "anc_visit")
    assert res.returncode == 0, res.stderr
    doc = yaml.safe_load(sources.read_text())
    (odk,) = [s for s in doc["sources"] if s["kind"] == "odk"]
    assert [f["xml_form_id"] for f in odk["forms"]] == ["delivery", "anc_visit"]
    assert odk["project_id"] == 1 and odk["email_env"] == "SANGAM_ODK_EMAIL"
    parse_config(doc, home=REPO)


def test_odk_without_project_id_uses_the_only_project(sources, emulators) -> None:
    res = _connect(sources, "odk", "--url", emulators.odk_url, "--form", "delivery")
    assert res.returncode == 0, res.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong_token", "refused the credentials in SANGAM_KOBO_TOKEN"),
        ("wrong_password", "refused the credentials in SANGAM_ODK_EMAIL / SANGAM_ODK_PASSWORD"),
        ("closed_port", "cannot connect"),
        ("odk_as_kobo", "does not look like a KoBoToolbox server"),
        ("kobo_as_odk", "does not look like an ODK Central server"),
        ("missing_env", "environment variable SANGAM_NOPE is not set"),
        ("unknown_form", "not on the server: nope"),
    ],
)
def test_failures_are_one_line_and_write_nothing(sources, emulators, case, expected) -> None:
    env: dict[str, str] = {}
    args: list[str]
    if case == "wrong_token":
        env["SANGAM_KOBO_TOKEN"] = "wrong-token-value-123"
        args = ["kobo", "--url", emulators.kobo_url, "--all"]
    elif case == "wrong_password":
        env["SANGAM_ODK_PASSWORD"] = "wrong-password-456"
        args = ["odk", "--url", emulators.odk_url, "--all"]
    elif case == "closed_port":
        args = ["kobo", "--url", f"http://127.0.0.1:{_free_port()}", "--all"]
    elif case == "odk_as_kobo":
        args = ["kobo", "--url", emulators.odk_url, "--all"]
    elif case == "kobo_as_odk":
        args = ["odk", "--url", emulators.kobo_url, "--all"]
    elif case == "missing_env":
        args = ["kobo", "--url", emulators.kobo_url, "--all", "--token-env", "SANGAM_NOPE"]
    else:
        args = ["kobo", "--url", emulators.kobo_url, "--form", "nope"]
    res = _connect(sources, *args, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], res.stderr
    assert sources.read_text() == START
    for value in [*env.values(), os.environ["SANGAM_KOBO_TOKEN"], os.environ["SANGAM_ODK_PASSWORD"]]:
        assert value not in res.stdout + res.stderr


def test_interactive_pick_and_table_names(sources, emulators, demo_world) -> None:
    from sangam import connect
    from sangam.__main__ import parser

    args = parser().parse_args(["connect", "kobo", "--url", emulators.kobo_url, "--sources", str(sources)])
    shown: list[str] = []
    added = connect.connect(args, ask=lambda prompt: "1", out=shown.append)
    assert len(added.forms) == 1
    uid, table = added.forms[0]
    assert table == connect._table_name(
        connect.RemoteForm(uid, _world_assets(demo_world)[uid], True, 0, None), set()
    )
    assert "#" in shown[0] and "submissions" in shown[0]
    with pytest.raises(connect.ConnectError, match="no form number 99"):
        connect.parse_choice("99", 3)
    assert connect.parse_choice("1,3-4", 5) == [0, 2, 3]


def test_table_names_are_valid_and_unique() -> None:
    from sangam.connect import RemoteForm, _table_name

    taken: set[str] = set()
    names = []
    for uid, name in [("aX1", "Household Survey 2026"), ("aX2", "Household survey 2026"),
                      ("aX3", "गृह सर्वेक्षण"), ("aX4", "2nd round")]:  # fmt: skip
        names.append(_table_name(RemoteForm(uid, name, True, 0, None), taken))
        taken.add(names[-1])
    assert names[:2] == ["household_survey_2026", "household_survey_2026_2"]
    assert len(set(names)) == 4
    assert all(n[0].isalpha() and "__" not in n for n in names)
