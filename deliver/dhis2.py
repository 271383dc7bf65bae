"""`python -m deliver.dhis2 {export,push,check}`: DHIS2 dataValueSets from the published serving marts.

  export [--period YYYYMM] [--out DIR]   JSON (a set per org unit) and CSV, default warehouse/exports/dhis2
  push [--period YYYYMM] [--force]       dry run, then import, to the server of the mapping
  check                                  the mapping against the server's metadata; sends no data

Without --period: the last complete month of the mart. --mapping (or SANGAM_DHIS2_MAPPING) picks another
mapping file. Exit code 0 on success, 1 when DHIS2 refused or the data is missing, 2 on a mapping error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from deliver.dhis2_client import Dhis2Client, Dhis2Error
from deliver.dhis2_export import ExportError, last_complete_month, parse_period, write_export
from deliver.dhis2_mapping import load_mapping
from deliver.dhis2_push import check_metadata, push
from sangam.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deliver.dhis2",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["export", "push", "check"])
    parser.add_argument("--period", help="month as YYYYMM (default: the last complete month)")
    parser.add_argument("--force", action="store_true", help="overwrite a month complete on the server")
    parser.add_argument("--mapping", type=Path, help="the mapping file (default transform/deliveries/…)")
    parser.add_argument("--config", type=Path, help="sources.yaml (for the serving warehouse's path)")
    parser.add_argument("--out", type=Path, help="export folder (default <exports_dir>/dhis2)")
    parser.add_argument("--json", action="store_true", help="print the push result as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        mapping = load_mapping(args.mapping)
        config = load_config(args.config, require_secrets=False)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    serving = config.warehouse.serving_path
    try:
        if args.command == "check":
            with Dhis2Client(mapping.server) as client:
                client.check_login()
                meta = check_metadata(client, mapping)
            print(
                f"{mapping.path.name} matches DHIS2 at {mapping.server.url}: data set {meta.data_set_uid}, "
                f"{len(mapping.data_elements)} data elements, {len(meta.org_unit_uids)} organisation units"
            )
            for w in meta.warnings:
                print(f"warning: {w}")
            return 0
        period = parse_period(args.period) if args.period else last_complete_month(serving, mapping)
        if args.command == "export":
            out = args.out or config.warehouse.exports_dir / "dhis2"
            written = write_export(mapping, serving, out, period)
            print(f"DHIS2 export of {period}: {len(written)} files in {out}")
            return 0
        result = push(mapping, serving, period, force=args.force)
        print(json.dumps(result.as_dict(), indent=2) if args.json else result.text())
        return 0
    except ConfigError as exc:  # a credential variable not set
        print(str(exc), file=sys.stderr)
        return 2
    except (Dhis2Error, ExportError) as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
