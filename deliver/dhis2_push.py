"""Push a month of the published marts to DHIS2: check the mapping against the server, dry-run, then import.

Order, so that a refusal leaves the server as it was:
1. the values are read from serving.duckdb (deliver/dhis2_export.py); nothing is sent if that fails;
2. `GET /api/system/info` checks the URL and the credentials (a 401 names the variables, never the values);
3. the mapping is checked against `/api/dataSets`, `/api/dataElements`, `/api/organisationUnits` and
   `/api/categoryOptionCombos` in its id schemes: anything unknown (or not in the data set) is named, and
   nothing is sent;
4. each organisation unit's set is imported with `dryRun=true` (without completeDate, which DHIS2 2.42 would
   register even in a dry run); any conflict fails the push naming the data element, organisation unit and
   period of each rejected value, and nothing is imported;
5. a unit whose month is registered complete on the server (`/api/completeDataSetRegistrations`) and whose
   values would change is refused unless `force`; a set the dry run says changes nothing is not sent again,
   so a second push of the same month changes nothing on the server;
6. the real import; its import summary (status, importCount, conflicts) is the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from deliver.dhis2_client import Dhis2Client, Dhis2Error
from deliver.dhis2_export import DataValueSet, build_batch, last_complete_month, parse_period
from deliver.dhis2_mapping import Dhis2Mapping

log = logging.getLogger("sangam.deliver")
_PROP = {"UID": "id", "CODE": "code", "NAME": "name"}
COUNTS = ("imported", "updated", "ignored", "deleted")


class MetadataMismatch(Dhis2Error):
    """The mapping names what the server does not have; nothing was sent."""


class ImportConflicts(Dhis2Error):
    """DHIS2 rejected values; the message names each one's data element, organisation unit and period."""

    def __init__(self, message: str, conflicts: list[str]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


class CompletedPeriod(Dhis2Error):
    """The month is registered complete on the server for these units and the push would change it."""


@dataclass
class ResolvedMetadata:
    data_set_uid: str
    org_unit_uids: dict[str, str]  # mapping identifier → UID
    warnings: list[str] = field(default_factory=list)


@dataclass
class PushResult:
    server: str
    period: str
    org_units: int = 0
    values: int = 0
    dry_run: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    sent: list[str] = field(default_factory=list)  # district codes really imported
    unchanged: list[str] = field(default_factory=list)  # nothing to change: not sent
    completed: list[str] = field(default_factory=list)  # registered complete by this push
    forced: list[str] = field(default_factory=list)  # complete on the server, overwritten by --force
    status: str = "SUCCESS"
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        counts = ", ".join(f"{k} {self.imported[k]}" for k in COUNTS)
        lines = [f"DHIS2 push of {self.period} to {self.server}: {self.status}"]
        lines.append(f"  values: {self.values} for {self.org_units} organisation units")
        lines.append(f"  import: {counts}" + ("" if self.sent else " (nothing to change: no import sent)"))
        if self.unchanged:
            lines.append(f"  unchanged, not sent: {', '.join(self.unchanged)}")
        if self.completed:
            lines.append(f"  registered complete: {', '.join(self.completed)}")
        if self.forced:
            lines.append(f"  overwrote months complete on the server (--force): {', '.join(self.forced)}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "period": self.period,
            "status": self.status,
            "org_units": self.org_units,
            "values": self.values,
            "dry_run": self.dry_run,
            "importCount": self.imported,
            "sent": self.sent,
            "unchanged": self.unchanged,
            "completed": self.completed,
            "forced": self.forced,
            "warnings": self.warnings,
        }


def _chunks(items: list[str], size: int = 50) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _lookup(client: Dhis2Client, kind: str, scheme: str, idents: list[str], fields: str) -> dict[str, dict]:
    """{identifier: object} for the identifiers the server has, matched on the scheme's property."""
    prop = _PROP[scheme]
    found: dict[str, dict] = {}
    wanted = sorted(set(idents))
    if scheme == "NAME":  # names may hold commas, which `in:[…]` cannot carry
        filters = [[f"name:eq:{name}"] for name in wanted]
    else:
        filters = [[f"{prop}:in:[{','.join(chunk)}]"] for chunk in _chunks(wanted)]
    for f in filters:
        for obj in client.list_all(kind, f"{fields},{prop}", f):
            if obj.get(prop) in wanted:
                found[obj[prop]] = obj
    return found


def check_metadata(client: Dhis2Client, mapping: Dhis2Mapping) -> ResolvedMetadata:
    """Every identifier of the mapping on the server, in its id scheme; MetadataMismatch lists what is not."""
    problems: list[str] = []
    warnings: list[str] = []
    ds_fields = "id,name,periodType,dataSetElements[dataElement[id]],organisationUnits[id]"
    data_sets = _lookup(client, "dataSets", mapping.id_scheme, [mapping.data_set], ds_fields)
    ds = data_sets.get(mapping.data_set)
    if ds is None:
        problems.append(f"data_set: {mapping.data_set} not found (by {mapping.id_scheme})")
    elif ds.get("periodType") != mapping.period_type:
        problems.append(
            f"data_set: {mapping.data_set} has period type {ds.get('periodType')}, not {mapping.period_type}"
        )
    ds_elements = {
        e["dataElement"]["id"] for e in (ds or {}).get("dataSetElements", []) if e.get("dataElement")
    }
    ds_units = {u["id"] for u in (ds or {}).get("organisationUnits", [])}

    des = _lookup(
        client,
        "dataElements",
        mapping.data_element_id_scheme,
        [e.data_element for e in mapping.data_elements],
        "id,name,valueType,zeroIsSignificant",
    )
    for e in mapping.data_elements:
        de = des.get(e.data_element)
        key = f"data_elements.{e.indicator}"
        if de is None:
            problems.append(
                f"{key}: data element {e.data_element} not found (by {mapping.data_element_id_scheme})"
            )
        elif ds is not None and de["id"] not in ds_elements:
            problems.append(f"{key}: data element {e.data_element} is not in data set {mapping.data_set}")
        elif de.get("zeroIsSignificant") is False:
            warnings.append(f"{key}: {e.data_element} does not store zeros (zeroIsSignificant is false)")

    combos = [e.category_option_combo for e in mapping.data_elements if e.category_option_combo]
    if mapping.attribute_option_combo:
        combos.append(mapping.attribute_option_combo)
    if combos:
        cocs = _lookup(client, "categoryOptionCombos", mapping.id_scheme, combos, "id")
        for e in mapping.data_elements:
            if e.category_option_combo and e.category_option_combo not in cocs:
                problems.append(
                    f"data_elements.{e.indicator}.category_option_combo: {e.category_option_combo} not found "
                    f"(by {mapping.id_scheme})"
                )
        if mapping.attribute_option_combo and mapping.attribute_option_combo not in cocs:
            problems.append(f"attribute_option_combo: {mapping.attribute_option_combo} not found")

    ous = _lookup(
        client, "organisationUnits", mapping.org_unit_id_scheme, list(mapping.org_units.values()), "id,name"
    )
    resolved: dict[str, str] = {}
    for district, ident in mapping.org_units.items():
        ou = ous.get(ident)
        key = f"org_units.{district}"
        if ou is None:
            problems.append(f"{key}: organisation unit {ident} not found (by {mapping.org_unit_id_scheme})")
        elif ds is not None and ou["id"] not in ds_units:
            problems.append(
                f"{key}: organisation unit {ident} ({ou.get('name')}) is not assigned to data set "
                f"{mapping.data_set}"
            )
        else:
            resolved[ident] = ou["id"]
    if problems:
        raise MetadataMismatch(
            f"DHIS2 at {client.url} does not match {mapping.path.name}; nothing was sent:\n  "
            + "\n  ".join(problems)
        )
    return ResolvedMetadata(ds["id"], resolved, warnings)


def summary_of(doc: Any) -> dict[str, Any]:
    """The ImportSummary of an answer: inside the WebMessage (`response`, DHIS2 2.38+) or bare (older)."""
    if isinstance(doc, dict) and isinstance(doc.get("response"), dict):
        return doc["response"]
    return doc if isinstance(doc, dict) else {}


def conflict_lines(summary: dict[str, Any], s: DataValueSet, mapping: Dhis2Mapping) -> list[str]:
    """One line per rejected value: the data element (and its mart indicator), org unit, period and why."""
    by_de = {e.data_element: e.indicator for e in mapping.data_elements}
    where_ou = f"org unit {s.org_unit} ({s.district_code})"
    lines = []
    for c in summary.get("conflicts") or []:
        why = f"{c.get('errorCode') or c.get('object') or ''}: {c.get('value') or ''}".strip(": ")
        indexes = c.get("indexes") or []
        if not indexes:
            lines.append(f"{where_ou}, period {s.period}: {why}")
        for i in indexes:
            dv = s.values[i] if isinstance(i, int) and 0 <= i < len(s.values) else {}
            de = dv.get("dataElement", "?")
            lines.append(
                f"data element {de} ({by_de.get(de, '?')}), {where_ou}, period {dv.get('period', s.period)}, "
                f"value {dv.get('value')!r}: {why}"
            )
    return lines


def import_sets(
    client: Dhis2Client,
    mapping: Dhis2Mapping,
    sets: list[DataValueSet],
    complete_date: str | None,
    dry_run: bool,
) -> list[dict[str, Any]]:
    """POST each set to /api/dataValueSets: the import summaries, or ImportConflicts naming each rejection."""
    params = {**mapping.scheme_params, "importStrategy": "CREATE_AND_UPDATE", "dryRun": str(dry_run).lower()}
    summaries, problems = [], []
    for s in sets:
        status, doc = client.post_json("/api/dataValueSets", s.as_json(mapping, complete_date), params)
        summary = summary_of(doc)
        lines = conflict_lines(summary, s, mapping)
        if status == 409 or summary.get("status") == "ERROR" or lines:
            problems += lines or [
                f"org unit {s.org_unit} ({s.district_code}): {summary.get('description') or doc}"
            ]
        summaries.append(summary)
    if problems:
        stage = "the dry run" if dry_run else "the import"
        note = "nothing was imported" if dry_run else "check the values of the sets named"
        raise ImportConflicts(
            f"DHIS2 at {client.url} rejected {len(problems)} value(s) in {stage} ({note}):\n  "
            + "\n  ".join(problems),
            problems,
        )
    return summaries


def completed_units(client: Dhis2Client, meta: ResolvedMetadata, period: str) -> dict[str, dict[str, Any]]:
    """{org unit UID: registration} of the units whose month is registered complete on the server."""
    params = [("dataSet", meta.data_set_uid), ("period", period)]
    params += [("orgUnit", uid) for uid in sorted(set(meta.org_unit_uids.values()))]
    doc = client.get("/api/completeDataSetRegistrations", params)
    regs = doc.get("completeDataSetRegistrations") or [] if isinstance(doc, dict) else []
    return {r["organisationUnit"]: r for r in regs if r.get("completed", True) is not False}


def _add(total: dict[str, int], summary: dict[str, Any]) -> dict[str, int]:
    counts = summary.get("importCount") or {}
    for k in COUNTS:
        total[k] += int(counts.get(k) or 0)
    return total


def _changes(summary: dict[str, Any]) -> int:
    counts = summary.get("importCount") or {}
    return sum(int(counts.get(k) or 0) for k in ("imported", "updated", "deleted"))


def push(
    mapping: Dhis2Mapping,
    serving_path: Path,
    period: str | None = None,
    *,
    force: bool = False,
    client: Dhis2Client | None = None,
    today: date | None = None,
) -> PushResult:
    """Push `period` (YYYYMM; default: the mart's last complete month); the steps are in the module doc."""
    period = parse_period(period) if period else last_complete_month(serving_path, mapping, today)
    batch = build_batch(mapping, serving_path, period)
    own = client is None
    client = client or Dhis2Client(mapping.server)
    try:
        return _push(client, mapping, batch, force, today)
    finally:
        if own:
            client.close()


def _push(
    client: Dhis2Client, mapping: Dhis2Mapping, batch: Any, force: bool, today: date | None
) -> PushResult:
    result = PushResult(client.url, batch.period, len(batch.sets), batch.value_count)
    if batch.unmapped_districts:
        result.warnings.append(
            f"districts without an organisation unit, not sent: {', '.join(batch.unmapped_districts)}"
        )
    if not batch.sets:
        result.status = "NOTHING_TO_SEND"
        return result
    client.check_login()
    meta = check_metadata(client, mapping)
    result.warnings += meta.warnings
    complete_date = (today or date.today()).isoformat() if mapping.mark_complete else None
    done = completed_units(client, meta, batch.period)

    # no completeDate in the dry run: DHIS2 2.42 registers completeness even when dryRun is true
    dry = import_sets(client, mapping, batch.sets, None, dry_run=True)
    to_send, blocked = [], []
    for s, summary in zip(batch.sets, dry, strict=True):
        _add(result.dry_run, summary)
        registration = done.get(meta.org_unit_uids[s.org_unit])
        changes = _changes(summary)
        if registration is not None:
            if changes == 0:
                result.unchanged.append(s.district_code)
            elif force:
                result.forced.append(s.district_code)
                to_send.append(s)
            else:
                when = registration.get("date", "?")
                who = registration.get("storedBy") or "?"
                blocked.append(
                    f"{s.district_code} (org unit {s.org_unit}, complete since {when} by {who}, "
                    f"{changes} value(s) would change)"
                )
        elif changes == 0 and not mapping.mark_complete:
            result.unchanged.append(s.district_code)
        else:
            to_send.append(s)
    if blocked:
        raise CompletedPeriod(
            f"DHIS2 at {client.url}: {batch.period} is registered complete for {len(blocked)} "
            "organisation unit(s); nothing was sent (push with --force to overwrite):\n  "
            + "\n  ".join(blocked)
        )
    for s, summary in zip(
        to_send, import_sets(client, mapping, to_send, complete_date, dry_run=False), strict=True
    ):
        _add(result.imported, summary)
        result.sent.append(s.district_code)
        if str(summary.get("dataSetComplete", "false")).lower() not in ("false", ""):
            result.completed.append(s.district_code)
    log.info(
        "DHIS2 push of %s: %d of %d organisation units sent", batch.period, len(result.sent), len(batch.sets)
    )
    return result
