"""HMIS-style monthly CSV exports for public health systems, from marts.mart_hmis_monthly."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import duckdb

log = logging.getLogger("sangam.transform")
COLUMNS = ["state", "district", "month", "indicator_code", "indicator_name", "value"]


def write_hmis_csv(
    warehouse_path: Path | str, exports_dir: Path | str, months: list[str] | None = None
) -> list[Path]:
    """Write exports_dir/hmis_<YYYY-MM>.csv for every month in mart_hmis_monthly (or only `months`).

    Each file is written to a temp name and renamed, so a reader never sees half a file. Returns the paths.
    """
    exports = Path(exports_dir)
    exports.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        rows = con.execute(
            """
            select state, district, strftime(month, '%Y-%m') as ym, indicator_code, indicator_name, value
            from marts.mart_hmis_monthly
            order by ym, state, district, indicator_code
            """
        ).fetchall()
    by_month: dict[str, list[tuple]] = {}
    for state, district, ym, code, name, value in rows:
        by_month.setdefault(ym, []).append((state, district, f"{ym}-01", code, name, value))
    wanted = set(months) if months else set(by_month)
    written: list[Path] = []
    for ym in sorted(wanted & set(by_month)):
        path = exports / f"hmis_{ym}.csv"
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(COLUMNS)
            for state, district, month, code, name, value in by_month[ym]:
                writer.writerow([state, district, month, code, name, "" if value is None else f"{value:g}"])
        os.replace(tmp, path)
        written.append(path)
    log.info("wrote %d HMIS export files to %s", len(written), exports)
    return written
