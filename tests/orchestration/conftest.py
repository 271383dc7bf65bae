"""Orchestration fixtures: a sources.yaml on disk pointing at the emulators, warehouse in a temp dir."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import sources_doc


def write_sources(dst: Path, kobo_url: str, odk_url: str, sheets_dir: Path, warehouse_dir: Path) -> Path:
    doc = sources_doc(kobo_url, odk_url, sheets_dir, warehouse_dir / "warehouse.duckdb")
    dst.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dst


@pytest.fixture(scope="module")
def pipeline_home(tmp_path_factory: pytest.TempPathFactory, demo_world: Path, emulators) -> Path:
    """sources.yaml (emulator URLs), a private copy of the sheets and an empty warehouse folder."""
    home = tmp_path_factory.mktemp("orchestration")
    shutil.copytree(demo_world / "sheets", home / "sheets")
    (home / "warehouse").mkdir()
    urls = (emulators.kobo_url, emulators.odk_url)
    write_sources(home / "sources.yaml", *urls, home / "sheets", home / "warehouse")
    return home


@pytest.fixture
def offline_sources(tmp_path: Path) -> Path:
    """sources.yaml whose servers are never contacted (definitions, schedules, sensors)."""
    (tmp_path / "sheets").mkdir()
    (tmp_path / "warehouse").mkdir()
    return write_sources(
        tmp_path / "sources.yaml", "http://127.0.0.1:9", "http://127.0.0.1:9", tmp_path / "sheets",
        tmp_path / "warehouse",
    )  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def fresh_dbt_manifest() -> None:
    """The dbt models change under our feet while the transform step evolves: parse them once per session."""
    from orchestration.assets_dbt import parse_manifest

    parse_manifest()
