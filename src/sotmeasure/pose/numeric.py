"""Small-array numerics of the refinement: numpy's numbers, without numpy's overhead.

The heel and hip refinement run a few numpy reductions on small arrays every frame
(a ~30-50 x 120-220 profile per heel, a few hundred residuals per hip line). There the
generic machinery (moving an axis to the front, partitioning along a strided axis, index
bookkeeping, temporaries) costs more than the arithmetic (issue 15: CPU per frame). These
functions do only the arithmetic, in the order numpy does it, so every result is
bit-for-bit numpy's; tests/pose/test_numeric.py checks that on random, tied and NaN-holding
arrays.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def row_percentile(a: npt.ArrayLike, q: float) -> FloatArray:
    """np.percentile(a, q, axis=1) of a 2-D array with at least one column (as float64).

    The q-th percentile sits at virtual index (n - 1) * q / 100 of each sorted row: the
    two order statistics around it are found by partitioning each row (contiguous), and
    blended exactly as numpy's `_lerp` does (from the lower one below a weight of 0.5,
    from the upper one from 0.5 on). A row holding a NaN gives NaN, as in numpy.
    """
    x = np.asarray(a, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"expected a 2-D array with at least one column, got {x.shape}")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within [0, 100], got {q}")
    n = x.shape[1]
    virtual = (n - 1) * (np.float64(q) / 100)
    if virtual >= n - 1:  # the last value, blended with itself (as numpy does)
        lo = hi = n - 1
        gamma = 0.0
    else:
        lo = int(np.floor(virtual))
        hi = lo + 1
        gamma = float(virtual - lo)
    part = np.partition(x, sorted({lo, hi}), axis=1)
    below, above = part[:, lo], part[:, hi]
    diff = above - below
    out = below + diff * gamma
    if gamma >= 0.5:
        out = above - diff * (1 - gamma)
    return np.where(np.isnan(x).any(axis=1), np.nan, out)


def median_1d(a: npt.ArrayLike) -> float:
    """float(np.median(a)) of a non-empty 1-D array: the middle value, or the two middle
    ones' sum halved (numpy's mean of two), NaN if any value is NaN; ~20x less overhead
    on the hip refinement's few-hundred-value residuals, three times a frame."""
    x = np.asarray(a, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"expected a non-empty 1-D array, got shape {x.shape}")
    n = x.size
    half = n // 2
    kth = [half - 1, half, n - 1] if n % 2 == 0 else [half, n - 1]
    part = np.partition(x, kth)
    if np.isnan(part[-1]):
        return float("nan")
    if n % 2 == 1:
        return float(part[half])
    return float((part[half - 1] + part[half]) / 2.0)


def gradient_magnitude(profiles: npt.ArrayLike, step: float) -> FloatArray:
    """np.sqrt(np.sum(np.gradient(p, step, axis=1) ** 2, axis=2)) of (lines, samples,
    channels) profiles (as float64): the colour-gradient magnitude along each line.

    Central differences inside, one-sided at both ends (numpy's default edge order 1), then
    the channels' squares added left to right, as numpy's reduction over the short last axis
    does; ~0.1 ms less a heel than the numpy calls.
    """
    f = np.asarray(profiles, dtype=np.float64)
    if f.ndim != 3 or f.shape[1] < 2:
        raise ValueError(f"expected (lines, samples >= 2, channels) profiles, got {f.shape}")
    dx = np.float64(step)
    grad = np.empty_like(f)
    grad[:, 1:-1] = (f[:, 2:] - f[:, :-2]) / (2.0 * dx)
    grad[:, 0] = (f[:, 1] - f[:, 0]) / dx
    grad[:, -1] = (f[:, -1] - f[:, -2]) / dx
    total = grad[..., 0] ** 2
    for ch in range(1, f.shape[2]):
        total = total + grad[..., ch] ** 2
    return np.asarray(np.sqrt(total), dtype=np.float64)
