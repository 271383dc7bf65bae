"""Survey-server pages read straight into Arrow, and batched for dlt.

`read_rows` parses a page body (one JSON object) with Arrow's JSON reader against the form's layout, in C++
and without the GIL; `batches` joins consecutive pages: those parsed into Arrow with one layout become one
struct array (few, large tables load fastest), pages kept as dicts (odd data) one list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import pyarrow as pa
import pyarrow.json as pa_json


def read_rows(
    raw: bytes, layout: pa.Schema, rows_key: str, id_key: str
) -> tuple[pa.Table, pa.StructArray] | None:
    """(the page, its `rows_key` list as a struct array), or None when the body does not fit the layout (a
    value of another type, a row without `id_key`): the caller then takes its per-row path. Fields the
    layout does not name are inferred, for the caller to keep or refuse."""
    try:
        table = pa_json.read_json(
            pa.BufferReader(raw),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=max(1 << 20, len(raw) + 1)),
            parse_options=pa_json.ParseOptions(explicit_schema=layout, unexpected_field_behavior="infer"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != 1 or table.column(rows_key).null_count:
        return None
    rows = table.column(rows_key).chunk(0).flatten()
    if not isinstance(rows, pa.StructArray) or rows.field(id_key).null_count:
        return None
    return table, rows


class Page(Protocol):
    arrow: pa.StructArray | None
    rows: list[dict] | None

    @property
    def n(self) -> int: ...


def batches(pages: Sequence[Page]) -> Iterator[pa.StructArray | list[dict]]:
    group: list[Page] = []
    for page in pages:
        if not page.n:
            continue
        if group and not _same_kind(group[-1], page):
            yield _joined(group)
            group = []
        group.append(page)
    if group:
        yield _joined(group)


def _same_kind(a: Page, b: Page) -> bool:
    if a.arrow is None or b.arrow is None:
        return a.arrow is None and b.arrow is None
    return a.arrow.type == b.arrow.type


def _joined(group: list[Page]) -> pa.StructArray | list[dict]:
    if group[0].arrow is None:
        return [r for p in group for r in p.rows or []]
    return pa.concat_arrays([p.arrow for p in group]) if len(group) > 1 else group[0].arrow
