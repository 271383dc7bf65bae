"""WHO 2006 LMS z-scores used by the ground truth (tables: transform/seeds/who_*.csv)."""

from __future__ import annotations

import numpy as np
import pytest

from demo.generator import who


def lms(name: str, sex: str, key: float) -> tuple[float, float, float]:
    t = who._table(name)
    row = np.flatnonzero((t["sex"] == who.SEX_CODES[sex]) & np.isclose(t["key"], key))[0]
    return float(t["l"][row]), float(t["m"][row]), float(t["s"][row])


def at(l_: float, m: float, s: float, z: float) -> float:
    return m * (1 + l_ * s * z) ** (1 / l_)


def test_median_scores_zero_and_sd_lines_score_their_z() -> None:
    l_, m, s = lms("wfa", "male", 365)
    weights = np.array([m, at(l_, m, s, -2), at(l_, m, s, 2)])
    z = who.z_scores(np.array(["male"] * 3), np.full(3, 365), weights, np.full(3, 75.0), np.full(3, 12))
    assert z["waz"] == pytest.approx([0.0, -2.0, 2.0], abs=1e-9)


def test_weight_beyond_three_sd_uses_the_restricted_adjustment() -> None:
    l_, m, s = lms("wfa", "female", 700)
    sd2, sd3 = at(l_, m, s, 2), at(l_, m, s, 3)
    x = sd3 + (sd3 - sd2)  # one "SD23" above the +3 line: restricted z is exactly 4
    raw = ((x / m) ** l_ - 1) / (l_ * s)
    z = who.z_scores(np.array(["female"]), np.array([700]), np.array([x]), np.array([85.0]), np.array([23]))
    assert z["waz"][0] == pytest.approx(4.0)
    assert raw != pytest.approx(4.0)


def test_length_below_24_months_and_height_from_24() -> None:
    l_, m, s = lms("wfl", "male", 80.0)
    z = who.z_scores(np.array(["male"]), np.array([700]), np.array([m]), np.array([80.0]), np.array([23]))
    assert z["whz"][0] == pytest.approx(0.0, abs=1e-9)
    l_, m, s = lms("wfh", "male", 80.0)
    z = who.z_scores(np.array(["male"]), np.array([740]), np.array([m]), np.array([80.0]), np.array([24]))
    assert z["whz"][0] == pytest.approx(0.0, abs=1e-9)


def test_outside_the_tables_gives_no_score() -> None:
    z = who.z_scores(
        np.array(["male", "female"]),
        np.array([400, 400]),
        np.array([np.nan, 9.0]),
        np.array([30.0, np.nan]),
        np.array([13, 13]),
    )
    assert np.isnan(z["waz"][0]) and np.isnan(z["whz"][0]) and np.isnan(z["haz"][1])


def test_rounding_to_a_tenth_is_half_away_from_zero() -> None:
    assert who.round_cm(np.array([74.25, 74.35, 74.249])).tolist() == [74.3, 74.4, 74.2]


def test_value_at_z_inverts_the_score() -> None:
    h = who.value_at_z("lhfa", np.array(["female"]), np.array([500]), np.array([-2.5]))
    z = who.z_scores(np.array(["female"]), np.array([500]), np.array([10.0]), h, np.array([16]))
    assert z["haz"][0] == pytest.approx(-2.5)
