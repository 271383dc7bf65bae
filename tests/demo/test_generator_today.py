"""The demo can end its world on a chosen day: make demo passes the real date, so freshness is green."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from demo.generator import evolve, generate


def _facts(world: Path) -> dict:
    return json.loads((world / "ground_truth" / "world.json").read_text())


def _latest_kobo_submission(world: Path) -> str:
    latest = ""
    for path in (world / "kobo" / "submissions").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            latest = max(latest, json.loads(line)["_submission_time"])
    return latest


def test_world_ends_on_the_given_day_and_evolve_moves_on_from_it(tmp_path: Path):
    world = tmp_path / "world"
    generate(world, submissions=1000, seed=7, today=date(2026, 11, 20))
    facts = _facts(world)
    assert facts["today"] == "2026-11-20"
    assert facts["window"]["start"] == "2025-11-20"
    assert "2026-11-13" <= _latest_kobo_submission(world) < "2026-11-21"

    evolve(world, seed=1)
    assert _facts(world)["today"] == "2026-11-21"
    evolve(world, seed=2)
    assert _facts(world)["today"] == "2026-11-22"


def test_default_today_still_comes_from_the_seed(tmp_path: Path):
    generate(tmp_path / "a", submissions=300, seed=7)
    assert _facts(tmp_path / "a")["today"] != date.today().isoformat()
    assert _facts(tmp_path / "a")["today"] < "2026-01-01"
