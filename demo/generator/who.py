"""WHO 2006 Child Growth Standards z-scores by the LMS method, vectorised.

The LMS tables are the dbt seeds the transform step owns (docs/contracts.md section 4):
transform/seeds/who_wfa.csv, who_lhfa.csv (sex, age_days, l, m, s), who_wfl.csv (sex, length_cm, ...),
who_wfh.csv (sex, height_cm, ...). Reading the same CSVs keeps the generator's ground truth and the dbt
marts on one set of numbers. Formula: z = ((x/M)^L - 1) / (L*S); for the weight-based indicators WHO's
restricted adjustment applies beyond ±3 SD (WHO Anthro technical notes / igrowup macro).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np

SEX_CODES = {"male": 0, "female": 1}
# Biologically implausible z-scores (WHO flags): excluded from an indicator's numerator and denominator.
FLAG_LIMITS = {"waz": (-6.0, 5.0), "haz": (-6.0, 6.0), "whz": (-5.0, 5.0)}


def seeds_dir() -> Path:
    """transform/seeds under $SANGAM_HOME, else under the checkout this package lives in."""
    home = os.environ.get("SANGAM_HOME")
    if home and (Path(home) / "transform" / "seeds").is_dir():
        return Path(home) / "transform" / "seeds"
    return Path(__file__).resolve().parents[2] / "transform" / "seeds"


@cache
def _table(name: str) -> dict[str, np.ndarray]:
    path = seeds_dir() / f"who_{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"WHO LMS table {path} is missing (the transform step commits it)")
    raw = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
    key = raw.dtype.names[1]
    sex = np.array([SEX_CODES[s] for s in raw["sex"]])
    return {"sex": sex, "key": raw[key].astype(float), "l": raw["l"], "m": raw["m"], "s": raw["s"]}


def _lookup(name: str, sex: np.ndarray, key: np.ndarray, step: float) -> tuple[np.ndarray, ...]:
    """L, M, S for each (sex, key); NaN where the key is outside the table."""
    t = _table(name)
    out = [np.full(len(key), np.nan) for _ in range(3)]
    for code in (0, 1):
        rows = t["sex"] == code
        keys = t["key"][rows]
        first = keys[0]
        finite = np.isfinite(key)
        idx = np.rint((np.where(finite, key, first) - first) / step).astype(np.int64)
        ok = (sex == code) & finite & (idx >= 0) & (idx < len(keys))
        safe = np.where(ok, idx, 0)
        for arr, col in zip(out, ("l", "m", "s"), strict=True):
            arr[ok] = t[col][rows][safe[ok]]
    return tuple(out)


def _z(x: np.ndarray, lms: tuple[np.ndarray, ...], restricted: bool) -> np.ndarray:
    lam, m, s = lms
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (np.power(x / m, lam) - 1.0) / (lam * s)
        if restricted:
            sd = lambda k: m * np.power(1.0 + lam * s * k, 1.0 / lam)  # noqa: E731
            sd3p, sd2p, sd3n, sd2n = sd(3.0), sd(2.0), sd(-3.0), sd(-2.0)
            z = np.where(z > 3, 3.0 + (x - sd3p) / (sd3p - sd2p), z)
            z = np.where(z < -3, -3.0 + (x - sd3n) / (sd2n - sd3n), z)
    return z


def sex_codes(sex: np.ndarray) -> np.ndarray:
    return np.where(sex == "male", 0, np.where(sex == "female", 1, -1))


def round_cm(x: np.ndarray) -> np.ndarray:
    """Round half away from zero to 0.1 cm, as SQL round() does."""
    return np.sign(x) * np.floor(np.abs(x) * 10.0 + 0.5) / 10.0


def z_scores(
    sex: np.ndarray,
    age_days: np.ndarray,
    weight_kg: np.ndarray,
    height_cm: np.ndarray,
    age_months: np.ndarray,
) -> dict[str, np.ndarray]:
    """WAZ, HAZ, WHZ. Length tables below 24 months, height tables from 24 months (by completed months)."""
    code = sex_codes(np.asarray(sex))
    age_days = np.asarray(age_days, dtype=float)
    w = np.asarray(weight_kg, dtype=float)
    h = np.asarray(height_cm, dtype=float)
    waz = _z(w, _lookup("wfa", code, age_days, 1.0), restricted=True)
    haz = _z(h, _lookup("lhfa", code, age_days, 1.0), restricted=False)
    hr = round_cm(h)
    under2 = np.asarray(age_months) < 24
    wfl = _z(w, _lookup("wfl", code, np.where(under2, hr, np.nan), 0.1), restricted=True)
    wfh = _z(w, _lookup("wfh", code, np.where(under2, np.nan, hr), 0.1), restricted=True)
    whz = np.where(under2, wfl, wfh)
    return {"waz": waz, "haz": haz, "whz": whz}


def value_at_z(name: str, sex: np.ndarray, key: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The measurement at z-score z (inverse LMS), used to simulate plausible children."""
    step = 1.0 if name in ("wfa", "lhfa") else 0.1
    lam, m, s = _lookup(name, sex_codes(np.asarray(sex)), np.asarray(key, dtype=float), step)
    with np.errstate(invalid="ignore"):
        return m * np.power(1.0 + lam * s * z, 1.0 / lam)
