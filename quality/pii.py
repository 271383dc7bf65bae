"""Recognising personal data: by column name (sources.yaml personal_fields and their derived columns) and by
value shape (Indian mobile numbers, Aadhaar-like 12-digit numbers)."""

from __future__ import annotations

import re
from typing import Any

# Indian mobile: 10 digits starting 6-9, optionally +91/91/0 prefixed;
# Aadhaar: 12 digits, optionally grouped 4-4-4.
# Digits may be grouped ("98123 45678", "981-234-5678").
PHONE = re.compile(r"(?<!\d)(?:\+?91[\s-]?|0)?[6-9](?:[\s-]?\d){9}(?!\d)")
AADHAAR = re.compile(r"(?<!\d)\d{4}[\s-]?\d{4}[\s-]?\d{4}(?!\d)")
REDACTED = "[redacted]"


# Whole-value shapes, for scanning published columns (hashes and codes may contain digit runs, so only a value
# that is nothing but a phone or Aadhaar number counts there). RE2 syntax: the same in DuckDB and Python.
PHONE_VALUE = r"^\s*(\+?91[\s-]?|0)?[6-9]([\s-]?[0-9]){9}\s*$"
AADHAAR_VALUE = r"^\s*[0-9]{4}[\s-]?[0-9]{4}[\s-]?[0-9]{4}\s*$"


def looks_personal(value: Any) -> bool:
    """A value containing a phone- or Aadhaar-shaped part (masks failing samples; errs on the safe side)."""
    if not isinstance(value, str):
        return False
    return bool(PHONE.search(value) or AADHAAR.search(value))


def is_personal_column(column: str, personal: set[str] | frozenset[str]) -> bool:
    """`home_gps` covers home_gps_latitude, home_gps_longitude, ... (a geopoint's derived columns)."""
    return any(column == p or column.startswith(p + "_") for p in personal)


def scrub_record(record: dict[str, Any], personal: set[str] | frozenset[str]) -> dict[str, Any]:
    """A failing-sample row fit for dq history: personal columns dropped, phone/Aadhaar shapes masked."""
    return {
        k: (REDACTED if looks_personal(v) else v)
        for k, v in record.items()
        if not is_personal_column(k, personal)
    }
