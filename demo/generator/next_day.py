"""`evolve(data_dir, seed)`: the world one day later — new submissions, some edits, some deletes.

A world on disk is rebuilt from ground_truth/world.json (its seed, size and earlier evolutions), so evolving
is deterministic: the same sequence of seeds always gives the same files. The day that passes is the
world's 'today'; its events are submitted before the new observation time. Deletes are hard on KoBo (the
submission disappears) and soft on ODK (deletedAt set); ground truth and world.json are rewritten.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from demo.generator.mess import append_rows, uuid4s
from demo.generator.world import (
    IST,
    KOBO_FORMS,
    World,
    build_world,
    generated_today,
    ids,
    phones,
    pick,
    timing,
    weighted_sample,
)
from demo.generator.write import write_world

SHARES = {
    "pregnancy_registration": 0.13,
    "anc_visit": 0.30,
    "delivery": 0.08,
    "child_health": 0.37,
    "scheme_application": 0.12,
}


def _clean(t: dict) -> np.ndarray:
    """Rows fit to be templates: originals, present, unedited, without injected oddities."""
    ok = (t["_dup_of"] < 0) & ~t["_deleted"] & ~t["_edited"]
    for flag in ("_gps_outside", "_out_of_range"):
        if flag in t:
            ok &= ~t[flag]
    return ok


def _new_rows(
    world: World, form: str, template: np.ndarray, dates: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Append copies of template rows as new submissions on `dates`; returns their indices."""
    t = world.forms[form]
    n = len(t["_submitted"])
    append_rows(t, template)
    new = np.arange(n, n + len(template))
    for key, value in (
        ("_dup_of", -1),
        ("_deleted", False),
        ("_edited", False),
        ("_edits", 0),
        ("_updated", np.datetime64("NaT")),
        ("_deleted_at", np.datetime64("NaT")),
        ("_review", None),
    ):
        t[key][new] = value
    for flag in ("_gps_outside", "_out_of_range"):
        if flag in t:
            t[flag][new] = False
    if "_edit_note" in t:
        t["_edit_note"][new] = None
    for key, value in timing(rng, dates, world.now, 0.0).items():
        t[key][new] = value
    fresh = uuid4s(rng, len(new))
    t["_uuid"][new] = fresh
    t["_root_uuid"][new] = fresh
    if form in KOBO_FORMS:
        t["_id"][new] = -1  # numbered by _assign_kobo_ids, in arrival order
    else:
        t["_submission_id"][new] = np.array([f"uuid:{u}" for u in fresh], dtype=object)
    return new


def _next_number(values: np.ndarray, prefix: str) -> int:
    return max(int(v[len(prefix) :]) for v in values.tolist()) + 1


