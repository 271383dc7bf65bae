"""Turn answers (as the servers send them) into typed Arrow arrays, vectorised where possible.

Both servers' rows are first reduced to `path → string` (KoBo already sends every answer as a string; ODK's
typed JSON is stringified by the ODK flattener), so one conversion path types both. A value that does not
parse as its declared type becomes null and is counted in `BadValues`, so one bad answer never fails a load.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from extract.schema import GEO_PARTS, FieldSpec, TableSpec

log = logging.getLogger("sangam.extract")

TS = pa.timestamp("us")


class BadValues(Counter):
    """(table, column) → number of values that did not parse as the form's type."""


def as_strings(values) -> pa.Array:
    """Raw answers (a Python list or an Arrow array already) as an Arrow string array."""
    if isinstance(values, pa.Array):
        return values if values.type == pa.string() else pc.cast(values, pa.string())
    return pa.array(values, pa.string())


def _per_value(values, parse, typ: pa.DataType, bad: BadValues | None, key) -> pa.Array:
    if isinstance(values, pa.Array):
        values = values.to_pylist()
    out = []
    n_bad = 0
    for v in values:
        if v is None or v == "":
            out.append(None)
            continue
        try:
            out.append(parse(v))
        except (ValueError, TypeError, OverflowError):
            out.append(None)
            n_bad += 1
    if n_bad and bad is not None:
        bad[key] += n_bad
    return pa.array(out, typ)


def _parse_int(v: str) -> int:
    f = float(v)
    if f != int(f):
        raise ValueError(v)
    return int(f)


def _parse_ts(v: str) -> datetime:
    s = str(v).strip().replace(" ", "T", 1)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.fromisoformat(s)
    if d.tzinfo is not None:
        d = d.astimezone(UTC).replace(tzinfo=None)
    return d


def _parse_date(v: str) -> date:
    s = str(v).strip()
    try:
        return date.fromisoformat(s[:10])
    except ValueError:
        return _parse_ts(s).date()


def to_timestamp(values: list, bad: BadValues | None = None, key=None) -> pa.Array:
    """ISO strings (naive = UTC, or with an offset) → naive UTC timestamp[us]."""
    arr = as_strings(values)
    casts = [lambda: pc.cast(arr, TS), lambda: pc.cast(pc.cast(arr, pa.timestamp("us", "UTC")), TS)]
    if _zoned(arr):  # a failed cast costs ~20x a good one: try the likely one first
        casts.reverse()
    for cast in casts:
        try:
            return cast()
        except pa.ArrowInvalid:
            pass
    return _per_value(values, _parse_ts, TS, bad, key)


_ZONE = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def _zoned(arr: pa.Array) -> bool:
    """Whether the first answer carries a zone (KoBo's start/end do, `_submission_time` does not)."""
    first = next((v for v in arr.slice(0, 16).to_pylist() if v), None)
    return bool(first and _ZONE.search(first.strip()))


def typed_arrays(f: FieldSpec, values: list, bad: BadValues | None = None) -> list[tuple[str, pa.Array]]:
    """The column(s) of one question from its raw string answers."""
    key = (f.table, f.column)
    t = f.type
    if t == "geopoint":
        arr = as_strings(values)
        parts = pc.utf8_split_whitespace(arr)
        out = []
        for i, part in enumerate(GEO_PARTS):
            raw = pc.list_element(pc.if_else(pc.greater(pc.list_value_length(parts), i), parts, None), i)
            try:
                col = pc.cast(raw, pa.float64())
            except pa.ArrowInvalid:
                col = _per_value(raw.to_pylist(), float, pa.float64(), bad, key)
            out.append((f"{f.column}_{part}", col))
        return out
    if t == "select_multiple":
        arr = as_strings(values)
        return [(f.column, arr), (f"{f.column}_list", pc.utf8_split_whitespace(arr))]
    ((_, typ),) = f.columns()
    if typ == pa.string():
        return [(f.column, as_strings(values))]
    if typ == TS:
        return [(f.column, to_timestamp(values, bad, key))]
    arr = as_strings(values)
    try:
        return [(f.column, pc.cast(arr, typ))]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parse = {pa.int64(): _parse_int, pa.float64(): float, pa.date32(): _parse_date}[typ]
        return [(f.column, _per_value(values, parse, typ, bad, key))]


def build_table(
    spec: TableSpec,
    system: dict[str, pa.Array | list],
    answers: dict[str, list],
    extras: dict[str, list],
    n: int,
    bad: BadValues | None = None,
) -> pa.Table:
    """Assemble one table: system columns, every known question (null-filled), then unknown fields."""
    names: list[str] = []
    arrays: list[pa.Array] = []
    base = spec.arrow_fields()
    base_types = dict(base)
    for name, value in system.items():
        names.append(name)
        arrays.append(
            value if isinstance(value, pa.Array) else pa.array(value, base_types.get(name, pa.string()))
        )
    taken = set(names)
    for f in spec.fields:
        vals = answers.get(f.path)
        if vals is None:
            vals = [None] * n
        for col, arr in typed_arrays(f, vals, bad):
            if col not in taken:
                names.append(col)
                arrays.append(arr)
                taken.add(col)
    for col, vals in extras.items():
        if col not in taken:
            names.append(col)
            arrays.append(pa.array(vals, pa.string()))
            taken.add(col)
    return pa.Table.from_arrays(arrays, names=names)
