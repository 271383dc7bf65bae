"""Extract + load benchmark (issue 3, point 7): KoBo child_health from the local emulator at each size.

For every size: generate the world (seeded, reused if already there), serve it with the emulators, load the
child_health form (one repeat group) in a subprocess (`python -m extract`) so its peak RSS is measured by
the kernel (wait4), rerun with nothing new, and time DuckDB's own `read_json` over the very same pages saved
to disk as the reference. The largest world is then loaded completely (every source), so the transform
benchmark can reuse `ctx.warehouse_path(ctx.largest)`.
Targets: largest size within 4x of the reference, peak RSS <= 1.5 GB, no-change rerun <= 10 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 4.0
TARGET_RSS_MB = 1536
TARGET_RERUN_S = 10.0
BENCH_SECRETS = {
    "SANGAM_KOBO_TOKEN": "bench-kobo-token",
    "SANGAM_ODK_EMAIL": "bench@example.org",
    "SANGAM_ODK_PASSWORD": "bench-odk-password",
}


def _config(kobo_url: str, odk_url: str, world: Path, warehouse: Path, child_only: bool) -> dict:
    from demo.generator import KOBO_ASSET_UIDS

    doc = yaml.safe_load((REPO / "sources.yaml").read_text())
    doc["warehouse"] = {"path": str(warehouse), "serving_path": str(warehouse.with_suffix(".serving.duckdb")),
                        "exports_dir": str(warehouse.parent / "exports")}  # fmt: skip
    for src in doc["sources"]:
        if src["kind"] == "kobo":
            src["url"] = kobo_url
            src["forms"] = (
                [{"uid": KOBO_ASSET_UIDS["child_health"], "table": "child_health"}]
                if child_only
                else [{"uid": uid, "table": form} for form, uid in KOBO_ASSET_UIDS.items()]
            )
        elif src["kind"] == "odk":
            src["url"] = odk_url
        else:
            src["path"] = str(world / "sheets")
    if child_only:
        doc["sources"] = [s for s in doc["sources"] if s["kind"] == "kobo"]
    return doc


def _extract_subprocess(cfg_path: Path, warehouse: Path, env: dict, sources: list[str] | None = None) -> dict:
    """Run `python -m extract` and return its wall time and the kernel's peak RSS of the process."""
    report_path = cfg_path.with_suffix(".report.json")
    pipelines = warehouse.with_name(warehouse.stem + "_dlt")  # one dlt working dir per warehouse
    args = [sys.executable, "-m", "extract", "--config", str(cfg_path), "--warehouse", str(warehouse),
            "--pipelines-dir", str(pipelines), "--report-json", str(report_path)]  # fmt: skip
    for s in sources or []:
        args += ["--source", s]
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"extract failed: {out.decode(errors='replace')[-3000:]}")
    report = json.loads(report_path.read_text())
    return {
        "wall_s": round(wall, 2),
        "load_s": round(sum(r["duration_s"] for r in report["sources"]), 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _reference(kobo_url: str, uid: str, pages_dir: Path, token: str) -> dict:
    """Save every page of the form to disk as the API returns it, then time DuckDB's read_json over them."""
    if pages_dir.exists():
        shutil.rmtree(pages_dir)
    pages_dir.mkdir(parents=True)
    with httpx.Client(base_url=kobo_url, headers={"Authorization": f"Token {token}"}, timeout=120) as client:
        start, n = 0, 0
        while True:
            r = client.get(
                f"/api/v2/assets/{uid}/data/", params={"format": "json", "limit": 1000, "start": start}
            )
            r.raise_for_status()
            (pages_dir / f"page_{n:06d}.json").write_bytes(r.content)
            n += 1
            start += 1000
            if not r.json().get("next"):
                break
    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute(
        f"""create table pages as select unnest(results) as s
            from read_json('{pages_dir}/*.json', maximum_object_size=1000000000)"""
    )
    con.execute("create table subs as select unnest(s) from pages")
    con.execute(
        """create table kids as
           select s."_id" as submission_id, unnest(s."children/child", recursive := true) from pages"""
    )
    seconds = time.perf_counter() - t0
    subs = con.execute("select count(*) from subs").fetchone()[0]
    kids = con.execute("select count(*) from kids").fetchone()[0]
    con.close()
    size_mb = sum(p.stat().st_size for p in pages_dir.iterdir()) / 1e6
    shutil.rmtree(pages_dir)
    return {"seconds": round(seconds, 2), "submissions": subs, "child_rows": kids, "pages": n,
            "pages_mb": round(size_mb, 1)}  # fmt: skip


def _count(warehouse: Path, table: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select count(*) from {table}").fetchone()[0]


def bench_size(ctx, size: int) -> dict:
    from demo.emulators import running
    from demo.generator import KOBO_ASSET_UIDS, generate

    os.environ.update({k: os.environ.get(k) or v for k, v in BENCH_SECRETS.items()})
    env = {**os.environ, "SANGAM_HOME": str(REPO)}
    # normal Python caches bytecode; without it every subprocess recompiles dlt & co. for ~10 s
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    world = ctx.world_dir(size)
    t0 = time.perf_counter()
    if not (world / "ground_truth" / "world.json").exists():
        generate(world, submissions=size, seed=42)
    generate_s = round(time.perf_counter() - t0, 1)
    warehouse = ctx.warehouse_path(size)
    for stale in (
        warehouse,
        warehouse.with_suffix(".duckdb.wal"),
        warehouse.with_name(warehouse.stem + "_dlt"),
    ):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    figures: dict = {"world_submissions": size, "generate_s": generate_s}
    with running(world) as em:
        cfg_path = ctx.workdir / f"sources_{size}_child.yaml"
        cfg_path.write_text(
            yaml.safe_dump(_config(em.kobo_url, em.odk_url, world, warehouse, child_only=True))
        )
        first = _extract_subprocess(cfg_path, warehouse, env)
        subs = _count(warehouse, "raw_kobo.child_health")
        kids = _count(warehouse, "raw_kobo.child_health__child")
        rerun = _extract_subprocess(cfg_path, warehouse, env)
        ref = _reference(em.kobo_url, KOBO_ASSET_UIDS["child_health"], ctx.workdir / f"pages_{size}",
                         os.environ["SANGAM_KOBO_TOKEN"])  # fmt: skip
        figures.update(
            {
                "child_health_submissions": subs,
                "child_rows": kids,
                "extract_load_s": first["load_s"],
                "process_wall_s": first["wall_s"],
                "submissions_per_s": round(subs / first["load_s"], 1),
                "peak_rss_mb": first["peak_rss_mb"],
                "rerun_no_change_s": rerun["load_s"],
                "rerun_process_wall_s": rerun["wall_s"],
                "rerun_peak_rss_mb": rerun["peak_rss_mb"],
                "reference_read_json_s": ref["seconds"],
                "reference_rows": ref["submissions"],
                "pages_mb": ref["pages_mb"],
                "ratio_to_reference": round(first["load_s"] / max(ref["seconds"], 1e-3), 2),
            }
        )
        if ref["submissions"] != subs:
            figures["warning"] = f"reference saw {ref['submissions']} submissions, the load stored {subs}"
        if size == ctx.largest:
            full_cfg = ctx.workdir / f"sources_{size}_all.yaml"
            full_cfg.write_text(
                yaml.safe_dump(_config(em.kobo_url, em.odk_url, world, warehouse, child_only=False))
            )
            full = _extract_subprocess(full_cfg, warehouse, env)
            figures["full_world_load_s"] = full["load_s"]
            figures["full_world_peak_rss_mb"] = full["peak_rss_mb"]
    return figures


def run(ctx) -> dict:
    results = {}
    for size in sorted(ctx.sizes):
        results[str(size)] = bench_size(ctx, size)
        print(f"[bench] extract {size}: {json.dumps(results[str(size)])}", flush=True)
    largest = results[str(ctx.largest)]
    return {
        "sizes": results,
        "target_ratio_max": TARGET_RATIO,
        "ratio_met": largest["ratio_to_reference"] <= TARGET_RATIO,
        "target_peak_rss_mb": TARGET_RSS_MB,
        "peak_rss_met": all(r["peak_rss_mb"] <= TARGET_RSS_MB for r in results.values()),
        "target_rerun_s": TARGET_RERUN_S,
        "rerun_met": all(r["rerun_no_change_s"] <= TARGET_RERUN_S for r in results.values()),
    }
