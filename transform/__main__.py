"""`python -m transform build|parse|staging|export|programs`: the transform step from the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from transform.dbt_runner import build, parse
from transform.exports import write_hmis_csv
from transform.generate_staging import default_warehouse, generate


def _exports_dir() -> Path:
    import os

    home = Path(os.environ.get("SANGAM_HOME", Path(__file__).resolve().parent.parent))
    try:
        from sangam.config import load_config

        return home / load_config().warehouse.exports_dir
    except Exception:  # no loadable sources.yaml: the documented default
        return home / "warehouse" / "exports"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transform", description=__doc__)
    parser.add_argument("command", choices=["build", "parse", "staging", "export", "programs"])
    parser.add_argument(
        "--warehouse", type=Path, default=None, help="DuckDB file (default: the configured one)"
    )
    parser.add_argument("--select", default=None, help="dbt selection for build")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warehouse = args.warehouse or default_warehouse()
    if args.command == "programs":
        from sangam.config import load_config
        from transform.programs import program_status

        for status in program_status(load_config(require_secrets=False)):
            print(status.describe())
        return 0
    if args.command == "parse":
        return 0 if parse().success else 1
    if args.command == "staging":
        print(f"wrote {len(generate(warehouse))} files")
        return 0
    if args.command == "export":
        paths = write_hmis_csv(warehouse, _exports_dir())
        print(f"wrote {len(paths)} HMIS files to {_exports_dir()}")
        return 0
    result = build(warehouse, args.select)
    if not result.success:
        print("\n".join(result.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
