"""Fixtures shared by every area: a small generated demo world and the survey-server emulators serving it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SMALL_WORLD_SUBMISSIONS = 1000

# Credentials of the emulated servers in tests; they never leave this process tree.
TEST_SECRETS = {
    "SANGAM_KOBO_TOKEN": "test-kobo-token-3f9a1c",
    "SANGAM_ODK_EMAIL": "data-team@example.org",
    "SANGAM_ODK_PASSWORD": "test-odk-password-77b2",
    "SANGAM_DHIS2_TOKEN": "d2pat_test0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5",
}


@pytest.fixture(scope="session", autouse=True)
def _test_environment() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in [*TEST_SECRETS, "SANGAM_HOME"]}
    os.environ.update(TEST_SECRETS)
    os.environ["SANGAM_HOME"] = str(REPO)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small, seeded demo world on disk (read-only for tests: copy it before changing it)."""
    from demo.generator import generate

    out = tmp_path_factory.mktemp("demo_world")
    generate(out, submissions=SMALL_WORLD_SUBMISSIONS, seed=42)
    return out


@pytest.fixture(scope="session")
def emulators(demo_world: Path):
    """KoBo and ODK emulators serving the shared demo world on free loopback ports."""
    from demo.emulators import running

    with running(demo_world) as servers:
        yield servers


def sources_doc(
    kobo_url: str, odk_url: str, sheets_dir: Path, warehouse: Path, world: Path | None = None
) -> dict:
    """The repo's sources.yaml as a dict, pointed at the emulators, a sheets folder and a warehouse file (the
    serving copy and the exports beside it); with `world`, the KoBo forms are that demo world's asset uids."""
    doc = yaml.safe_load((REPO / "sources.yaml").read_text())
    world_kobo: dict = {}
    fragment = world / "sources.yaml" if world is not None else None
    if fragment is not None and fragment.exists():
        for src in (yaml.safe_load(fragment.read_text()) or {}).get("sources", []):
            if src.get("kind") == "kobo":
                world_kobo = src
    doc["warehouse"] = {
        "path": str(warehouse),
        "serving_path": str(warehouse.parent / "serving.duckdb"),
        "exports_dir": str(warehouse.parent / "exports"),
    }
    for src in doc["sources"]:
        if src["kind"] == "kobo":
            src["url"] = kobo_url
            if world_kobo.get("forms"):
                # the world's asset uids, with the repo's per-form settings (geography, enumerator)
                repo_forms = {f["table"]: f for f in src.get("forms", [])}
                src["forms"] = [{**repo_forms.get(f["table"], {}), **f} for f in world_kobo["forms"]]
        elif src["kind"] == "odk":
            src["url"] = odk_url
        else:
            src["path"] = str(sheets_dir)
    return doc
