"""python -m quality check [--stage raw|marts|all] [--docs] [--publish] | docs [--serve] [--port N]
| accept-row-counts [TABLE ...] --reason TEXT"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from quality.docs import DOCS_DIR, serve, site_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quality", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run the quality checks (and publish when they pass)")
    check.add_argument("--stage", choices=["raw", "marts", "all"], default="all")
    check.add_argument("--docs", action="store_true", help="also store results and rebuild GX Data Docs")
    check.add_argument(
        "--publish", action="store_true", help="publish serving.duckdb if no blocking check failed"
    )
    docs = sub.add_parser("docs", help="build GX Data Docs from a check run, optionally serve them")
    docs.add_argument("--serve", action="store_true")
    docs.add_argument("--host", default="127.0.0.1")
    docs.add_argument("--port", type=int, default=8082)
    docs.add_argument("--dir", type=Path, default=DOCS_DIR)
    accept = sub.add_parser("accept-row-counts", help="make current mart row counts the new baseline")
    accept.add_argument("tables", nargs="*", help="e.g. mart_hmis_monthly (default: every checked mart)")
    accept.add_argument("--reason", required=True, help="why the drop is legitimate (kept in dq history)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    from quality.settings import load_settings

    settings = load_settings()
    if not settings.warehouse_path.exists():
        print(
            f"no warehouse at {settings.warehouse_path}: run the pipeline first (make demo)", file=sys.stderr
        )
        return 2
    from quality.checks import accept_row_counts, run_checks

    if args.command == "accept-row-counts":
        for table, rows in accept_row_counts(
            settings.warehouse_path, args.tables, reason=args.reason
        ).items():
            print(f"{table}: baseline {rows} rows")
        return 0
    if args.command == "docs":
        for stage in ("raw", "marts"):
            run_checks(settings.warehouse_path, settings, stage, docs_dir=args.dir)
        print(f"GX Data Docs built in {site_dir(args.dir)}")
        if args.serve:
            serve(args.dir, args.host, args.port)
        return 0

    stages = ["raw", "marts"] if args.stage == "all" else [args.stage]
    reports = [
        run_checks(settings.warehouse_path, settings, s, docs_dir=DOCS_DIR if args.docs else None)
        for s in stages
    ]
    for report in reports:
        print(report.summary())
    if args.publish:
        from quality.publish import PublishError, publish

        try:
            result = publish(settings, reports)
        except PublishError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"published {len(result.tables)} tables to {result.serving_path}")
    return 0 if all(r.passed for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
