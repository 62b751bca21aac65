"""ICC(2,1), SEM, MDC95 and Bland-Altman against hand-computed textbook cases."""

from __future__ import annotations

import math

import pytest

from fixture_data import SHROUT_FLEISS
from sotmeasure.measure.repeatability import icc_2_1, repeatability


def test_icc_2_1_matches_shrout_fleiss_table() -> None:
    # BMS 11.24, JMS 32.49, EMS 1.02 -> (11.24-1.02)/(11.24+3*1.02+4*(32.49-1.02)/6) = 0.29
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.2898, abs=5e-4)


def test_sem_and_mdc95_follow_their_definitions() -> None:
    r = repeatability(SHROUT_FLEISS)
    # SD of all 24 ratings = 2.7104 (hand: mean 5.2917, sum of squares 168.96 / 23).
    assert r.sd == pytest.approx(2.7104, abs=1e-3)
    assert r.sem == pytest.approx(2.7104 * math.sqrt(1 - 0.28976), abs=2e-3)
    assert r.mdc95 == pytest.approx(1.96 * math.sqrt(2) * r.sem)
    assert r.ba_bias is None  # Bland-Altman only for two captures


def test_two_captures_bland_altman() -> None:
    # Capture 2 = capture 1 + (1, -1, 1, -1, 3): diffs mean 0.6, SD sqrt(2.8) = 1.6733.
    first = [2.0, 5.0, 8.0, -3.0, 0.0]
    second = [3.0, 4.0, 9.0, -4.0, 3.0]
    r = repeatability(list(zip(first, second, strict=True)))
    assert r.ba_bias == pytest.approx(0.6)
    assert r.ba_limits is not None
    assert r.ba_limits[0] == pytest.approx(0.6 - 1.96 * math.sqrt(2.8))
    assert r.ba_limits[1] == pytest.approx(0.6 + 1.96 * math.sqrt(2.8))
    assert 0.8 < r.icc_2_1 < 1.0


def test_perfect_agreement_and_bad_input() -> None:
    r = repeatability([[1.0, 1.0], [4.0, 4.0], [9.0, 9.0]])
    assert r.icc_2_1 == pytest.approx(1.0)
    assert r.mdc95 == pytest.approx(0.0)
    with pytest.raises(ValueError):
        repeatability([[1.0, 2.0]])
