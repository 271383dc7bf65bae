"""Extract fixtures: a config pointing at the running emulators, with a warehouse in a temp dir."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sangam.config import SangamConfig, parse_config
from tests.conftest import REPO, sources_doc

# the extract tests' name for the shared helper
config_doc = sources_doc


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
