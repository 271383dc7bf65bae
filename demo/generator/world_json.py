"""ground_truth/world.json: the seed, counts per form and every injected piece of mess with its ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from demo.generator.jsonl import dumps
from demo.generator.kobo import KOBO_ASSET_UIDS, KOBO_VERSION_UIDS
from demo.generator.mess import EVENT_DATE, OPTIONAL
from demo.generator.odk import PROJECT_ID
from demo.generator.world import ALL_FORMS, KOBO_FORMS, REPEATS, World

NOTES = {
    "submission_id": "KoBo `_id` as text; ODK `__id` (as the raw tables' submission_id)",
    "received": "submissions the server received, duplicates and later-deleted ones included",
    "in_files": "rows in the data files (KoBo: deleted ones are absent; ODK: soft-deleted rows stay)",
    "late": "submitted_at more than 7 days after the event date (at least 8 days in this world)",
    "deleted": "KoBo: hard-deleted (absent, their _id left as a gap); ODK: deletedAt set",
    "edited": "KoBo: same _id, new _uuid/meta/instanceID, meta/deprecatedID; ODK: same __id, reviewState "
    "edited, updatedAt and edits set. Files hold the latest version; edit_details gives the value before",
    "ground_truth": "see demo/generator/truth.py for the indicator rules, including the choices the contract "
    "leaves open",
}


def _ids(t: dict, mask: np.ndarray) -> list[str]:
    return t["_submission_id"][mask].tolist()


def world_dict(world: World) -> dict:
    counts, mess = (
        {},
        {
            "duplicates": [],
            "out_of_range": [],
            "gps_outside_india": [],
            "late": {},
            "missing_optional": {},
            "edited": {},
            "edit_details": [],
            "deleted": {},
        },
    )
    for form in ALL_FORMS:
        t = world.forms[form]
        n = len(t["_submitted"])
        dup = t["_dup_of"] >= 0
        counts[form] = {
            "server": "kobo" if form in KOBO_FORMS else "odk",
            "received": n,
            "in_files": int(n - t["_deleted"].sum()) if form in KOBO_FORMS else n,
            "deleted": int(t["_deleted"].sum()),
            "duplicates": int(dup.sum()),
            "edited": int(t["_edited"].sum()),
            "late": int(t["_late"].sum()),
            "event_date": EVENT_DATE[form],
        }
        if form in REPEATS:
            rep = world.repeats[form]
            counts[form]["repeat_rows_received"] = len(rep["_parent"])
        sid = t["_submission_id"]
        for i in np.flatnonzero(dup):
            mess["duplicates"].append(
                {"form": form, "submission_id": sid[i], "duplicate_of": sid[t["_dup_of"][i]]}
            )
        mess["late"][form] = _ids(t, t["_late"])
        mess["deleted"][form] = _ids(t, t["_deleted"])
        mess["edited"][form] = _ids(t, t["_edited"])
        if "_edit_note" in t:
            for i in np.flatnonzero(t["_edited"]):
                note = t["_edit_note"][i]
                if note is None:
                    continue
                detail = {"form": form, "submission_id": sid[i], "field": note[0], "before": note[1]}
                if len(note) > 2:
                    detail["child_id"] = note[2]
                mess["edit_details"].append(detail)
        if "_gps_outside" in t:
            for i in np.flatnonzero(t["_gps_outside"] & ~t["_deleted"]):
                mess["gps_outside_india"].append(
                    {
                        "form": form,
                        "submission_id": sid[i],
                        "latitude": float(t["home_gps_lat"][i]),
                        "longitude": float(t["home_gps_lon"][i]),
                    }
                )
        if "_missing_optional" in t:
            mess["missing_optional"][form] = {
                "fields": sorted(OPTIONAL[form]),
                "submission_ids": _ids(t, t["_missing_optional"] & ~t["_deleted"]),
            }
    anc = world.forms["anc_visit"]
    for i in np.flatnonzero(anc["_out_of_range"]):
        for fname, limit in (("hb_gdl", 25.0), ("bp_systolic", 300.0)):
            if anc[fname][i] > limit:
                mess["out_of_range"].append(
                    {
                        "form": "anc_visit",
                        "submission_id": anc["_submission_id"][i],
                        "field": fname,
                        "value": float(anc[fname][i]),
                    }
                )
    ch, rep = world.forms["child_health"], world.repeats["child_health"]
    for r in np.flatnonzero(rep["_out_of_range"]):
        p = rep["_parent"][r]
        if not ch["_deleted"][p]:
            mess["out_of_range"].append(
                {
                    "form": "child_health",
                    "submission_id": ch["_submission_id"][p],
                    "child_id": rep["child_id"][r],
                    "field": "weight_kg",
                    "value": float(rep["weight_kg"][r]),
                }
            )
    versions = {v: int((ch["_version"] == v).sum()) for v in ("v1", "v2")}
    return {
        "seed": world.seed,
        "submissions": world.submissions,
        "today": world.today.isoformat(),
        "observed_at_utc": str(world.now),
        "window": {"start": world.start.isoformat(), "end": world.today.isoformat()},
        "evolutions": list(world.evolutions),
        "evolution_log": list(world.evolution_log),
        "kobo": {
            "asset_uids": KOBO_ASSET_UIDS,
            "version_uids": {f"{f}:{v}": uid for (f, v), uid in KOBO_VERSION_UIDS.items()},
        },
        "odk": {"project_id": PROJECT_ID},
        "counts": counts,
        "form_versions": {
            "child_health": {
                **versions,
                "v2_from": world.v2_from.isoformat(),
                "v1_only_fields": ["oedema"],
                "v2_only_fields": ["muac_cm"],
            }
        },
        "mess": {**mess, "roster": world.mess.get("roster")},
        "notes": NOTES,
    }


def write_world_json(world: World, path: Path) -> None:
    path.write_bytes(dumps(world_dict(world), indent=True))
