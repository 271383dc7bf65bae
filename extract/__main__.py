"""`python -m extract [--source NAME ...] [--check]`: load the configured sources into the warehouse."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from sangam.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extract", description=__doc__)
    parser.add_argument("--source", action="append", help="load only this source (repeatable)")
    parser.add_argument("--config", type=Path, help="sources.yaml (default $SANGAM_SOURCES or $SANGAM_HOME)")
    parser.add_argument("--warehouse", type=Path, help="DuckDB file (default warehouse.path)")
    parser.add_argument("--pipelines-dir", type=Path, help="dlt working dir (default next to the warehouse)")
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--pages-per-run", type=int, default=None,
                        help="commit every N pages of a big backlog (default 200)")  # fmt: skip
    parser.add_argument("--report-json", type=Path, help="also write the load report as JSON here")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress logs, only the summary")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"sources.yaml: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{config.config_path}: OK ({', '.join(config.source_names)})")
        return 0
    from extract.run import load_sources

    try:
        kwargs = {"pages_per_run": args.pages_per_run} if args.pages_per_run else {}
        report = load_sources(
            config,
            only=args.source,
            warehouse_path=args.warehouse,
            pipelines_dir=args.pipelines_dir,
            **kwargs,
        )
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(report.summary())
    if args.report_json:
        args.report_json.write_text(json.dumps({**report.as_dict(), "peak_rss_mb": _peak_rss_mb()}, indent=2))
    return 0 if report.ok else 1


def _peak_rss_mb() -> float | None:
    """This process's own peak RSS (Linux VmHWM; getrusage also counts the parent's memory at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    raise SystemExit(main())
