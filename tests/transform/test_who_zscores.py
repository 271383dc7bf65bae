"""WHO 2006 z-scores computed by dbt (fct_child_growth) match WHO's published reference values to 0.01."""

from __future__ import annotations

import pytest

from tests.transform.conftest import WHO_POINTS, ZSCORE_VISIT


@pytest.mark.parametrize(
    ("child", "sex", "age_days", "weight", "height", "indicator", "expected"), WHO_POINTS
)
def test_zscore_matches_who_reference(query, child, sex, age_days, weight, height, indicator, expected):
    rows = query(
        f"""
        select g.{indicator}, g.age_days, g.measure
        from marts.fct_child_growth as g
        inner join staging.stg_kobo__child_health__child as c on c.row_id = g.row_id
        where c.child_id = ? and g.visit_date = ?
        """,
        [child, ZSCORE_VISIT],
    )
    assert len(rows) == 1, f"{child}: expected one growth row, got {rows}"
    z, days, measure = rows[0]
    assert days == age_days
    assert measure == ("L" if age_days < 731 else "H")
    assert z == pytest.approx(expected, abs=0.01), f"{child} {indicator}"


def test_only_measured_indicators_are_scored(query):
    # a weight without a length gives WAZ but neither HAZ nor WHZ
    (row,) = query(
        """select g.waz is not null, g.haz is null, g.whz is null from marts.fct_child_growth g
           join staging.stg_kobo__child_health__child c on c.row_id = g.row_id where c.child_id = 'z01'"""
    )
    assert row == (True, True, True)
