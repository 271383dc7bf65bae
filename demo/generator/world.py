"""Simulate the programme: who was registered, visited, delivered, measured and applied, and when.

Everything is vectorised with numpy so a million submissions take seconds. A world is a set of tables,
one per form (one row per submission the server received, duplicates included) plus one per repeat,
held as dicts of numpy arrays. Answer columns carry the question's name; system columns start with "_".
Missing answers are None (text), NaN (numbers) or NaT (dates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from demo.generator import geography as geo
from demo.generator import who
from demo.generator.forms import DANGER_SIGNS, INSTITUTIONAL_PLACES, SCHEMES, VACCINES

Table = dict[str, np.ndarray]
IST = np.timedelta64(19800, "s")  # India Standard Time, UTC+05:30: forms record local time
KOBO_FORMS = ("pregnancy_registration", "child_health")
ODK_FORMS = ("anc_visit", "delivery", "scheme_application")
ALL_FORMS = (*KOBO_FORMS, *ODK_FORMS)
REPEATS = {"child_health": "child", "delivery": "baby"}
SHARES = {"pregnancy_registration": 0.12, "anc_visit": 0.36, "delivery": 0.08, "child_health": 0.32}
N_WORKERS = 300
LATE_MIN_DAYS = 8  # late submissions arrive at least this many days after the event (contract: > 7 days)

FEMALE = [
    "Sunita",
    "Anita",
    "Pooja",
    "Priya",
    "Rekha",
    "Kavita",
    "Savita",
    "Geeta",
    "Meena",
    "Seema",
    "Sarita",
    "Asha",
    "Lakshmi",
    "Radha",
    "Shanti",
    "Kiran",
    "Neha",
    "Ritu",
    "Suman",
    "Mamta",
    "Jyoti",
    "Sangita",
    "Poonam",
    "Renu",
    "Usha",
    "Nisha",
    "Sushma",
    "Manju",
    "Rani",
    "Sapna",
    "Farzana",
    "Shabnam",
]
MALE = [
    "Ramesh",
    "Suresh",
    "Rajesh",
    "Mahesh",
    "Dinesh",
    "Mukesh",
    "Anil",
    "Sunil",
    "Vijay",
    "Sanjay",
    "Rakesh",
    "Manoj",
    "Ashok",
    "Santosh",
    "Pramod",
    "Ravi",
    "Arun",
    "Ganesh",
    "Vinod",
    "Deepak",
    "Imran",
    "Salim",
]
BOYS = [
    "Aarav",
    "Vivaan",
    "Aditya",
    "Krishna",
    "Arjun",
    "Ayaan",
    "Reyansh",
    "Shivansh",
    "Kabir",
    "Rudra",
    "Ishaan",
]
GIRLS = ["Ananya", "Diya", "Saanvi", "Aadhya", "Pari", "Anika", "Navya", "Kavya", "Myra", "Ira", "Zoya"]
SURNAMES = {
    "MH": ["Patil", "Jadhav", "Pawar", "Shinde", "More", "Gaikwad", "Kale", "Deshmukh"],
    "UP": ["Yadav", "Singh", "Verma", "Gupta", "Maurya", "Pal", "Mishra", "Khan"],
    "BR": ["Kumar", "Paswan", "Mandal", "Prasad", "Sah", "Ray", "Jha", "Ansari"],
}
# State-level programme parameters: institutional delivery rate, immunisation continuation per step,
# mean height-for-age z-score of children.
STATE_PARAMS = {
    "MH": {"institutional": 0.93, "continue": 0.97, "haz": -0.9},
    "UP": {"institutional": 0.80, "continue": 0.94, "haz": -1.3},
    "BR": {"institutional": 0.74, "continue": 0.93, "haz": -1.45},
}
# Immunisation schedule steps: (due age in days, vaccines given at that contact).
SCHEDULE = [
    (0, ["bcg", "opv0"]),
    (42, ["opv1", "penta1", "rvv1"]),
    (70, ["opv2", "penta2", "rvv2"]),
    (98, ["opv3", "penta3", "rvv3"]),
    (274, ["mr1"]),
    (487, ["mr2", "dpt_b1"]),
]
VACCINE_ORDER = [v for v, _, _ in VACCINES]


@dataclass
class World:
    seed: int
    submissions: int
    today: date
    now: np.datetime64  # the instant the world is observed (UTC)
    start: date
    v2_from: date  # child_health v2 is used for visits from this date
    workers: Table
    forms: dict[str, Table] = field(default_factory=dict)
    repeats: dict[str, Table] = field(default_factory=dict)
    mess: dict = field(default_factory=dict)
    evolutions: list[int] = field(default_factory=list)
    evolution_log: list[dict] = field(default_factory=list)
    targets: list = field(default_factory=list)  # (district_code, month, target) from the targets sheet


WINDOW_DAYS = 365


def world_dates(seed: int, today: date | None = None) -> tuple[date, date]:
    """The world's 'today' and the start of its 12-month window.

    By default 'today' is derived from the seed (never the wall clock), so a seed always gives the same world;
    the demo passes the real date so that its data looks fresh in the freshness checks.
    """
    if today is None:
        today = date(2025, 6, 1) + timedelta(days=seed % 211)
    return today, today - timedelta(days=WINDOW_DAYS)


def generated_today(window_start: date) -> date:
    """The 'today' a world was generated for: evolutions move 'today' on, never the window start."""
    return window_start + timedelta(days=WINDOW_DAYS)


def rng_for(seed: int, part: int) -> np.random.Generator:
    """One independent stream per part of the world, so changing one part does not reshuffle the others."""
    return np.random.default_rng([seed, part])


def d64(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


def weighted_sample(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """k distinct indices drawn with probability proportional to weight (Efraimidis–Spirakis), sorted."""
    ok = weights > 0
    k = min(k, int(ok.sum()))
    if k <= 0:
        return np.array([], dtype=np.int64)
    keys = np.full(len(weights), -np.inf)
    keys[ok] = np.log(rng.random(int(ok.sum()))) / weights[ok]
    chosen = np.argpartition(-keys, k - 1)[:k]
    return np.sort(chosen)


def pick(rng: np.random.Generator, n: int, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    weights = np.ones(n)
    if exclude is not None and len(exclude):
        weights[exclude] = 0
    return weighted_sample(rng, weights, k)


def names(rng: np.random.Generator, first: list[str], state: np.ndarray) -> np.ndarray:
    f = rng.integers(0, len(first), len(state))
    s = rng.integers(0, 8, len(state))
    return np.array(
        [f"{first[a]} {SURNAMES[st][b]}" for a, b, st in zip(f, s, state, strict=True)], dtype=object
    )


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.array([str(x) for x in rng.integers(6_000_000_000, 9_999_999_999, n)], dtype=object)


def ids(prefix: str, start: int, n: int, width: int = 7) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(start, start + n)], dtype=object)


def event_dates(rng: np.random.Generator, n: int, start: np.datetime64, days: int) -> np.ndarray:
    """Dates in [start, start+days): the programme grows, so later months are a little busier."""
    offsets = np.floor(rng.beta(1.25, 1.0, n) * days).astype(np.int64)
    return start + offsets.astype("timedelta64[D]")


# --- field workers ------------------------------------------------------------------------------------------


def build_workers(seed: int) -> Table:
    rng = rng_for(seed, 1)
    per_block = np.full(len(geo.BLOCKS), N_WORKERS // len(geo.BLOCKS))
    per_block[: N_WORKERS - per_block.sum()] += 1
    block_idx = np.repeat(np.arange(len(geo.BLOCKS)), per_block)
    block = np.array([geo.BLOCKS[i].code for i in block_idx], dtype=object)
    district = np.array([geo.BLOCKS[i].parent for i in block_idx], dtype=object)
    state = np.array([geo.DISTRICT_BY_CODE[d].parent for d in district], dtype=object)
    joined = np.datetime64("2019-01-01") + rng.integers(0, 5 * 365, N_WORKERS).astype("timedelta64[D]")
    return {
        "worker_id": ids("FW", 1, N_WORKERS, 4),
        "worker_name": names(rng, FEMALE, state),
        "supervisor_id": np.array([f"SV{i + 1:03d}" for i in block_idx], dtype=object),
        "state": state,
        "district": district,
        "block": block,
        "phone": phones(rng, N_WORKERS),
        "joining_date": joined,
        "block_index": block_idx,
        "block_start": np.concatenate([[0], np.cumsum(per_block)[:-1]])[block_idx],
        "block_count": per_block[block_idx],
    }


def village_weights() -> np.ndarray:
    rng = np.random.default_rng(7)  # fixed, like the geography
    state_weight = {"MH": 0.8, "UP": 1.2, "BR": 1.1}
    va = geo.village_arrays()
    return rng.uniform(0.5, 1.5, len(va["village"])) * np.array([state_weight[s] for s in va["state"]])


def place_columns(village_idx: np.ndarray) -> Table:
    va = geo.village_arrays()
    return {k: va[k][village_idx].astype(object) for k in ("state", "district", "block", "village")}


def assign_workers(rng: np.random.Generator, workers: Table, village_idx: np.ndarray) -> np.ndarray:
    """Index of the field worker who filled each form: one of the workers of the village's block."""
    va = geo.village_arrays()
    block = va["block_index"][village_idx]
    first = np.searchsorted(workers["block_index"], block)
    count = np.bincount(workers["block_index"], minlength=len(geo.BLOCKS))[block]
    return first + np.floor(rng.random(len(village_idx)) * count).astype(np.int64)


