"""Spreadsheet folders (CSV and XLSX) as a dlt source: one resource per configured file pattern.

Real spreadsheets are messy: title rows above the header (detected, or set with header_row), merged cells
(their value fills the whole range), headers in Hindi or renamed between months (sheet_headers, column_map),
Excel date serials and day-first text dates (sheet_dates), trailing blank rows. Only new or changed files are
read (content hash in dlt state); a changed file replaces its own rows. A file that cannot be read or lacks
required columns is recorded in `_sangam_quarantine` with the reason, and the other files still load; values
that are not dates and renamed headers are recorded in `_sangam_sheet_notes` (sheet_status says what is
current).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

import dlt
import pyarrow as pa

from extract.sheet_dates import date_column
from extract.sheet_headers import BadFile, column_names, find_header
from extract.sheet_headers import is_blank as _is_blank
from extract.sheet_status import FILE_REMOVED, NOTES_SCHEMA, NOTES_TABLE, UNPARSED_DATE, row_list
from extract.tables import (
    QUARANTINE_TABLE,
    append_table,
    column_hints,
    loads_rows,
    new_run_id,
    not_null,
    utcnow,
)

__all__ = ["BadFile", "ParsedFile", "find_header", "parse_file", "read_rows", "spreadsheet_source"]

log = logging.getLogger("sangam.extract")

QUARANTINE_SCHEMA = pa.schema(
    [("file", pa.string()), ("reason", pa.string()), ("row", pa.int64()), ("detected_at", pa.timestamp("us")),
     ("content_hash", pa.string()), ("table_name", pa.string())]
)  # fmt: skip


def read_rows(path: Path, sheet: str | None = None) -> list[list]:
    """All rows of a CSV or of one XLSX worksheet, merged ranges filled with their top-left value."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, data_only=True)
        except Exception as exc:  # zip, XML or openpyxl errors: all mean unreadable
            raise BadFile(f"unreadable: {type(exc).__name__}: {exc}") from exc
        try:
            ws = wb[sheet] if sheet else wb.worksheets[0]
        except KeyError as exc:
            raise BadFile(f"no worksheet named {sheet!r} (has: {', '.join(wb.sheetnames)})") from exc
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        for rng in ws.merged_cells.ranges:
            value = ws.cell(rng.min_row, rng.min_col).value
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    if r - 1 < len(rows) and c - 1 < len(rows[r - 1]):
                        rows[r - 1][c - 1] = value
        wb.close()
        return rows
    if suffix in (".csv", ".tsv", ".txt"):
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise BadFile("unreadable: not UTF-8 or Windows-1252 text")
        if "\x00" in text:
            raise BadFile("unreadable: binary content in a text file")
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        try:
            return [list(r) for r in csv.reader(io.StringIO(text), dialect)]
        except csv.Error as exc:
            raise BadFile(f"unreadable: {exc}") from exc
    raise BadFile(f"unsupported file type {suffix or '(none)'}")


def _column(values: list, rows: list[int], name: str, date_order: str) -> tuple[pa.Array, list[int]]:
    """Infer one column's type: integers, numbers, dates (Excel date cells, Excel serials in date-named
    columns, text dates in `date_order`), timestamps, booleans; anything mixed stays text. Returns the
    column and the sheet rows of the values a DATE column could not read (they are null in it)."""
    present = [v for v in values if not _is_blank(v)]
    if not present:
        return pa.array([None] * len(values), pa.string()), []
    if all(isinstance(v, bool) for v in present):
        return pa.array([None if _is_blank(v) else v for v in values], pa.bool_()), []
    if all(isinstance(v, datetime | date) for v in present):
        if all(not isinstance(v, datetime) or v.time() == datetime.min.time() for v in present):
            return pa.array([None if _is_blank(v) else _as_date(v) for v in values], pa.date32()), []
        return pa.array([None if _is_blank(v) else v for v in values], pa.timestamp("us")), []
    dates = date_column(values, rows, name, date_order, text_named=_text_named(name))
    if dates is not None:
        return pa.array(dates.values, pa.date32()), dates.unparsed_rows
    nums = [_number(v) for v in present]
    if all(n is not None for n in nums) and not _text_named(name):
        if all(
            n == int(n) and abs(n) < 2**62 and not _has_fraction(v)
            for n, v in zip(nums, present, strict=True)
        ):
            return pa.array([None if _is_blank(v) else int(_number(v)) for v in values], pa.int64()), []
        return pa.array([None if _is_blank(v) else float(_number(v)) for v in values], pa.float64()), []
    return pa.array([None if _is_blank(v) else _text(v) for v in values], pa.string()), []


