"""Extract fixtures: a config pointing at the running emulators, with a warehouse in a temp dir."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from sangam.config import SangamConfig, parse_config

REPO = Path(__file__).resolve().parents[2]


def config_doc(kobo_url: str, odk_url: str, sheets_dir: Path, warehouse: Path) -> dict:
    doc = yaml.safe_load((REPO / "sources.yaml").read_text())
    doc["warehouse"] = {
        "path": str(warehouse),
        "serving_path": str(warehouse.parent / "serving.duckdb"),
        "exports_dir": str(warehouse.parent / "exports"),
    }
    for src in doc["sources"]:
        if src["kind"] == "kobo":
            src["url"] = kobo_url
        elif src["kind"] == "odk":
            src["url"] = odk_url
        else:
            src["path"] = str(sheets_dir)
    return doc


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., SangamConfig]:
    """make_config(kobo_url, odk_url, sheets_dir, **per-kind overrides) → SangamConfig on tmp_path."""

    def make(kobo_url: str, odk_url: str, sheets_dir: Path, tweak: Callable[[dict], None] | None = None):
        doc = config_doc(kobo_url, odk_url, sheets_dir, tmp_path / "warehouse" / "warehouse.duckdb")
        doc = copy.deepcopy(doc)
        for src in doc["sources"]:
            if src["kind"] in ("kobo", "odk"):
                src["max_retries"] = 4
        if tweak:
            tweak(doc)
        return parse_config(doc, home=REPO)

    return make


@pytest.fixture
def world_copy(demo_world: Path, tmp_path: Path) -> Path:
    """A private copy of the demo world (for tests that evolve or break it)."""
    dst = tmp_path / "world"
    shutil.copytree(demo_world, dst)
    return dst