def gps_near(rng: np.random.Generator, village_idx: np.ndarray) -> tuple[np.ndarray, ...]:
    va = geo.village_arrays()
    lat = np.round(va["lat"][village_idx] + rng.normal(0, 0.01, len(village_idx)), 6)
    lon = np.round(va["lon"][village_idx] + rng.normal(0, 0.01, len(village_idx)), 6)
    alt = np.round(rng.uniform(50, 700, len(village_idx)), 1)
    acc = np.round(rng.uniform(3, 25, len(village_idx)), 1)
    return lat, lon, alt, acc


# --- submission timing --------------------------------------------------------------------------------------


def timing(rng: np.random.Generator, dates: np.ndarray, now: np.datetime64, late_rate: float) -> Table:
    """When the form was opened and closed (local time) and when the server received it (UTC)."""
    n = len(dates)
    start_local = dates.astype("datetime64[ms]") + (
        rng.integers(9 * 3600, 18 * 3600, n) * 1000 + rng.integers(0, 1000, n)
    ).astype("timedelta64[ms]")
    end_local = start_local + (rng.integers(4 * 60, 25 * 60, n) * 1000).astype("timedelta64[ms]")
    delay = rng.integers(60, 8 * 3600, n)  # seconds: most forms sync the same day
    later = rng.random(n) < 0.25
    delay = np.where(later, rng.integers(86400, 3 * 86400, n), delay)
    late = rng.random(n) < late_rate
    delay = np.where(late, rng.integers(LATE_MIN_DAYS * 86400, 40 * 86400, n), delay)
    submitted = (end_local - IST).astype("datetime64[s]") + delay.astype("timedelta64[s]")
    cap = now - rng.integers(60, 6 * 3600, n).astype("timedelta64[s]")
    submitted = np.minimum(submitted, cap)
    submitted = np.maximum(submitted, (end_local - IST).astype("datetime64[s]") + np.timedelta64(30, "s"))
    is_late = submitted > (dates + np.timedelta64(7, "D")).astype("datetime64[s]")
    return {"_start": start_local, "_end": end_local, "_submitted": submitted, "_late": is_late}