def _as_date(v: date | datetime) -> date:
    return v.date() if isinstance(v, datetime) else v


def _number(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        s = v.strip().replace(",", "") if v.strip().count(",") and "." in v else v.strip()
        if s[:1] == "0" and len(s) > 1 and s[1:2].isdigit():
            return None  # leading zeros (phone numbers, codes) are text
        try:
            return float(s)
        except ValueError:
            return None
    return None


def _has_fraction(v: object) -> bool:
    return isinstance(v, float) or (isinstance(v, str) and "." in v)


def _text(v: object) -> str:
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v).strip()


def _text_named(name: str) -> bool:
    """Identifiers that look numeric (phone, Aadhaar, PIN, codes) stay text."""
    parts = set(name.split("_"))
    return bool(parts & {"id", "phone", "mobile", "aadhaar", "code", "pin", "pincode", "msisdn", "uid"})


class ParsedFile(NamedTuple):
    table: pa.Table
    issues: list[dict]  # rows left out: {row, reason} (row-level quarantine)
    notes: list[dict]  # {kind, column_name, count?, rows?, detail?}: what was loaded, but not as typed


def parse_file(path: Path, rel: str, spec: dict, loaded_at: datetime) -> ParsedFile:
    """One file → its table, row-level quarantine records and notes. Raises BadFile for a file-level
    problem."""
    rows = read_rows(path, spec.get("sheet"))
    if not any(not all(_is_blank(v) for v in r) for r in rows):
        raise BadFile("empty file")
    column_map = spec.get("column_map") or {}
    required = list(spec.get("required_columns") or [])
    header_row = spec.get("header_row")
    h = header_row - 1 if header_row else find_header(rows, required, column_map)
    if h >= len(rows):
        raise BadFile(f"header_row {header_row} is past the end of the file ({len(rows)} rows)")
    names, notes = column_names(rows[h], column_map)
    missing = [c for c in required if c not in names]
    if missing:
        found = ", ".join(n for n in names if n) or "none"
        raise BadFile(f"missing required columns: {', '.join(missing)} (header row {h + 1} has: {found})")
    data: list[tuple[int, list]] = []
    issues: list[dict] = []
    idx = {n: i for i, n in enumerate(names) if n}
    for line, r in enumerate(rows[h + 1 :], start=h + 2):
        if all(_is_blank(v) for v in r):
            continue  # blank and trailing rows
        empty = [c for c in required if idx[c] >= len(r) or _is_blank(r[idx[c]])]
        if empty and len(empty) == len(required):
            continue  # a footer or note row
        if empty:
            issues.append({"row": line, "reason": f"required column(s) empty: {', '.join(empty)}"})
            continue
        data.append((line, r))
    lines = [line for line, _ in data]
    cols: dict[str, pa.Array] = {}
    order = spec.get("date_order") or "dmy"
    for name, i in idx.items():
        values = [r[i] if i < len(r) else None for _, r in data]
        if not values and name not in required:
            continue  # no rows to type it by: a later file's rows will
        cols[name], unparsed = _column(values, lines, name, order)
        if unparsed:
            notes.append({"kind": UNPARSED_DATE, "column_name": name, "count": len(unparsed),
                          "rows": row_list(unparsed)})  # fmt: skip
            log.warning("%s: %s: %d values not read as dates (date_order %s; rows %s)", rel, name,
                        len(unparsed), order, row_list(unparsed))  # fmt: skip
    n = len(data)
    cols["_source_file"] = pa.array([rel] * n, pa.string())
    cols["_source_row"] = pa.array(lines, pa.int64())
    cols["_loaded_at"] = pa.array([loaded_at] * n, pa.timestamp("us"))
    return ParsedFile(pa.Table.from_pydict(cols), issues, notes)


