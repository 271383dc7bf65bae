"""Pages of one form into batches for dlt: consecutive pages parsed into Arrow with one layout become one
struct array (few, large tables load fastest), pages kept as dicts (odd data) one list."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import pyarrow as pa


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
