"""Spreadsheet headers → column names: which row is the header, and what each header cell is called.

Names follow sangam.naming.snake_case, which romanizes Hindi and other scripts (`जन्म तिथि` →
`janma_tithi`), so a header gives the same name in every file and every month. A header with no letter or
digit (`#`, `—`) is named after its spreadsheet column (`column_c`). Two headers that read the same (`महीना`
and `Mahina`) keep the first name for the first column and a numbered one for the next (`mahina_2`, by
column order, skipping names that other headers have); each such rename is returned as a note so the run
can tell it.
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl.utils import get_column_letter

from sangam.naming import snake_case

HEADER_SCAN_ROWS = 30


class BadFile(Exception):
    """A file that cannot be loaded; the message is the quarantine reason."""


def is_blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def column_names(header: list, column_map: dict[str, str]) -> tuple[list[str | None], list[dict]]:
    """(one name per header cell, None for blank cells; notes on the headers renamed to stay unique)."""
    mapped = {snake_case(k): v for k, v in column_map.items()}
    base: list[str | None] = []
    for i, cell in enumerate(header):
        if is_blank(cell):
            base.append(None)
            continue
        text = str(cell).strip()
        name = column_map.get(text) or mapped.get(snake_case(text)) or snake_case(text)
        base.append(f"column_{get_column_letter(i + 1).lower()}" if name == "_" else name)
    taken = {n for n in base if n}
    first: dict[str, int] = {}
    names: list[str | None] = []
    notes: list[dict] = []
    for i, name in enumerate(base):
        if name is None or name not in first:
            if name is not None:
                first[name] = i
            names.append(name)
            continue
        k = 2
        while f"{name}_{k}" in taken:
            k += 1
        new = f"{name}_{k}"
        taken.add(new)
        names.append(new)
        j = first[name]
        notes.append(
            {
                "kind": "duplicate_name",
                "column_name": new,
                "detail": f"headers {str(header[j]).strip()!r} (column {get_column_letter(j + 1)}) and "
                f"{str(header[i]).strip()!r} (column {get_column_letter(i + 1)}) both read as {name}; "
                f"column {get_column_letter(i + 1)} is loaded as {new}",
            }
        )
    return names, notes


def find_header(rows: list[list], required: Sequence[str], column_map: dict[str, str]) -> int:
    """0-based index of the header row: the first row naming every required column, else the first row
    with the most distinct text cells (title rows, even merged across the sheet, have one)."""
    scan = rows[:HEADER_SCAN_ROWS]
    if required:
        for i, row in enumerate(scan):
            if set(required) <= set(filter(None, column_names(row, column_map)[0])):
                return i
    best, best_i = 0, None
    for i, row in enumerate(scan):
        texts = {str(v).strip() for v in row if isinstance(v, str) and v.strip()}
        if len(texts) > best:
            best, best_i = len(texts), i
    if best_i is None or best < 2:
        raise BadFile("no header row found in the first 30 rows")
    return best_i
