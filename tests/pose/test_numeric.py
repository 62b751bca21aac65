"""The refinement's fast numerics give numpy's numbers exactly (issue 15: same results,
less CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from sotmeasure.pose.numeric import gradient_magnitude, median_1d, row_percentile


def _arrays(seed: int, rows: bool) -> list[np.ndarray]:
    """Random, tied (rounded), non-negative and NaN-holding arrays of many sizes."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(400):
        shape = (
            (int(rng.integers(1, 40)), int(rng.integers(1, 240)))
            if rows
            else (int(rng.integers(1, 300)),)
        )
        a = rng.normal(size=shape) * 10.0 ** int(rng.integers(-3, 4))
        if k % 4 == 1:
            a = np.round(a)
        if k % 4 == 2:
            a = np.abs(a)
        if k % 8 == 3:
            a[tuple(int(rng.integers(0, n)) for n in shape)] = np.nan
        out.append(a)
    return out


@pytest.mark.parametrize("q", [0.0, 5.0, 20.0, 33.3, 50.0, 95.0, 100.0])
def test_row_percentile_is_numpys_percentile_along_rows(q: float) -> None:
    for a in _arrays(int(q), rows=True):
        got = row_percentile(a, q)
        want = np.percentile(a, q, axis=1)
        assert got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True), (a.shape, q)


def test_median_1d_is_numpys_median() -> None:
    for a in _arrays(7, rows=False):
        want = float(np.median(a))
        got = median_1d(a)
        assert got == want or (np.isnan(got) and np.isnan(want)), a.shape


@pytest.mark.parametrize("channels", [1, 3])
def test_gradient_magnitude_is_numpys(channels: int) -> None:
    rng = np.random.default_rng(channels)
    for _ in range(200):
        lines, samples = int(rng.integers(1, 60)), int(rng.integers(2, 250))
        prof = (rng.random((lines, samples, channels)) * 255).astype(np.float32)
        want = np.sqrt(np.sum(np.gradient(prof.astype(np.float64), 0.25, axis=1) ** 2, axis=2))
        assert np.array_equal(gradient_magnitude(prof, 0.25), want), prof.shape


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        row_percentile(np.zeros(5), 20)
    with pytest.raises(ValueError):
        row_percentile(np.zeros((3, 4)), 120)
    with pytest.raises(ValueError):
        median_1d(np.zeros(0))
    with pytest.raises(ValueError):
        gradient_magnitude(np.zeros((3, 1, 3)), 0.25)
