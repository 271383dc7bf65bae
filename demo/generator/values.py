"""Turn typed answer columns into what each server emits: KoBo strings, ODK typed JSON values."""

from __future__ import annotations

import numpy as np

from demo.generator.forms import Question


def _finite(col: np.ndarray) -> np.ndarray:
    return np.isfinite(col)


def kobo_strings(q: Question, table: dict[str, np.ndarray]) -> list:
    """Every KoBo answer is a string; unanswered is None (the key is then omitted)."""
    if q.type == "geopoint":
        lat, lon, alt, acc = (table[f"{q.name}_{p}"] for p in ("lat", "lon", "alt", "acc"))
        ok = _finite(lat)
        return [
            f"{a} {b} {c} {d}" if k else None
            for a, b, c, d, k in zip(
                lat.tolist(), lon.tolist(), alt.tolist(), acc.tolist(), ok.tolist(), strict=True
            )
        ]
    col = table[q.name]
    if col.dtype.kind == "M":
        text = np.datetime_as_string(col.astype("datetime64[D]"))
        return [t if t != "NaT" else None for t in text.tolist()]
    if col.dtype.kind == "f":
        if q.type in ("integer", "calculate"):
            return [str(int(v)) if v == v else None for v in col.tolist()]
        return [f"{v:g}" if v == v else None for v in col.tolist()]
    return col.tolist()


def odk_values(q: Question, table: dict[str, np.ndarray]) -> list:
    """ODK Central OData values: numbers typed (JavaScript formatting), dates as text, missing as null."""
    col = table[q.name]
    if col.dtype.kind == "M":
        text = np.datetime_as_string(col.astype("datetime64[D]"))
        return [t if t != "NaT" else None for t in text.tolist()]
    if col.dtype.kind == "f":
        if q.type == "integer":
            return [int(v) if v == v else None for v in col.tolist()]
        if q.type == "decimal":
            return [(int(v) if v == int(v) else v) if v == v else None for v in col.tolist()]
        return [str(int(v)) if v == v else None for v in col.tolist()]
    return col.tolist()


def local_times(col: np.ndarray) -> list:
    """Device-local dateTime as ODK Collect and Enketo record it (India, +05:30)."""
    text = np.datetime_as_string(col.astype("datetime64[ms]"))
    return [t + "+05:30" for t in text.tolist()]


def utc_seconds(col: np.ndarray) -> list:
    """KoBo `_submission_time`: UTC, seconds, no timezone designator."""
    return np.datetime_as_string(col.astype("datetime64[s]")).tolist()


def utc_millis(col: np.ndarray) -> list:
    """ODK Central timestamps: JavaScript toISOString(), UTC with milliseconds and Z; NaT → null."""
    text = np.datetime_as_string(col.astype("datetime64[ms]"))
    return [t + "Z" if t != "NaT" else None for t in text.tolist()]
