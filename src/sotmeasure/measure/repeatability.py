"""Repeatability from repeated captures: ICC(2,1), SEM, MDC95 and Bland-Altman.

A clinic measures its own MDC95 by test-retest: each subject is captured k >= 2 times, getting
up and lying down again between captures. The data are an n x k matrix (subjects x captures).

- ICC(2,1): Shrout & Fleiss (1979) two-way random effects, absolute agreement, single
  measurement: (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n). Absolute agreement
  because a systematic shift between captures is part of what a re-check would see.
- SEM = SD * sqrt(1 - ICC), with SD the sample standard deviation of all n*k measurements
  (the spread the ICC's between-subject variance is relative to).
- MDC95 = 1.96 * sqrt(2) * SEM (a difference of two measurements, 95%).
- Bland-Altman (k = 2 only): bias = mean(capture2 - capture1), limits = bias +/- 1.96 SD(diff).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Repeatability:
    """Agreement statistics of repeated captures (units of the measurement)."""

    n_subjects: int
    k_captures: int
    icc_2_1: float
    sd: float
    sem: float
    mdc95: float
    ba_bias: float | None
    ba_limits: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_subjects": self.n_subjects,
            "k_captures": self.k_captures,
            "icc_2_1": self.icc_2_1,
            "sd": self.sd,
            "sem": self.sem,
            "mdc95": self.mdc95,
            "bland_altman": None
            if self.ba_bias is None or self.ba_limits is None
            else {"bias": self.ba_bias, "loa95": list(self.ba_limits)},
        }


def icc_2_1(data: npt.ArrayLike) -> float:
    """Shrout & Fleiss ICC(2,1) of an n x k matrix (rows subjects, columns captures)."""
    y = np.asarray(data, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] < 2 or y.shape[1] < 2:
        raise ValueError(
            "repeatability needs an n x k matrix with n >= 2 subjects, k >= 2 captures"
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("repeatability data must be finite (drop incomplete subjects)")
    n, k = y.shape
    grand = y.mean()
    ss_rows = k * float(np.sum((y.mean(axis=1) - grand) ** 2))
    ss_cols = n * float(np.sum((y.mean(axis=0) - grand) ** 2))
    ss_total = float(np.sum((y - grand) ** 2))
    ss_err = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    jms = ss_cols / (k - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    denom = bms + (k - 1) * ems + k * (jms - ems) / n
    if denom <= 0:
        raise ValueError("no between-subject variance: the ICC is undefined")
    return (bms - ems) / denom


def repeatability(data: npt.ArrayLike) -> Repeatability:
    """ICC(2,1), SEM, MDC95 and (for k = 2) Bland-Altman of an n x k matrix."""
    y = np.asarray(data, dtype=np.float64)
    icc = icc_2_1(y)
    sd = float(np.std(y, ddof=1))
    sem = sd * math.sqrt(max(0.0, 1.0 - icc))
    bias: float | None = None
    limits: tuple[float, float] | None = None
    if y.shape[1] == 2:
        diff = y[:, 1] - y[:, 0]
        bias = float(diff.mean())
        sd_d = float(np.std(diff, ddof=1))
        limits = (bias - 1.96 * sd_d, bias + 1.96 * sd_d)
    return Repeatability(
        n_subjects=int(y.shape[0]),
        k_captures=int(y.shape[1]),
        icc_2_1=icc,
        sd=sd,
        sem=sem,
        mdc95=1.96 * math.sqrt(2.0) * sem,
        ba_bias=bias,
        ba_limits=limits,
    )
