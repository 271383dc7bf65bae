"""Scan a DuckDB file for personal data: column names named after personal fields, and a sample of values that
equal a personal value from the raw data (names, phones, Aadhaar numbers, exact home GPS coordinates) or have
the shape of a phone or Aadhaar number."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from quality.pii import AADHAAR_VALUE, PHONE_VALUE, is_personal_column

SAMPLE_ROWS = 5000


@dataclass
class PersonalValues:
    texts: set[str] = field(default_factory=set)  # names, phone and Aadhaar numbers, lower-cased
    coordinates: set[float] = field(
        default_factory=set
    )  # home GPS latitudes and longitudes, rounded to 6 places


def personal_values_from_raw(warehouse: Path, personal_fields: set[str]) -> PersonalValues:
    """Every personal value held in the raw schemas (the columns named after personal fields)."""
    found = PersonalValues()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema LIKE 'raw%'"
        ).fetchall()
        for schema, table, column, dtype in columns:
            if not is_personal_column(column, personal_fields) or column.endswith(("_altitude", "_accuracy")):
                continue
            values = con.execute(
                f'SELECT DISTINCT "{column}" FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL'
            )
            for (value,) in values.fetchall():
                if dtype == "DOUBLE":
                    # An exact coordinate has several decimals; 0.0 or 18.5 would also match ordinary numbers.
                    if round(value, 3) != value:
                        found.coordinates.add(round(value, 6))
                elif isinstance(value, str) and value.strip():
                    found.texts.add(value.strip().lower())
    return found


def scan(db: Path, personal_fields: set[str], known: PersonalValues) -> list[str]:
    """Findings as readable strings; empty when the file holds no personal data."""
    findings: list[str] = []
    phone, aadhaar = re.compile(PHONE_VALUE), re.compile(AADHAAR_VALUE)
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        for table in tables:
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
            findings += [
                f"{table}.{c}: personal column name"
                for c, _ in cols
                if is_personal_column(c, personal_fields)
            ]
            df = con.execute(f'SELECT * FROM "{table}" USING SAMPLE {SAMPLE_ROWS} ROWS').df()
            for column, dtype in cols:
                for value in df[column].dropna().tolist():
                    if dtype == "DOUBLE" and round(float(value), 6) in known.coordinates:
                        findings.append(f"{table}.{column}: home GPS coordinate {value}")
                    elif isinstance(value, str):
                        v = value.strip()
                        if v.lower() in known.texts or phone.match(v) or aadhaar.match(v):
                            findings.append(f"{table}.{column}: personal value {v!r}")
    return findings
