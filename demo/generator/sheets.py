"""The spreadsheets people really keep, with their mess: title rows above the header, merged cells,
Excel date serials, trailing blank rows, and a header renamed between a partner's monthly files."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from demo.generator import geography as geo
from demo.generator.forms import FIXED_STAMP, deterministic_xlsx_bytes
from demo.generator.world import World, rng_for

EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (after its 1900 leap-year bug)
PARTNER_DISTRICTS = ("UP_LKO", "UP_VNS", "UP_GKP", "BR_PAT", "BR_MZP")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
THIN = Border(bottom=Side(style="thin"))


def excel_serial(d: date) -> int:
    return (d - EXCEL_EPOCH).days


def months_between(first: date, last: date) -> list[date]:
    out, cur = [], date(first.year, first.month, 1)
    while cur <= last:
        out.append(cur)
        cur = date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
    return out


def _title(ws, rows: list[str], width: int) -> None:
    for i, text in enumerate(rows, start=1):
        ws.cell(row=i, column=1, value=text).font = Font(bold=i == 1, size=14 if i == 1 else 11)
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=width)
        ws.cell(row=i, column=1).alignment = Alignment(horizontal="center")


def _header(ws, row: int, names: list[str]) -> None:
    for c, name in enumerate(names, start=1):
        cell = ws.cell(row=row, column=c, value=name)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        ws.column_dimensions[get_column_letter(c)].width = max(12, len(name) + 2)


def _trailing_blank_rows(ws, after: int, count: int, width: int) -> None:
    """Formatted but empty rows below the data, as left behind when rows are cleared in Excel."""
    for r in range(after + 1, after + count + 1):
        for c in range(1, width + 1):
            ws.cell(row=r, column=c).border = THIN


def field_workers(world: World) -> bytes:
    w = world.workers
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Roster"
    cols = [
        "Worker ID",
        "Worker Name",
        "Supervisor ID",
        "State",
        "District",
        "Block",
        "Phone",
        "Date of Joining",
        "Status",
    ]
    _title(
        ws,
        ["Sangam Maternal & Child Health Programme", f"Field worker roster as of {world.today:%d %B %Y}"],
        len(cols),
    )
    header_row = 4
    _header(ws, header_row, cols)
    rng = rng_for(world.seed, 7)
    n = len(w["worker_id"])
    on_leave = rng.random(n) < 0.03
    # Roster mess: two recent joiners not added yet, and one worker listed twice (her old number kept).
    missing, twice = rng.choice(n, 3, replace=False)[:2], int(rng.integers(0, n))
    order = [i for i in range(n) if i not in missing]
    order.insert(order.index(twice) + 1 if twice in order else len(order), twice)
    world.mess["roster"] = {
        "missing_worker_ids": sorted(w["worker_id"][missing].tolist()),
        "listed_twice": w["worker_id"][twice],
    }
    seen: set[int] = set()
    for k, i in enumerate(order):
        block = geo.BLOCK_BY_CODE[w["block"][i]]
        district = geo.DISTRICT_BY_CODE[block.parent]
        row = header_row + 1 + k
        phone = (
            w["phone"][i] if i not in seen else str(6_000_000_000 + int(w["phone"][i]) * 7919 % 3_999_999_999)
        )
        seen.add(i)
        values = [
            w["worker_id"][i],
            w["worker_name"][i],
            w["supervisor_id"][i],
            geo.STATE_BY_CODE[district.parent].name_en,
            district.name_en,
            block.name_en,
            phone,
            w["joining_date"][i].astype(object),
            "On leave" if on_leave[i] else "Active",
        ]
        for c, v in enumerate(values, start=1):
            cell = ws.cell(row=row, column=c, value=v)
            if c == 8:
                cell.number_format = "DD-MMM-YYYY"
    _trailing_blank_rows(ws, header_row + len(order), 4, len(cols))
    return deterministic_xlsx_bytes(wb, FIXED_STAMP)


def targets(world: World) -> list[tuple[str, date, int]]:
    """Monthly registration targets per district: the programme's plan, a little above what it achieves.

    Each cell depends only on the seed, the district and the month (and the registrations of the first
    12 months), so a world that evolves by a day keeps the targets it already had.
    """
    reg = world.forms["pregnancy_registration"]
    first_year_end = np.datetime64(world.start.isoformat()) + np.timedelta64(365, "D")
    original = (reg["_dup_of"] < 0) & (reg["registration_date"] < first_year_end)
    months = reg["registration_date"].astype("datetime64[M]")
    out = []
    for d_index, d in enumerate(geo.DISTRICTS):
        in_district = original & (reg["district"] == d.code)
        base = max(2.0, in_district.sum() / 12)
        for m in months_between(world.start, world.today):
            month = np.datetime64(m.isoformat()[:7], "M")
            actual = int(np.sum(in_district & (months == month)))
            factor = np.random.default_rng([world.seed, 8, d_index, m.year * 12 + m.month]).uniform(1.0, 1.3)
            out.append((d.code, m, int(np.ceil(max(actual, base) * factor))))
    return out


def district_targets(world: World, rows: list[tuple[str, date, int]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Targets"
    cols = ["State", "District", "District code", "Year", "Month", "Month start", "Target Registrations"]
    _title(ws, [f"District registration targets {world.start.year}–{world.today.year}"], len(cols))
    ws.cell(row=2, column=1, value="Source: state programme office. Month start is an Excel date serial.")
    header_row = 3
    _header(ws, header_row, cols)
    for i, (code, month, target) in enumerate(rows):
        district = geo.DISTRICT_BY_CODE[code]
        values = [
            geo.STATE_BY_CODE[district.parent].name_en,
            district.name_en,
            code,
            month.year,
            month.month,
            excel_serial(month),
            target,
        ]
        for c, v in enumerate(values, start=1):
            ws.cell(row=header_row + 1 + i, column=c, value=v)  # serials left as plain numbers
    _trailing_blank_rows(ws, header_row + len(rows), 3, len(cols))
    return deterministic_xlsx_bytes(wb, FIXED_STAMP)


def partner_files(world: World) -> dict[str, bytes]:
    """A partner NGO's monthly reach, one CSV per month; its header changed format halfway through."""
    rng = rng_for(world.seed, 9)
    months = months_between(world.start, world.today)[:-1]  # the current month is not reported yet
    files = {}
    for k, m in enumerate(months):
        renamed = k >= 6  # the partner switched to a new template after six months
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        if renamed:
            writer.writerow(["District", "Month", "Beneficiaries Reached", "Sessions Held"])
        else:
            writer.writerow(["district", "month", "beneficiaries_reached", "sessions_held"])
        for code in PARTNER_DISTRICTS:
            reached = int(rng.poisson(180 + 40 * k))
            writer.writerow([geo.DISTRICT_BY_CODE[code].name_en, f"{m:%Y-%m}", reached, int(rng.poisson(12))])
        writer.writerow(["", "", "", ""])  # the blank line Excel leaves when a sheet is saved as CSV
        files[f"partner_{m:%Y_%m}.csv"] = buf.getvalue().encode("utf-8")
    return files


def write(world: World, out: Path) -> dict:
    folder = out / "sheets"
    (folder / "partner_monthly").mkdir(parents=True, exist_ok=True)
    (folder / "field_workers.xlsx").write_bytes(field_workers(world))
    rows = targets(world)
    world.targets = rows
    (folder / "district_targets.xlsx").write_bytes(district_targets(world, rows))
    partner = partner_files(world)
    for name, data in partner.items():
        (folder / "partner_monthly" / name).write_bytes(data)
    return {
        "field_workers": len(world.workers["worker_id"]),
        "district_targets": len(rows),
        "partner_monthly_files": len(partner),
    }