def _hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dlt.source(name="sheets", max_table_nesting=0)
def spreadsheet_source(
    path: str = dlt.config.value,
    files: Sequence[dict] = dlt.config.value,
    source_name: str = "sheets",
    run_id: str | None = None,
    force: bool = False,
):
    """Spreadsheet files under `path` (`files`: [{pattern, table, header_row, required_columns, column_map,
    sheet, date_order}]) → one resource per table; `force` re-reads unchanged files."""
    run_id = run_id or new_run_id(source_name)
    for spec in files:
        yield dlt.resource(_sheet_rows, name=spec["table"], max_table_nesting=0)(
            folder=path, spec=dict(spec), source_name=source_name, run_id=run_id, force=force
        )


def _sheet_rows(folder: str, spec: dict, source_name: str, run_id: str | None, force: bool) -> Iterator:
    state = dlt.current.resource_state()
    hashes: dict[str, str] = state.setdefault("file_hashes", {})
    base = Path(folder)
    table = spec["table"]
    started, t0 = utcnow(), time.perf_counter()
    if not base.is_dir():
        raise FileNotFoundError(f"{source_name}: spreadsheet folder not found: {base}")
    matches = sorted(
        p for p in base.glob(spec["pattern"]) if p.is_file() and not p.name.startswith(("~$", "."))
    )
    rows_loaded = 0
    files_read = 0
    quarantine: list[dict] = []
    notes: list[dict] = []
    present = {p.relative_to(base).as_posix() for p in matches}
    for rel in sorted(set(hashes) - present):
        # gone from the folder: whatever the file's last load said about it no longer stands
        notes.append({"file": rel, "table_name": table, "kind": FILE_REMOVED, "detected_at": utcnow(),
                      "content_hash": hashes.pop(rel), "detail": "no longer in the folder"})  # fmt: skip
    for p in matches:
        rel = p.relative_to(base).as_posix()
        digest = _hash(p)
        if not force and hashes.get(rel) == digest:
            continue
        files_read += 1
        now = utcnow()
        try:
            tbl, issues, file_notes = parse_file(p, rel, spec, now)
        except BadFile as exc:
            log.warning("%s/%s: %s quarantined: %s", source_name, table, rel, exc)
            quarantine.append(_quarantined(rel, str(exc), None, now, digest, table))
            hashes[rel] = digest
            continue
        for issue in issues:
            quarantine.append(_quarantined(rel, issue["reason"], issue["row"], now, digest, table))
        for note in file_notes:
            # detected_at = the rows' _loaded_at: the notes stand until the file is loaded again
            notes.append(
                {**note, "file": rel, "table_name": table, "detected_at": now, "content_hash": digest}
            )
        tbl = not_null(tbl, "_source_file")
        rows_loaded += tbl.num_rows
        # a changed file replaces exactly its own earlier rows
        yield dlt.mark.with_hints(
            tbl,
            dlt.mark.make_hints(
                table_name=table,
                write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                merge_key="_source_file",
                columns=column_hints(tbl),
            ),
            create_table_variant=True,
        )
        hashes[rel] = digest
        log.info("%s/%s: %s: %d rows", source_name, table, rel, tbl.num_rows)
    if quarantine:
        yield append_table(pa.Table.from_pylist(quarantine, schema=QUARANTINE_SCHEMA), QUARANTINE_TABLE)
    if notes:
        yield append_table(pa.Table.from_pylist(notes, schema=NOTES_SCHEMA), NOTES_TABLE)
    duration = round(time.perf_counter() - t0, 3)
    yield loads_rows(
        [
            {
                "load_id": run_id, "source": source_name, "form": table, "table_name": table,
                "rows": rows_loaded, "pages": files_read, "started_at": started, "finished_at": utcnow(),
                "duration_s": duration, "cursor": None, "status": "ok", "error": None,
            }
        ]
    )  # fmt: skip


def _quarantined(rel: str, reason: str, row: int | None, now: datetime, digest: str, table: str) -> dict:
    return {
        "file": rel, "reason": reason, "row": row, "detected_at": now, "content_hash": digest,
        "table_name": table,
    }  # fmt: skip
