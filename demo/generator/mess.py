"""Real-world mess, injected on purpose and recorded with ids in ground_truth/world.json.

Kinds: resubmitted duplicates (same content, new instance id / _id), out-of-range values, GPS outside
India, late submissions (> 7 days after the event), missing optional answers, two form versions
(child_health v1/v2), edited submissions and deleted ones. Ids are assigned here too, as each server would.
"""

from __future__ import annotations

import numpy as np

from demo.generator.world import (
    ALL_FORMS,
    KOBO_FORMS,
    REPEATS,
    Table,
    World,
    pick,
    rng_for,
)

EVENT_DATE = {
    "pregnancy_registration": "registration_date",
    "child_health": "visit_date",
    "anc_visit": "visit_date",
    "delivery": "delivery_date",
    "scheme_application": "applied_date",
}
# Optional questions left unanswered, with the share of submissions that skip them.
OPTIONAL = {
    "pregnancy_registration": {"phone": 0.06, "aadhaar": 0.18, "home_gps": 0.04, "gravida": 0.05},
    "child_health": {"home_gps": 0.05},
    "anc_visit": {"hb_gdl": 0.09, "bp_systolic": 0.04, "ifa_tablets": 0.03},
    "delivery": {"delivery_type": 0.05},
    "scheme_application": {"phone": 0.10},
}
KOBO_FIRST_ID = 12_001