def apply_day(world: World, seed: int) -> dict:
    rng = np.random.default_rng([world.seed, seed, len(world.evolutions), 11])
    day = np.datetime64(world.today.isoformat(), "D")
    world.today += timedelta(days=1)
    world.now = world.now + np.timedelta64(1, "D")
    total = max(20, int(round(world.submissions * 0.003)))
    counts = {f: max(1, int(round(total * s))) for f, s in SHARES.items()}
    log: dict = {"seed": seed, "day": str(day), "new": {}, "edited": {}, "deleted": {}}
    f = world.forms

    # New pregnancy registrations: new women, registered today.
    reg = f["pregnancy_registration"]
    tpl = weighted_sample(rng, _clean(reg).astype(float), counts["pregnancy_registration"])
    new = _new_rows(world, "pregnancy_registration", tpl, np.full(len(tpl), day), rng)
    first = _next_number(reg["woman_id"][: new[0]], "W")
    reg["woman_id"][new] = ids("W", first, len(new))
    gw = rng.integers(6, 31, len(new))
    reg["registration_date"][new] = day
    reg["lmp_date"][new] = day - (gw * 7).astype("timedelta64[D]")
    reg["gestation_weeks"][new] = gw.astype(float)
    reg["_due"][new] = reg["lmp_date"][new] + np.timedelta64(280, "D")
    reg["phone"][new] = phones(rng, len(new))
    log["new"]["pregnancy_registration"] = len(new)

    # ANC visits today for registered women not yet due.
    women = np.flatnonzero(
        (reg["_dup_of"] < 0) & ~reg["_deleted"] & (reg["registration_date"] < day) & (reg["_due"] > day)
    )
    anc = f["anc_visit"]
    chosen = women[pick(rng, len(women), counts["anc_visit"])]
    by_woman = {w: i for i, w in enumerate(anc["woman_id"].tolist())}
    tpl_anc = np.array([by_woman.get(w, 0) for w in reg["woman_id"][chosen].tolist()], dtype=np.int64)
    new = _new_rows(world, "anc_visit", tpl_anc, np.full(len(tpl_anc), day), rng)
    for col in ("woman_id", "state", "district", "block", "village"):
        anc[col][new] = reg[col][chosen]
    previous = {}
    for w in anc["woman_id"][: new[0]].tolist():
        previous[w] = previous.get(w, 0) + 1
    anc["visit_number"][new] = [float(previous.get(w, 0) + 1) for w in anc["woman_id"][new].tolist()]
    anc["_out_of_range"][new] = False
    anc["hb_gdl"][new] = np.round(np.clip(rng.normal(10.6, 1.4, len(new)), 5.5, 15.5), 1)
    anc["bp_systolic"][new] = np.rint(np.clip(rng.normal(112, 11, len(new)), 85, 175))
    log["new"]["anc_visit"] = len(new)

    # Deliveries of women who reached their due date and have none recorded yet.
    delivered = set(f["delivery"]["woman_id"].tolist())
    due = np.flatnonzero(
        (reg["_dup_of"] < 0)
        & (reg["_due"] <= day + np.timedelta64(7, "D"))
        & (reg["_due"] >= day - np.timedelta64(14, "D"))
        & np.array([w not in delivered for w in reg["woman_id"].tolist()])
    )
    chosen = due[pick(rng, len(due), counts["delivery"])]
    d = f["delivery"]
    tpl_d = pick(rng, len(d["_submitted"]), len(chosen), exclude=np.flatnonzero(~_clean(d)))
    tpl_d = tpl_d[: len(chosen)]
    chosen = chosen[: len(tpl_d)]
    new = _new_rows(world, "delivery", tpl_d, np.full(len(tpl_d), day), rng)
    for col in ("woman_id", "state", "district", "block", "village"):
        d[col][new] = reg[col][chosen]
    d["delivery_date"][new] = day
    babies = world.repeats["delivery"]
    b0 = len(babies["_parent"])
    for key in babies:
        babies[key] = np.concatenate([babies[key], babies[key][: len(new)]])
    babies["_parent"][b0:] = new
    babies["birth_weight_kg"][b0:] = np.round(rng.normal(2.85, 0.4, len(new)), 2)
    log["new"]["delivery"] = len(new)

    # Household visits today, repeating a household's latest visit with today's ages.
    ch, kids = f["child_health"], world.repeats["child_health"]
    latest = {}
    ok = _clean(ch)
    for i, h in enumerate(ch["household_id"].tolist()):
        if ok[i]:
            latest[h] = i
    order = np.argsort(kids["_parent"], kind="stable")
    parents = kids["_parent"][order]
    candidates = np.array(sorted(latest.values()), dtype=np.int64)
    starts = np.searchsorted(parents, candidates, "left")
    ends = np.searchsorted(parents, candidates, "right")
    candidates = candidates[ends > starts]
    sorted_dob = kids["dob"][order].astype("datetime64[D]").astype(np.int64)
    first_rows = np.flatnonzero(np.r_[True, parents[1:] != parents[:-1]])
    oldest_of = np.minimum.reduceat(sorted_dob, first_rows)  # per visit: its oldest child's dob
    oldest = oldest_of[np.searchsorted(parents[first_rows], candidates)]
    young = (day.astype(np.int64) - oldest) < 58 * 30  # every child still under five today
    candidates = candidates[young]
    tpl_c = candidates[pick(rng, len(candidates), counts["child_health"])]
    new = _new_rows(world, "child_health", tpl_c, np.full(len(tpl_c), day), rng)
    ch["_version"][new] = "v2"
    rows = np.concatenate(
        [
            order[a:b]
            for a, b in zip(
                np.searchsorted(parents, tpl_c, "left"), np.searchsorted(parents, tpl_c, "right"), strict=True
            )
        ]
    )
    new_parent = np.repeat(
        new, np.searchsorted(parents, tpl_c, "right") - np.searchsorted(parents, tpl_c, "left")
    )
    k0 = len(kids["_parent"])
    for key in kids:
        kids[key] = np.concatenate([kids[key], kids[key][rows]])
    kids["_parent"][k0:] = new_parent
    age_days = (day - kids["dob"][k0:]).astype(np.int64)
    kids["_age_days"][k0:] = age_days
    kids["age_months"][k0:] = np.floor(age_days / 30.4375)
    kids["oedema"][k0:] = None
    measured = np.isfinite(kids["weight_kg"][k0:])
    kids["muac_cm"][k0:] = np.where(
        measured & (kids["age_months"][k0:] >= 6), np.round(rng.normal(14.0, 0.8, len(rows)), 1), np.nan
    )
    kids["_out_of_range"][k0:] = False
    log["new"]["child_health"] = len(new)

    # New scheme applications, and decisions on pending ones (edits of the ODK submission).
    sch = f["scheme_application"]
    tpl_s = weighted_sample(rng, _clean(sch).astype(float), counts["scheme_application"])
    new = _new_rows(world, "scheme_application", tpl_s, np.full(len(tpl_s), day), rng)
    if len(new):  # a small world can have no application to add today
        first = _next_number(sch["application_id"][: new[0]], "APP")
        sch["application_id"][new] = ids("APP", first, len(new))
    sch["applied_date"][new] = day
    sch["status"][new] = "pending"
    sch["decision_date"][new] = np.datetime64("NaT")
    sch["benefit_received_date"][new] = np.datetime64("NaT")
    log["new"]["scheme_application"] = len(new)
    pending = np.flatnonzero(
        (sch["status"] == "pending")
        & ~sch["_deleted"]
        & (sch["_dup_of"] < 0)
        & (sch["applied_date"] <= day - np.timedelta64(7, "D"))
    )
    decide = pending[pick(rng, len(pending), max(1, len(pending) // 20))]
    sch["status"][decide] = np.where(rng.random(len(decide)) < 0.8, "approved", "rejected")
    sch["decision_date"][decide] = day
    _edit(world, "scheme_application", decide, day, rng)
    log["edited"]["scheme_application"] = sch["_submission_id"][decide].tolist()

    # A few KoBo registrations get a corrected phone number.
    fixable = np.flatnonzero(_clean(reg) & np.array([p is not None for p in reg["phone"].tolist()]))
    fix = fixable[pick(rng, len(fixable), max(1, counts["pregnancy_registration"] // 5))]
    for i in fix:
        reg["_edit_note"][i] = ("phone", reg["phone"][i])
    reg["phone"][fix] = phones(rng, len(fix))
    _edit(world, "pregnancy_registration", fix, day, rng)
    log["edited"]["pregnancy_registration"] = reg["_submission_id"][fix].tolist()

    # Deletes: hard on KoBo, soft on ODK.
    for form in ("child_health", "anc_visit"):
        t = f[form]
        gone = pick(rng, len(t["_submitted"]), max(1, counts[form] // 10), exclude=np.flatnonzero(~_clean(t)))
        t["_deleted"][gone] = True
        t["_deleted_at"][gone] = _daytime(day, rng, len(gone))
        log["deleted"][form] = t["_submission_id"][gone].tolist()

    _assign_kobo_ids(world)
    world.evolutions.append(seed)
    world.evolution_log.append(log)
    return log


def _daytime(day: np.datetime64, rng: np.random.Generator, n: int) -> np.ndarray:
    local = day.astype("datetime64[ms]") + (rng.integers(10 * 3600, 18 * 3600, n) * 1000).astype(
        "timedelta64[ms]"
    )
    return local - IST


def _edit(world: World, form: str, rows: np.ndarray, day: np.datetime64, rng: np.random.Generator) -> None:
    t = world.forms[form]
    t["_edited"][rows] = True
    t["_edits"][rows] += 1
    t["_updated"][rows] = _daytime(day, rng, len(rows))
    t["_uuid"][rows] = uuid4s(rng, len(rows))
    if form not in KOBO_FORMS:
        t["_review"][rows] = "edited"


def _assign_kobo_ids(world: World) -> None:
    """New KoBo submissions continue the server's _id sequence in arrival order."""
    pending = [(f, np.flatnonzero(world.forms[f]["_id"] < 0)) for f in KOBO_FORMS]
    next_id = max(int(world.forms[f]["_id"].max()) for f in KOBO_FORMS) + 1
    arrivals = sorted(
        (world.forms[f]["_submitted"][i], k, f, i) for k, (f, rows) in enumerate(pending) for i in rows
    )
    for _, _, form, i in arrivals:
        world.forms[form]["_id"][i] = next_id
        world.forms[form]["_submission_id"][i] = str(next_id)
        next_id += 1


def evolve(data_dir: Path, seed: int) -> dict:
    facts_path = data_dir / "ground_truth" / "world.json"
    if not facts_path.exists():
        raise FileNotFoundError(
            f"{data_dir} is not a demo world: {facts_path} is missing (run generate first)"
        )
    facts = json.loads(facts_path.read_text())
    today = generated_today(date.fromisoformat(facts["window"]["start"]))
    world = build_world(int(facts["submissions"]), int(facts["seed"]), today)
    for earlier in facts.get("evolutions", []):
        apply_day(world, int(earlier))
    log = apply_day(world, int(seed))
    summary = write_world(world, data_dir)
    summary.update(
        {
            "seed": world.seed,
            "evolution": log["seed"],
            "day": log["day"],
            "new": log["new"],
            "edited": {k: len(v) for k, v in log["edited"].items()},
            "deleted": {k: len(v) for k, v in log["deleted"].items()},
            "today": world.today.isoformat(),
        }
    )
    return summary
