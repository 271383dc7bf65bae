"""evolve() on the smallest worlds the generator makes: a day can bring no new scheme application."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.generator import evolve, generate


@pytest.mark.parametrize("submissions", [100, 200, 300])
def test_evolve_works_on_small_worlds(tmp_path: Path, submissions: int) -> None:
    generate(tmp_path, submissions=submissions, seed=7)
    before = json.loads((tmp_path / "ground_truth" / "world.json").read_text())
    for seed in (1, 2):
        summary = evolve(tmp_path, seed=seed)
        assert summary["new"]["child_health"] > 0
        assert summary["new"]["scheme_application"] >= 0
    after = json.loads((tmp_path / "ground_truth" / "world.json").read_text())
    assert after["evolutions"] == [1, 2] and after["today"] > before["today"]
