"""Benchmark step for `make bench` (bench/run.py): time and peak memory of generating each world size.

`run(ctx)` writes the worlds to ctx.world_dir(size), where later steps can load them. Each size runs in its
own process, so its peak memory is its own. Target: 1M submissions in under 2 minutes.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

TARGET_SECONDS_1M = 120.0


def run(ctx) -> dict[str, object]:
    figures: dict[str, object] = {}
    for size in ctx.sizes:
        out = ctx.world_dir(size)
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, resource, sys; from pathlib import Path; from demo.generator import generate; "
                "s = generate(Path(sys.argv[1]), int(sys.argv[2]), 42); "
                "s['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024; "
                "print(json.dumps(s))",
                str(out),
                str(size),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - started
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        figures[f"generate_{size}"] = {
            "seconds": round(seconds, 1),
            "peak_rss_mb": summary["peak_rss_mb"],
            "phases_s": summary["timings_s"],
        }
    if 1_000_000 in ctx.sizes:
        took = figures["generate_1000000"]["seconds"]
        figures["target_1m_under_2_min"] = {"seconds": took, "met": took < TARGET_SECONDS_1M}
    figures["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return figures
