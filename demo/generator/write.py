"""Assemble a world on disk: KoBo, ODK, spreadsheets, ground truth, world.json and a sources.yaml fragment."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import date
from pathlib import Path

from demo.generator import kobo, odk
from demo.generator.world import World, build_world

log = logging.getLogger("sangam.demo")

OUTPUTS = ("kobo", "odk", "sheets", "ground_truth", "sources.yaml")


def write_world(world: World, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:  # never leave files of an earlier, different world behind
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    timings = {}
    t0 = time.perf_counter()
    summary = {"kobo": kobo.write(world, out)}
    timings["kobo"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary["odk"] = odk.write(world, out)
    timings["odk"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    from demo.generator import sheets, truth

    summary["sheets"] = sheets.write(world, out)
    timings["sheets"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary["ground_truth"] = truth.write(world, out)
    timings["ground_truth"] = time.perf_counter() - t0
    write_sources_fragment(out)
    summary["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    return summary


def write_sources_fragment(out: Path) -> None:
    lines = [
        "# sources.yaml fragment for this demo world: the KoBo asset uids (fixed for every seed)",
        "sources:",
        "  - name: kobo",
        "    kind: kobo",
        "    forms:",
    ]
    for table, uid in kobo.KOBO_ASSET_UIDS.items():
        lines += [f"      - uid: {uid}", f"        table: {table}"]
    lines += ["  - name: odk", "    kind: odk", f"    project_id: {odk.PROJECT_ID}", "    forms:"]
    lines += [f"      - xml_form_id: {form_id}" for form_id in odk.FORM_BUILDERS]
    (out / "sources.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def generate(out_dir: Path, submissions: int, seed: int = 42, today: date | None = None) -> dict:
    """Generate a world of `submissions` submissions in total (across forms) into out_dir.

    `today` is the last day of the world (default: derived from the seed).
    """
    t0 = time.perf_counter()
    world = build_world(int(submissions), int(seed), today)
    built = time.perf_counter() - t0
    summary = write_world(world, Path(out_dir))
    summary["timings_s"]["simulate"] = round(built, 2)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary.update({"seed": world.seed, "submissions": world.submissions, "today": world.today.isoformat()})
    log.info("demo world: %s submissions, seed %s, in %.1f s", submissions, seed, summary["seconds"])
    return summary


def evolve(data_dir: Path, seed: int) -> dict:
    from demo.generator.next_day import evolve as _evolve

    return _evolve(Path(data_dir), int(seed))