def base_system(n: int, worker_idx: np.ndarray, version: str | np.ndarray = "v1") -> Table:
    return {
        "_worker": worker_idx,
        "_dup_of": np.full(n, -1),
        "_deleted": np.zeros(n, bool),
        "_edited": np.zeros(n, bool),
        "_edits": np.zeros(n, np.int64),
        "_updated": np.full(n, np.datetime64("NaT"), "datetime64[ms]"),
        "_version": np.full(n, version, dtype=object) if isinstance(version, str) else version,
    }


# --- the women: registration, ANC visits, deliveries --------------------------------------------------------


def build_women(world: World, counts: dict[str, int]) -> None:
    rng = rng_for(world.seed, 2)
    today, start = d64(world.today), d64(world.start)
    days = (today - start).astype(int)
    n = counts["pregnancy_registration"]
    vw = village_weights()
    village = weighted_choice(rng, vw, n)
    places = place_columns(village)
    reg = event_dates(rng, n, start, days)
    gw = rng.integers(6, 31, n)
    lmp = reg - (gw * 7 + rng.integers(0, 7, n)).astype("timedelta64[D]")
    due = lmp + (280 + np.rint(rng.normal(-3, 9, n)).astype(np.int64)).astype("timedelta64[D]")
    worker = assign_workers(rng, world.workers, village)
    lat, lon, alt, acc = gps_near(rng, village)
    danger = np.where(rng.random(n) < 0.86, "none", None).astype(object)
    signs = [s for s, _, _ in DANGER_SIGNS[1:]]
    some = np.flatnonzero(danger == None)  # noqa: E711
    first = rng.integers(0, len(signs), len(some))
    second = rng.integers(0, len(signs), len(some))
    two = rng.random(len(some)) < 0.3
    danger[some] = [
        " ".join(sorted({signs[a], signs[b]}, key=signs.index)) if t else signs[a]
        for a, b, t in zip(first, second, two, strict=True)
    ]
    table = {
        "worker_id": world.workers["worker_id"][worker],
        **places,
        "woman_id": ids("W", 1, n),
        "woman_name": names(rng, FEMALE, places["state"]),
        "age_years": np.clip(np.rint(rng.normal(24.5, 4.5, n)), 16, 45).astype(float),
        "phone": phones(rng, n),
        "aadhaar": np.array([f"{x:012d}" for x in rng.integers(2 * 10**11, 10**12 - 1, n)], dtype=object),
        "home_gps_lat": lat,
        "home_gps_lon": lon,
        "home_gps_alt": alt,
        "home_gps_acc": acc,
        "registration_date": reg,
        "lmp_date": lmp,
        "gestation_weeks": ((reg - lmp).astype(int) // 7).astype(float),
        "gravida": (1 + rng.poisson(1.1, n)).astype(float),
        "danger_signs": danger,
        **timing(rng, reg, world.now, 0.03),
        **base_system(n, worker),
        "_due": due,
        "_village": village,
    }
    world.forms["pregnancy_registration"] = table

    # ANC visits: up to nine monthly contact slots per woman, before delivery and before today.
    slots = 9
    woman = np.repeat(np.arange(n), slots)
    k = np.tile(np.arange(slots), n)
    slot_date = reg[woman] + (
        rng.integers(0, 8, n * slots) + k * 30 + rng.integers(-4, 5, n * slots) * (k > 0)
    ).astype("timedelta64[D]")
    valid = (slot_date < np.minimum(due[woman], today)) & (slot_date >= reg[woman])
    adherence = rng.beta(3.0, 1.4, n)
    weight = np.where(valid, adherence[woman] * 0.95**k, 0.0)
    chosen = weighted_sample(rng, weight, counts["anc_visit"])
    w_of = woman[chosen]
    order = np.lexsort((slot_date[chosen], w_of))
    chosen, w_of = chosen[order], w_of[order]
    visit_date = slot_date[chosen]
    first_of_woman = np.r_[True, w_of[1:] != w_of[:-1]]
    run_start = np.maximum.accumulate(np.where(first_of_woman, np.arange(len(w_of)), 0))
    visit_number = (np.arange(len(w_of)) - run_start + 1).astype(float)
    m = len(chosen)
    a_worker = assign_workers(rng, world.workers, village[w_of])
    gest_days = (visit_date - lmp[w_of]).astype(int)
    world.forms["anc_visit"] = {
        "worker_id": world.workers["worker_id"][a_worker],
        **place_columns(village[w_of]),
        "woman_id": table["woman_id"][w_of],
        "visit_date": visit_date,
        "visit_number": visit_number,
        "weight_kg": np.round(rng.normal(48, 7, m) + gest_days / 280 * 9, 1),
        "hb_gdl": np.round(np.clip(rng.normal(10.6, 1.4, m), 5.5, 15.5), 1),
        "bp_systolic": np.rint(np.clip(rng.normal(112, 11, m), 85, 175)).astype(float),
        "bp_diastolic": np.rint(np.clip(rng.normal(73, 8, m), 50, 115)).astype(float),
        "ifa_tablets": rng.choice(np.array([0.0, 30.0, 30.0, 60.0, 90.0]), m),
        **timing(rng, visit_date, world.now, 0.03),
        **base_system(m, a_worker),
    }

    # Deliveries reported by the field worker after the due date has passed.
    delivered = np.flatnonzero(due < today)
    reported = delivered[np.sort(pick(rng, len(delivered), counts["delivery"]))]
    m = len(reported)
    state = places["state"][reported]
    inst_rate = np.array([STATE_PARAMS[s]["institutional"] for s in state])
    institutional = rng.random(m) < inst_rate
    inst_place = rng.choice(np.array(INSTITUTIONAL_PLACES, dtype=object), m, p=[0.32, 0.30, 0.23, 0.15])
    other_place = np.where(rng.random(m) < 0.9, "home", "other").astype(object)
    d_worker = assign_workers(rng, world.workers, village[reported])
    place = np.where(institutional, inst_place, other_place).astype(object)
    dtype = rng.choice(np.array(["normal", "assisted", "caesarean"], dtype=object), m, p=[0.78, 0.07, 0.15])
    dtype = np.where(institutional, dtype, "normal").astype(object)
    world.forms["delivery"] = {
        "worker_id": world.workers["worker_id"][d_worker],
        **place_columns(village[reported]),
        "woman_id": table["woman_id"][reported],
        "delivery_date": due[reported],
        "place": place,
        "delivery_type": dtype,
        **timing(rng, due[reported], world.now, 0.03),
        **base_system(m, d_worker),
    }
    babies = np.where(rng.random(m) < 0.015, 2, 1)
    parent = np.repeat(np.arange(m), babies)
    b = len(parent)
    world.repeats["delivery"] = {
        "_parent": parent,
        "sex": np.where(rng.random(b) < 0.515, "male", "female").astype(object),
        "birth_weight_kg": np.round(
            np.clip(rng.normal(2.85, 0.45, b) - (babies[parent] - 1) * 0.5, 1.0, 4.8), 2
        ),
        "outcome": np.where(rng.random(b) < 0.985, "live_birth", "stillbirth").astype(object),
    }


def weighted_choice(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cdf = np.cumsum(weights) / weights.sum()
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(weights) - 1)


# --- children under five: household visits, growth, immunisation ----------------------------------------


def build_children(world: World, count: int) -> None:
    rng = rng_for(world.seed, 3)
    today, start = d64(world.today), d64(world.start)
    h = max(1, int(round(count / 6.5)))
    village = weighted_choice(rng, village_weights(), h)
    hh_places = place_columns(village)
    n_kids = rng.choice(np.array([1, 2, 3]), h, p=[0.55, 0.35, 0.10])
    hh_of_child = np.repeat(np.arange(h), n_kids)
    c = len(hh_of_child)
    dob = today - rng.integers(20, int(5.3 * 365), c).astype("timedelta64[D]")
    sex = np.where(rng.random(c) < 0.515, "male", "female").astype(object)
    state = hh_places["state"][hh_of_child]
    haz_mu = np.array([STATE_PARAMS[s]["haz"] for s in state])
    child_haz = rng.normal(haz_mu, 1.1)
    child_whz = rng.normal(-0.55, 0.95, c)
    # Immunisation: a child keeps attending until a step is missed; each step is a little late.
    cont = np.array([STATE_PARAMS[s]["continue"] for s in state])
    received_age = {}
    attending = np.ones(c, bool)
    for due_age, vaccines in SCHEDULE:
        attending &= rng.random(c) < (cont if due_age else np.maximum(cont, 0.985))
        given_at = due_age + np.rint(rng.exponential(16 if due_age else 2, c)).astype(np.int64)
        for v in vaccines:
            skip = rng.random(c) < (0.12 if v.startswith("rvv") else 0.01)
            received_age[v] = np.where(attending & ~skip, given_at, np.iinfo(np.int64).max)

    # Visit slots, about monthly, from a first visit early in the window.
    slots = 13
    hh = np.repeat(np.arange(h), slots)
    k = np.tile(np.arange(slots), h)
    first = rng.integers(0, 35, h)
    slot_date = start + (first[hh] + k * 30 + rng.integers(-4, 5, h * slots) * (k > 0)).astype(
        "timedelta64[D]"
    )
    # which children each slot would include: born, and under 60 completed months (the form's calculation)
    kid_first = np.concatenate([[0], np.cumsum(n_kids)[:-1]])
    counts_per_slot = np.zeros(h * slots, np.int64)
    for j in range(3):
        has = n_kids[hh] > j
        kid = np.where(has, kid_first[hh] + j, 0)
        age = (slot_date - dob[kid]).astype(np.int64)
        counts_per_slot += has & (age >= 0) & (np.floor(age / 30.4375) < 60)
    valid = (slot_date < today) & (counts_per_slot > 0)
    engagement = rng.uniform(0.4, 1.0, h)
    chosen = weighted_sample(rng, np.where(valid, engagement[hh], 0.0), count)
    v_hh = hh[chosen]
    v_date = slot_date[chosen]
    order = np.lexsort((v_date, v_hh))
    v_hh, v_date = v_hh[order], v_date[order]
    m = len(v_hh)
    v_worker = assign_workers(rng, world.workers, village[v_hh])
    lat, lon, alt, acc = gps_near(rng, village[v_hh])
    version = np.where(v_date >= d64(world.v2_from), "v2", "v1").astype(object)
    head_names = names(rng, MALE, hh_places["state"])
    hh_ids = ids("HH", 1, h)
    world.forms["child_health"] = {
        "worker_id": world.workers["worker_id"][v_worker],
        "visit_date": v_date,
        **place_columns(village[v_hh]),
        "household_id": hh_ids[v_hh],
        "head_name": head_names[v_hh],
        "home_gps_lat": lat,
        "home_gps_lon": lon,
        "home_gps_alt": alt,
        "home_gps_acc": acc,
        **timing(rng, v_date, world.now, 0.03),
        **base_system(m, v_worker, version),
    }

    # One repeat row per child in the household who is born and under five at the visit.
    parent = np.repeat(np.arange(m), n_kids[v_hh])
    within = np.arange(len(parent)) - np.repeat(
        np.concatenate([[0], np.cumsum(n_kids[v_hh])[:-1]]), n_kids[v_hh]
    )
    kid = kid_first[v_hh][parent] + within
    age_days = (v_date[parent] - dob[kid]).astype(np.int64)
    age_months = np.floor(age_days / 30.4375)
    keep = (age_days >= 0) & (age_months < 60)
    parent, kid, age_days, age_months = parent[keep], kid[keep], age_days[keep], age_months[keep]
    r = len(parent)
    child_names = np.where(
        sex == "male",
        np.array(BOYS, dtype=object)[rng.integers(0, len(BOYS), c)],
        np.array(GIRLS, dtype=object)[rng.integers(0, len(GIRLS), c)],
    )
    # Growth follows each child's own z-score track, with measurement noise at every visit.
    k_sex = sex[kid]
    under2 = age_months < 24
    height = who.value_at_z("lhfa", k_sex, age_days, child_haz[kid] + rng.normal(0, 0.12, r))
    height = np.round(height, 1)
    hr = who.round_cm(height)
    median_w = np.where(
        under2,
        who.value_at_z("wfl", k_sex, np.where(under2, hr, np.nan), child_whz[kid] + rng.normal(0, 0.15, r)),
        who.value_at_z("wfh", k_sex, np.where(under2, np.nan, hr), child_whz[kid] + rng.normal(0, 0.15, r)),
    )
    fallback = who.value_at_z("wfa", k_sex, age_days, 0.65 * child_haz[kid] - 0.3)
    weight = np.round(np.where(np.isfinite(median_w), median_w, fallback), 1)
    measured = rng.random(r) < 0.86
    version_r = version[parent]
    muac = np.round(np.clip(13.9 + 0.9 * child_whz[kid] + rng.normal(0, 0.5, r), 9.0, 19.0), 1)
    # the card's vaccines as a bit mask, turned into text once per distinct combination
    mask = np.zeros(r, np.int64)
    for bit, v in enumerate(VACCINE_ORDER):
        mask |= (age_days >= received_age[v][kid]).astype(np.int64) << bit
    combos, inverse = np.unique(mask, return_inverse=True)
    text = np.array(
        [" ".join(v for b, v in enumerate(VACCINE_ORDER) if m >> b & 1) or None for m in combos.tolist()],
        dtype=object,
    )
    vac = text[inverse]
    world.repeats["child_health"] = {
        "_parent": parent,
        "child_id": ids("C", 1, c)[kid],
        "child_name": child_names[kid],
        "sex": k_sex,
        "dob": dob[kid],
        "age_months": age_months,
        "weight_kg": np.where(measured, weight, np.nan),
        "height_cm": np.where(measured, height, np.nan),
        "muac_cm": np.where((version_r == "v2") & measured & (age_months >= 6), muac, np.nan),
        "oedema": np.where(version_r == "v1", np.where(rng.random(r) < 0.005, "yes", "no"), None).astype(
            object
        ),
        "vaccines": vac,
        "_age_days": age_days,
    }


# --- welfare scheme applications ----------------------------------------------------------------------------


def build_schemes(world: World, count: int) -> None:
    rng = rng_for(world.seed, 4)
    today, start = d64(world.today), d64(world.start)
    days = (today - start).astype(int)
    fam = max(1, int(round(count / 1.4)))
    f_village = weighted_choice(rng, village_weights(), fam)
    f_state = place_columns(f_village)["state"]
    f_head = names(rng, MALE + FEMALE[:8], f_state)
    f_phone = phones(rng, fam)
    family = rng.integers(0, fam, count)
    applied = event_dates(rng, count, start, days)
    scheme_names = np.array([s for s, _, _ in SCHEMES], dtype=object)
    scheme = rng.choice(scheme_names, count, p=[0.25, 0.2, 0.2, 0.15, 0.08, 0.12])
    decision = applied + (7 + np.rint(rng.gamma(2.0, 12.0, count))).astype("timedelta64[D]")
    decided = decision < today
    approve = rng.random(count) < 0.82
    benefit = decision + (4 + np.rint(rng.gamma(2.0, 9.0, count))).astype("timedelta64[D]")
    got_benefit = decided & approve & (benefit < today)
    status = np.where(
        ~decided,
        "pending",
        np.where(~approve, "rejected", np.where(got_benefit, "benefit_received", "approved")),
    )
    worker = assign_workers(rng, world.workers, f_village[family])
    table = {
        "worker_id": world.workers["worker_id"][worker],
        **place_columns(f_village[family]),
        "application_id": ids("APP", 1, count),
        "family_id": ids("FAM", 1, fam, 6)[family],
        "head_name": f_head[family],
        "phone": f_phone[family],
        "scheme": scheme,
        "applied_date": applied,
        "status": status.astype(object),
        "decision_date": np.where(decided, decision, np.datetime64("NaT")),
        "benefit_received_date": np.where(got_benefit, benefit, np.datetime64("NaT")),
        **timing(rng, applied, world.now, 0.02),
        **base_system(count, worker),
    }
    # The worker updates the submission when the status changes: each change is an edit on the server.
    changes = decided.astype(np.int64) + got_benefit.astype(np.int64)
    last_change = np.where(got_benefit, benefit, decision)
    change_at = (
        last_change.astype("datetime64[ms]")
        + (rng.integers(9 * 3600, 18 * 3600, count) * 1000).astype("timedelta64[ms]")
        - IST
    )
    edited = changes > 0
    change_at = np.maximum(
        change_at, table["_submitted"].astype("datetime64[ms]") + np.timedelta64(3600_000, "ms")
    )
    edited &= change_at < world.now.astype("datetime64[ms]")
    table["_edited"] = edited
    table["_edits"] = np.where(edited, changes, 0)
    table["_updated"] = np.where(edited, change_at, np.datetime64("NaT", "ms"))
    world.forms["scheme_application"] = table


def build_world(submissions: int, seed: int, today: date | None = None) -> World:
    if submissions < 100:
        raise ValueError(f"--submissions must be at least 100 (got {submissions})")
    today, start = world_dates(seed, today)
    now = np.datetime64(f"{today.isoformat()}T03:30:00", "s")  # 09:00 in India on the world's 'today'
    world = World(seed, submissions, today, now, start, today - timedelta(days=150), build_workers(seed))
    targets = {f: int(round(submissions * s)) for f, s in SHARES.items()}
    dup = {f: max(2, int(round(t * 0.015))) for f, t in targets.items()}
    base = {f: targets[f] - dup[f] for f in targets}
    build_women(world, base)
    build_children(world, base["child_health"])
    so_far = sum(len(world.forms[f]["_submitted"]) for f in world.forms) + sum(dup.values())
    scheme_total = submissions - so_far
    dup["scheme_application"] = max(2, int(round(scheme_total * 0.015)))
    build_schemes(world, scheme_total - dup["scheme_application"])
    from demo.generator.mess import inject_mess

    inject_mess(world, dup)
    return world
