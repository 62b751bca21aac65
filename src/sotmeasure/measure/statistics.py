"""Window statistics: the median of a per-frame series and its 95% CI under autocorrelation.

Why an effective sample size and not a block bootstrap
-------------------------------------------------------
Consecutive video frames are not independent: landmark jitter, breathing and slow sway are
correlated over many frames, so a naive CI (n = frame count) is far too narrow. A moving-block
bootstrap needs many blocks to be reliable; a 3 s window at 30 fps with correlation lengths of
5-20 frames leaves only a handful of blocks, and its percentile CI then under-covers and depends
on the random seed. Instead we use the integrated autocorrelation time tau (Geyer's initial
positive sequence estimator, which handles AR(1)-like decay and oscillating components such as
breathing) and the effective sample size n_eff = n / tau. The median's standard error is the
normal-theory sqrt(pi/2) * sigma / sqrt(n_eff), with sigma estimated by the sample standard
deviation, and the half-width uses Student's t with n_eff - 1 degrees of freedom so that a
window with few effectively independent frames gets an honestly wide interval. The result is
deterministic (no random numbers) and is checked for ~95% coverage on synthetic AR(1) series
in tests/measure/test_statistics.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Normal-theory efficiency factor of the median relative to the mean: SE_med = k * sigma/sqrt(n).
MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2.0)


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    """The median of a per-frame series with its statistical (frame noise) 95% half-width."""

    median: float
    half_width: float
    n: int
    n_eff: float
    tau: float
    sd: float

    @property
    def ci95(self) -> tuple[float, float]:
        return (self.median - self.half_width, self.median + self.half_width)


def autocorrelation(series: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Sample autocorrelation rho_0..rho_{n-1} (biased estimator, denominator n: stable)."""
    x = np.asarray(series, dtype=np.float64)
    n = x.size
    centred = x - x.mean()
    var = float(centred @ centred) / n
    if n == 0 or var <= 0.0:
        return np.ones(max(n, 1))
    full = np.correlate(centred, centred, mode="full")[n - 1 :] / n
    return np.asarray(full / var, dtype=np.float64)


def integrated_autocorrelation_time(series: npt.ArrayLike) -> float:
    """tau = 1 + 2 * sum(rho_k), truncated by Geyer's initial positive (monotone) sequence.

    Pairs Gamma_m = rho_{2m} + rho_{2m+1} are summed while positive and non-increasing; the
    result is at least 1 (negative correlation is not allowed to shrink the interval).
    """
    rho = autocorrelation(series)
    n = rho.size
    if n < 4:
        return 1.0
    gamma_sum = 0.0
    previous = math.inf
    for m in range(n // 2):
        gamma = float(rho[2 * m] + rho[2 * m + 1])
        if gamma <= 0.0:
            break
        gamma = min(gamma, previous)
        gamma_sum += gamma
        previous = gamma
    tau = 2.0 * gamma_sum - 1.0
    return max(1.0, min(tau, float(n)))


def summarize(series: npt.ArrayLike, *, naive: bool = False) -> SeriesSummary:
    """Median and 95% half-width of a series; `naive=True` ignores autocorrelation (tests)."""
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError("a window needs at least two values")
    if not np.all(np.isfinite(x)):
        raise ValueError("window values must be finite")
    n = int(x.size)
    tau = 1.0 if naive else integrated_autocorrelation_time(x)
    n_eff = n / tau
    sd = float(np.std(x, ddof=1))
    se = MEDIAN_SE_FACTOR * sd / math.sqrt(n_eff)
    dof = max(n_eff - 1.0, 1.0)
    # scipy.stats' t.ppf is exactly special.stdtrit (t._ppf), and scipy.special alone
    # imports in a fifth of the time (0.2 s vs 1 s of a 4 s `sotmeasure measure`).
    from scipy.special import stdtrit

    half = float(stdtrit(dof, 0.975)) * se
    return SeriesSummary(
        median=float(np.median(x)), half_width=half, n=n, n_eff=n_eff, tau=tau, sd=sd
    )


def combine_half_widths(statistical_half: float, systematic_u: float) -> float:
    """95% half-width of frame noise (already a 95% half-width) and systematic standard
    uncertainty combined by root-sum-square: sqrt(h_stat^2 + (1.96 u_sys)^2).
    """
    return math.hypot(statistical_half, 1.96 * systematic_u)