def uuid4s(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random version-4 UUID strings (deterministic for a seeded generator)."""
    hi = rng.integers(0, 2**63, n, dtype=np.int64)
    lo = rng.integers(0, 2**63, n, dtype=np.int64)
    out = np.empty(n, dtype=object)
    for i, (a, b) in enumerate(zip(hi.tolist(), lo.tolist(), strict=True)):
        h = f"{a:016x}{b:016x}"
        out[i] = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"
    return out


def append_rows(table: Table, src: np.ndarray) -> None:
    for key, col in table.items():
        table[key] = np.concatenate([col, col[src]])


def inject_mess(world: World, duplicates: dict[str, int]) -> None:
    rng = rng_for(world.seed, 5)
    mess: dict = {
        "duplicates": {},
        "out_of_range": [],
        "gps_outside_india": {},
        "late": {},
        "missing_optional": {},
        "edited": [],
        "deleted": {},
        "form_versions": {},
    }
    now_ms = world.now.astype("datetime64[ms]")

    # Edits of KoBo and ODK forms (scheme_application status updates are edits already, from the simulation).
    edits = {
        "pregnancy_registration": ("phone", lambda t, i: phones_changed(rng, t["phone"][i])),
        "anc_visit": ("hb_gdl", lambda t, i: np.round(t["hb_gdl"][i] + rng.choice([-1.0, 1.0], len(i)), 1)),
        "delivery": ("place", lambda t, i: np.where(t["place"][i] == "home", "phc", "home").astype(object)),
    }
    for form, (fname, old_value) in edits.items():
        t = world.forms[form]
        n = len(t["_submitted"])
        chosen = pick(rng, n, max(2, int(round(n * 0.02))))
        t["_edited"][chosen] = True
        t["_edits"][chosen] = 1
        t["_updated"][chosen] = np.minimum(
            t["_submitted"][chosen].astype("datetime64[ms]")
            + (rng.integers(3600, 10 * 86400, len(chosen)) * 1000).astype("timedelta64[ms]"),
            now_ms - np.timedelta64(60_000, "ms"),
        )
        t.setdefault("_edit_note", np.full(n, None, dtype=object))
        for i, old in zip(chosen, old_value(t, chosen), strict=True):
            t["_edit_note"][i] = (fname, old)
    # child_health: a weight typed without its decimal point (59 for 5.9), corrected by an edit
    ch, rep = world.forms["child_health"], world.repeats["child_health"]
    measured = np.flatnonzero(np.isfinite(rep["weight_kg"]))
    fix = measured[pick(rng, len(measured), max(2, int(round(len(ch["_submitted"]) * 0.01))))]
    fix = fix[np.unique(rep["_parent"][fix], return_index=True)[1]]
    n = len(ch["_submitted"])
    ch.setdefault("_edit_note", np.full(n, None, dtype=object))
    for r in fix:
        p = rep["_parent"][r]
        ch["_edited"][p] = True
        ch["_edits"][p] = 1
        ch["_edit_note"][p] = (
            "weight_kg",
            round(float(rep["weight_kg"][r]) * 10, 1),
            str(rep["child_id"][r]),
        )

    # Out-of-range values that form constraints did not stop.
    weight_ok = np.flatnonzero(np.isfinite(rep["weight_kg"]) & ~ch["_edited"][rep["_parent"]])
    bad = weight_ok[pick(rng, len(weight_ok), max(2, int(round(len(weight_ok) * 0.003))))]
    rep["weight_kg"][bad] = 95.0
    rep.setdefault("_out_of_range", np.zeros(len(rep["_parent"]), bool))[bad] = True
    anc = world.forms["anc_visit"]
    na = len(anc["_submitted"])
    hb_bad = pick(rng, na, max(1, int(round(na * 0.002))), exclude=np.flatnonzero(anc["_edited"]))
    anc["hb_gdl"][hb_bad] = 45.0
    bp_bad = pick(rng, na, max(1, int(round(na * 0.002))), exclude=hb_bad)
    anc["bp_systolic"][bp_bad] = 400.0
    anc["_out_of_range"] = np.zeros(na, bool)
    anc["_out_of_range"][hb_bad] = True
    anc["_out_of_range"][bp_bad] = True

    # GPS outside India: latitude and longitude swapped, or a phone reporting 0 0.
    for form in KOBO_FORMS:
        t = world.forms[form]
        n = len(t["_submitted"])
        chosen = pick(rng, n, max(2, int(round(n * 0.006))))
        swap = rng.random(len(chosen)) < 0.6
        lat, lon = t["home_gps_lat"][chosen].copy(), t["home_gps_lon"][chosen].copy()
        t["home_gps_lat"][chosen] = np.where(swap, lon, 0.0)
        t["home_gps_lon"][chosen] = np.where(swap, lat, 0.0)
        t["_gps_outside"] = np.zeros(n, bool)
        t["_gps_outside"][chosen] = True

    # Missing optional answers.
    for form, fields in OPTIONAL.items():
        t = world.forms[form]
        n = len(t["_submitted"])
        missing = np.zeros(n, bool)
        for fname, rate in fields.items():
            chosen = pick(rng, n, max(1, int(round(n * rate))), exclude=np.flatnonzero(t["_edited"]))
            if fname == "home_gps":
                chosen = chosen[~t["_gps_outside"][chosen]]
                for part in ("lat", "lon", "alt", "acc"):
                    t[f"home_gps_{part}"][chosen] = np.nan
            elif t[fname].dtype == object:
                t[fname][chosen] = None
            else:
                t[fname][chosen] = np.nan
            missing[chosen] = True
        t["_missing_optional"] = missing

    # Deleted submissions (hard on KoBo: gone from the data; soft on ODK: deletedAt set).
    for form in ALL_FORMS:
        t = world.forms[form]
        n = len(t["_submitted"])
        chosen = pick(rng, n, max(2, int(round(n * 0.01))), exclude=np.flatnonzero(t["_edited"]))
        t["_deleted"][chosen] = True
        t["_deleted_at"] = np.full(n, np.datetime64("NaT"), "datetime64[ms]")
        t["_deleted_at"][chosen] = np.minimum(
            t["_submitted"][chosen].astype("datetime64[ms]")
            + (rng.integers(3600, 10 * 86400, len(chosen)) * 1000).astype("timedelta64[ms]"),
            now_ms - np.timedelta64(60_000, "ms"),
        )

    # Resubmitted duplicates: the same content sent again later, with a new instance id.
    for form in ALL_FORMS:
        t = world.forms[form]
        n = len(t["_submitted"])
        src = pick(rng, n, duplicates[form], exclude=np.flatnonzero(t["_edited"] | t["_deleted"]))
        src = src[rng.permutation(len(src))]
        append_rows(t, src)
        new = np.arange(n, n + len(src))
        t["_dup_of"][new] = src
        for flag in ("_gps_outside", "_out_of_range", "_missing_optional"):
            if flag in t:
                t[flag][new] = False if flag != "_missing_optional" else t[flag][src]
        gap = rng.integers(120, 3 * 86400, len(src)).astype("timedelta64[s]")
        t["_submitted"][new] = np.minimum(t["_submitted"][src] + gap, world.now - np.timedelta64(30, "s"))
        event = t[EVENT_DATE[form]][new]
        t["_late"][new] = t["_submitted"][new] > (event + np.timedelta64(7, "D")).astype("datetime64[s]")
        if form in REPEATS:
            rep = world.repeats[form]
            order = np.argsort(rep["_parent"], kind="stable")
            for key in rep:
                rep[key] = rep[key][order]
            starts = np.searchsorted(rep["_parent"], src, "left")
            ends = np.searchsorted(rep["_parent"], src, "right")
            rows = (
                np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
                if len(src)
                else []
            )
            rows = np.asarray(rows, dtype=np.int64)
            new_parent = np.repeat(new, ends - starts)
            for key in rep:
                rep[key] = np.concatenate([rep[key], rep[key][rows]])
            rep["_parent"][-len(rows) :] = new_parent
            if "_out_of_range" in rep:
                rep["_out_of_range"][-len(rows) :] = False

    assign_ids(world)
    world.mess = mess


def phones_changed(rng: np.random.Generator, current: np.ndarray) -> np.ndarray:
    """The wrong number first entered: the current one with one digit mistyped."""
    out = np.empty(len(current), dtype=object)
    for i, p in enumerate(current):
        j = int(rng.integers(1, 10))
        out[i] = p[:j] + str((int(p[j]) + int(rng.integers(1, 10))) % 10) + p[j + 1 :]
    return out


def assign_ids(world: World) -> None:
    """Server-side ids: KoBo's global _id sequence in arrival order, instance UUIDs, review states."""
    rng = rng_for(world.seed, 6)
    # KoBo: one _id sequence for the whole server, ascending with arrival time.
    sizes = [len(world.forms[f]["_submitted"]) for f in KOBO_FORMS]
    arrival = np.concatenate([world.forms[f]["_submitted"] for f in KOBO_FORMS])
    rank = np.empty(len(arrival), np.int64)
    rank[np.argsort(arrival, kind="stable")] = np.arange(len(arrival))
    offset = 0
    for form, size in zip(KOBO_FORMS, sizes, strict=True):
        t = world.forms[form]
        t["_id"] = KOBO_FIRST_ID + rank[offset : offset + size]
        offset += size
    for form in ALL_FORMS:
        t = world.forms[form]
        n = len(t["_submitted"])
        first = uuid4s(rng, n)
        current = uuid4s(rng, n)
        t["_root_uuid"] = first
        t["_uuid"] = np.where(t["_edited"], current, first).astype(object)
        r = rng.random(n)
        # when a supervisor reviewed it: after arrival, never after the world is observed
        t["_review_at"] = np.minimum(
            t["_submitted"] + rng.integers(3600, 3 * 86400, n).astype("timedelta64[s]"), world.now
        )
        if form in KOBO_FORMS:
            t["_review"] = np.where(
                r < 0.2, "validation_status_approved", np.where(r < 0.23, "validation_status_on_hold", None)
            ).astype(object)
            t["_submission_id"] = np.array([str(x) for x in t["_id"]], dtype=object)
        else:
            review = np.where(r < 0.15, "approved", np.where(r < 0.17, "hasIssues", None)).astype(object)
            t["_review"] = np.where(t["_edited"], "edited", review).astype(object)
            t["_submission_id"] = np.array([f"uuid:{u}" for u in first], dtype=object)
