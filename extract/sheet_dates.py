"""Dates in spreadsheets as people type them: Excel date cells, Excel serial numbers, and text dates in the
file's configured order (`date_order`: dmy, the Indian default, mdy or ymd).

A column becomes DATE when its name says it holds dates (English or romanized Hindi words: date, dob, tithi,
tarikh, dinank, …) and most of its values read as dates, or, whatever its name, when nearly all of its values
are text dates. The values that do not read as dates are null in the DATE column, and counted with their row
numbers so the run can say which cells to fix (the file itself keeps what was typed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (after its 1900 leap-year bug)
SERIAL_RANGE = (20_000, 80_000)  # 1954 … 2119: a number here in a date-named column is an Excel serial
YEAR_RANGE = (1900, 2100)
# Name words that mean "date" (romanized by sangam.naming: तिथि tithi, तारीख tarikha, दिनांक dinamka).
DATE_WORDS = {"date", "dated", "dob", "tithi", "tarikh", "tarikha", "tareekh", "dinank", "dinanka", "dinamka"}
DATE_SUFFIXES = ("_start", "_on", "_at")
# A date-named column is DATE when more than half its values are dates; any other column when this share is.
TEXT_DATE_SHARE = 0.8

_MONTHS = {
    name: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for name in names
}  # fmt: skip
# 15/08/2024, 15-08-24, 2024.08.15, 15-Aug-2024, 15 August 2024; an optional midnight time (Excel CSV exports)
_TEXT_DATE = re.compile(
    r"^(\d{1,4})([/\-. ])(\d{1,2}|[A-Za-z]{3,9})\2(\d{2,4})(?:[ T]00:00(?::00(?:\.0+)?)?)?$"
)


def date_named(name: str) -> bool:
    parts = name.split("_")
    return bool(DATE_WORDS & set(parts)) or name.startswith("date") or name.endswith(("date", *DATE_SUFFIXES))


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:  # POSIX strptime's %y rule
        return y + (2000 if y < 69 else 1900)
    return y


def text_date(value: str, order: str) -> date | None:
    """A text date in `order` (a 4-digit first part is always year-month-day), or None."""
    m = _TEXT_DATE.match(value.strip())
    if not m:
        return None
    a, _, b, c = m.groups()
    if b.isalpha():
        month = _MONTHS.get(b.lower())
        if month is None or len(a) > 2:
            return None
        d, mo, y = int(a), month, _year(c)
    elif len(a) == 4:
        y, mo, d = int(a), int(b), int(c)
        if len(c) > 2:
            return None
    elif len(a) == 3 or len(c) == 3:
        return None
    elif order == "dmy":
        d, mo, y = int(a), int(b), _year(c)
    elif order == "mdy":
        mo, d, y = int(a), int(b), _year(c)
    else:  # ymd with a 2-digit year
        y, mo, d = _year(a), int(b), int(c)
        if len(c) > 2:
            return None
    if not YEAR_RANGE[0] <= y <= YEAR_RANGE[1]:
        return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def serial_date(value: object) -> date | None:
    """An Excel serial (a whole number, or its text as a CSV holds it) as a date, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        s = value.strip()
        if not s.isdigit():
            return None
        value = int(s)
    if isinstance(value, float) and value != int(value):
        return None
    if isinstance(value, int | float) and SERIAL_RANGE[0] <= value <= SERIAL_RANGE[1]:
        return EXCEL_EPOCH + timedelta(days=int(value))
    return None


def read_date(value: object, order: str, serials: bool) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        parsed = text_date(value, order)
        if parsed is not None:
            return parsed
    return serial_date(value) if serials else None


@dataclass
class DateColumn:
    values: list[date | None]  # one per input value; None for blanks and for values that are not dates
    unparsed_rows: list[int]  # the sheet row numbers of the values that are not dates


def date_column(values: list, rows: list[int], name: str, order: str, text_named: bool) -> DateColumn | None:
    """The column as dates if it is a date column (see the module doc), else None. `rows`: the sheet row
    number of each value."""
    named = date_named(name)
    parsed: list[date | None] = []
    unparsed: list[int] = []
    present = 0
    for v, row in zip(values, rows, strict=True):
        if v is None or (isinstance(v, str) and not v.strip()):
            parsed.append(None)
            continue
        present += 1
        d = read_date(v, order, serials=named and not text_named)
        parsed.append(d)
        if d is None:
            unparsed.append(row)
    dates = present - len(unparsed)
    if not dates:
        return None
    if named and dates * 2 > present or dates >= TEXT_DATE_SHARE * present:
        return DateColumn(parsed, unparsed)
    return None
