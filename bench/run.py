"""`make bench`: measure every step on generated worlds and write one report (bench/reports/).

Steps run in flow order and share a context: the extract step loads the worlds it generates, and the
later steps reuse the largest warehouse it left behind. Each step module exposes
`run(ctx: BenchContext) -> dict[str, object]` returning its figures (and targets met or not).
`--steps` reruns some steps only; the report keeps the other steps' figures from the last report at the same
sizes, each with the time it was measured.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

STEPS = ["demo.generator.bench", "bench.extract", "bench.transform", "bench.quality", "bench.superset"]
STEP_NAMES = {"demo.generator.bench": "generate"}
REPORTS = Path(__file__).resolve().parent / "reports"


@dataclass
class BenchContext:
    sizes: list[int]
    workdir: Path
    results: dict[str, dict] = field(default_factory=dict)
    child_rows: int | None = None  # the extract step's one-form run at exactly this many submissions

    def world_dir(self, size: int) -> Path:
        return self.workdir / f"world_{size}"

    def warehouse_path(self, size: int) -> Path:
        return self.workdir / f"warehouse_{size}.duckdb"

    @property
    def largest(self) -> int:
        return max(self.sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="submission counts, comma-separated")
    parser.add_argument("--steps", default=",".join(STEP_NAMES.get(s, s.split(".")[-1]) for s in STEPS))
    parser.add_argument("--workdir", type=Path, default=Path("bench/work"))
    parser.add_argument(
        "--child-rows", type=int, default=None,
        help="also load child_health at exactly this many submissions (default: 1M when a size reaches it)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    ctx = BenchContext(sizes=[int(s) for s in args.sizes.split(",")], workdir=args.workdir.resolve(),
                       child_rows=args.child_rows)  # fmt: skip
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    wanted = set(args.steps.split(","))
    failed = False
    for module_name in STEPS:
        step = STEP_NAMES.get(module_name, module_name.split(".")[-1])
        if step not in wanted:
            continue
        started = time.perf_counter()
        try:
            module = importlib.import_module(module_name)
            figures = module.run(ctx)
        except Exception as exc:  # one broken step must not hide the others' figures
            failed = True
            figures = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        figures["step_seconds"] = round(time.perf_counter() - started, 2)
        figures["measured_at"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        ctx.results[step] = figures
        print(f"[bench] {step}: {json.dumps(figures, default=str)[:2000]}")
    write_report(ctx)
    return 1 if failed else 0


def _earlier_steps(sizes: list[int]) -> dict[str, dict]:
    """Figures of steps not rerun now, from the last report at the same sizes (each keeps its measured_at)."""
    latest = REPORTS / "latest.json"
    if not latest.exists():
        return {}
    earlier = json.loads(latest.read_text())
    return earlier.get("steps", {}) if earlier.get("sizes") == sizes else {}


def write_report(ctx: BenchContext) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    steps = {**_earlier_steps(ctx.sizes), **ctx.results}
    order = [STEP_NAMES.get(m, m.split(".")[-1]) for m in STEPS]
    steps = dict(sorted(steps.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    report = {
        "generated_at": stamp,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "sizes": ctx.sizes,
        "steps": steps,
    }
    path = REPORTS / f"bench-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    lines = [f"# Sangam benchmark {stamp}", "", f"sizes: {ctx.sizes}", ""]
    for step, figures in steps.items():
        lines.append(f"## {step}")
        lines += [f"- {k}: {v}" for k, v in figures.items() if k != "traceback"]
        lines.append("")
    (REPORTS / "latest.md").write_text("\n".join(lines))
    (REPORTS / "latest.json").write_text(path.read_text())
    print(f"[bench] report: {REPORTS / 'latest.md'}")
    return path


if __name__ == "__main__":
    raise SystemExit(main())
