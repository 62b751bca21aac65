"""Window statistics: the autocorrelation-aware CI covers ~95%, the naive one does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sotmeasure.measure.statistics import (
    combine_half_widths,
    integrated_autocorrelation_time,
    summarize,
)


def _ar1(rng: np.random.Generator, phi: float, n: int) -> np.ndarray:
    e = rng.normal(size=n + 200)
    x = np.zeros(n + 200)
    for i in range(1, n + 200):
        x[i] = phi * x[i - 1] + e[i]
    return x[200:]


def test_white_noise_hand_computed() -> None:
    # Values 1..5 repeated alternately have negative lag-1 correlation: tau is floored at 1.
    x = np.array([1.0, 5.0, 2.0, 4.0, 3.0] * 4)
    s = summarize(x)
    assert s.tau == 1.0
    assert s.median == 3.0
    sd = float(np.std(x, ddof=1))
    # t(0.975, 19) = 2.093; SE = sqrt(pi/2) * sd / sqrt(20).
    assert s.half_width == pytest.approx(
        2.0930 * math.sqrt(math.pi / 2) * sd / math.sqrt(20), rel=1e-3
    )


def test_tau_of_strong_ar1_is_near_theory() -> None:
    rng = np.random.default_rng(7)
    x = _ar1(rng, 0.8, 5000)
    # Theory: (1 + phi) / (1 - phi) = 9.
    assert integrated_autocorrelation_time(x) == pytest.approx(9.0, rel=0.2)


def test_coverage_on_ar1_is_about_95_percent_and_naive_is_far_lower() -> None:
    """90 frames (3 s at 30 fps) of AR(1) noise, phi = 0.8, true median 0."""
    rng = np.random.default_rng(2024)
    reps = 400
    covered = naive_covered = 0
    for _ in range(reps):
        x = _ar1(rng, 0.8, 90)
        lo, hi = summarize(x).ci95
        covered += lo <= 0.0 <= hi
        lo, hi = summarize(x, naive=True).ci95
        naive_covered += lo <= 0.0 <= hi
    assert 0.89 <= covered / reps <= 0.99
    assert naive_covered / reps < 0.70


def test_summary_is_deterministic_and_validates() -> None:
    x = _ar1(np.random.default_rng(3), 0.5, 60)
    assert summarize(x) == summarize(x.copy())
    with pytest.raises(ValueError):
        summarize([1.0])
    with pytest.raises(ValueError):
        summarize([1.0, np.nan, 2.0])


def test_combine_half_widths_root_sum_square() -> None:
    # 95% stat half 0.6 mm, systematic u 0.4 mm -> sqrt(0.36 + (0.784)^2).
    assert combine_half_widths(0.6, 0.4) == pytest.approx(math.sqrt(0.36 + 0.784**2))
