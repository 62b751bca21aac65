"""Mid-hip lateral position from the silhouette of the legs (the gap between them).

The pose model's hip landmarks (23/24) sit 10-35 px from the hip joint centres, with
left/right-asymmetric offsets: their mid-point is several millimetres off the body's
mid-line, and because the heels are ~300 mm apart, every 0.1 deg of body-axis error moves
the LLD along the axis by ~0.5 mm. The pose model cannot do better: it sees a ~256 px crop.

What the full-resolution silhouette gives instead: each leg runs (nearly) straight from its
hip joint to its heel, so at any level the mean of the two legs' centres lies on the line
mid-hip -> mid-heel, whatever the spread of each leg (the points at the same fraction of two
segments average to the point at that fraction of the segment between their mid-points).
The two legs' inner outlines are mirror images of each other, so the mid-point of the gap
between the legs lies on that line too. The gap is free of the hands and arms, which lie
against the pelvis in prone and spoil its lateral outline. A robust line fit through the
gap's mid-points from just below the crotch down to the ankles, extended to the level of
the hip landmarks, gives the mid-hip's lateral position.

What it does not give: the pelvic line angle. The hip line (its angle and width) stays the
model's, and both hip points move together. Measured on the rendered clips (true tilt
-2.5..+2 deg): the crotch apex's offset from the legs' mid-line (it sits on the pelvis
mid-line, so it should swing with the pelvis) followed the tilt for one patient only
(errors -1.0..+2.9 deg), and the left/right pelvis outline (hands lie against it in prone)
showed no relation to the tilt (per-frame spread 0.7-1.8 deg). Markerless tilt stays the
model's hip line; sticker mode (PSIS) is the tilt method.

Measured on the rendered clips (table mm, true camera, true heels): body-axis error of the
landmark mid-hip 0.39-0.72 deg, of the gap line 0.04-0.12 deg.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sotmeasure.pose.numeric import median_1d
from sotmeasure.pose.orientation import unit_vector

FloatArray = npt.NDArray[np.float64]

STATUS_REFINED = "refined-silhouette"
RAW_PREFIX = "raw-landmark"

#: Samples the person mask (values in [0, 1]) on a grid given by a 2x3 affine map from grid
#: (column, row) to frame pixels, into an array of the given (width, height).
MaskSampler = Callable[[FloatArray, tuple[int, int]], npt.NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class HipRefineParams:
    """Sizes relative to the leg length L = distance from the landmark mid-hip to the mid-heel.

    Relative sizes keep the method independent of resolution and camera distance.
    """

    half_width: float = 0.35  # lateral half-width (x L) of the strip searched for the gap
    row_step_px: float = 2.0  # spacing of the sampled levels along the body
    skip_below_crotch: float = 0.02  # levels (x L) skipped below the crotch apex (soft tissue)
    end_above_ankles: float = 0.0  # stop this far (x L) above the landmark ankles
    min_rows_fraction: float = 0.4  # gap rows needed, of the levels from crotch to ankles
    max_residual_px: float = 2.5  # robust spread (px) of the gap mid-points about their line
    max_shift: float = 0.6  # refuse a shift of the mid-hip larger than this x hip separation
    mask_threshold: float = 0.5
    min_leg_length_px: float = 40.0


@dataclass(frozen=True, slots=True)
class HipRefineResult:
    """Hip points (both moved by the same lateral shift) and how they were obtained."""

    hip_left_px: FloatArray
    hip_right_px: FloatArray
    status: str  # "refined-silhouette" or "raw-landmark (<reason>)"
    shift_px: float  # lateral shift applied to both points (+ = toward the patient's right)
    rows_used: int = 0
    residual_px: float = float("nan")


def _raw(hip_l: FloatArray, hip_r: FloatArray, reason: str, rows: int = 0) -> HipRefineResult:
    return HipRefineResult(hip_l.copy(), hip_r.copy(), f"{RAW_PREFIX} ({reason})", 0.0, rows)


def grid_to_frame_affine(
    origin_px: FloatArray, caudal: FloatArray, right: FloatArray, r0: float, step: float
) -> FloatArray:
    """2x3 map grid (col, row) -> frame px: origin + (r0 + col) * right + row * step * caudal."""
    o = origin_px + r0 * right
    return np.array(
        [[right[0], step * caudal[0], o[0]], [right[1], step * caudal[1], o[1]]], np.float64
    )


def _gap_edges(
    fg: npt.NDArray[np.bool_], vals: npt.NDArray[np.float32], seed_col: int, thr: float
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Sub-pixel inner edges of the background run at `seed_col` in every row.

    Returns (left_edge, right_edge, valid) in columns; valid where the seed is background
    and foreground bounds it on both sides (a gap between two legs, not open background).
    """
    h, w = fg.shape
    # The last foreground column at or before the seed and the first at or after it (-1 and
    # w where there is none): searched from the seed outward, not accumulated over the grid.
    before, after = fg[:, seed_col::-1], fg[:, seed_col:]
    last_fg = np.where(before.any(axis=1), seed_col - np.argmax(before, axis=1), -1)
    first_fg = np.where(after.any(axis=1), seed_col + np.argmax(after, axis=1), w)
    valid = (~fg[:, seed_col]) & (last_fg >= 0) & (first_fg < w)
    rows = np.arange(h)
    li = np.clip(last_fg, 0, w - 2)
    ri = np.clip(first_fg, 1, w - 1)
    # the threshold crossing between the last foreground and the first background pixel
    a, b = vals[rows, li], vals[rows, li + 1]
    left = li + np.clip((a - thr) / np.maximum(a - b, 1e-6), 0.0, 1.0)
    c, d = vals[rows, ri - 1], vals[rows, ri]
    right = (ri - 1) + np.clip((thr - c) / np.maximum(d - c, 1e-6), 0.0, 1.0)
    return left.astype(np.float64), right.astype(np.float64), valid


def _robust_line(s: FloatArray, y: FloatArray, rounds: int = 3) -> tuple[FloatArray, float]:
    """Least-squares line y = c0 + c1 s, refitted without points beyond 3 robust sigmas."""
    keep = np.ones(len(s), dtype=bool)
    coef: FloatArray = np.zeros(2)
    sigma = float("inf")
    for _ in range(rounds):
        a = np.stack([np.ones(int(keep.sum())), s[keep]], 1)
        coef = np.asarray(np.linalg.lstsq(a, y[keep], rcond=None)[0], dtype=np.float64)
        res = y - (coef[0] + coef[1] * s)
        sigma = 1.4826 * median_1d(np.abs(res[keep])) + 1e-3  # float(np.median(...))
        keep = np.abs(res) <= 3.0 * sigma
        if keep.sum() < 3:
            break
    return coef, sigma


def refine_hips(
    sample_mask: MaskSampler | None,
    hip_left: FloatArray,
    hip_right: FloatArray,
    heel_mid: FloatArray,
    ankle_mid: FloatArray,
    right_dir: FloatArray,
    params: HipRefineParams | None = None,
) -> HipRefineResult:
    """Move both hip landmarks laterally so their mid-point lies on the legs' mid-line.

    `heel_mid` = mid-point of the (refined) heels, `ankle_mid` = of the ankle landmarks,
    `right_dir` = image direction of the patient's right (its sign only labels the shift).
    Without a mask, or when the legs do not show a clean gap between them (legs together,
    a sheet over the legs, the patient rolling), the landmarks come back unchanged and the
    status says why.
    """
    prm = params or HipRefineParams()
    mid = (hip_left + hip_right) / 2.0
    if sample_mask is None:
        return _raw(hip_left, hip_right, "no person mask")
    leg = heel_mid - mid
    length = float(np.hypot(leg[0], leg[1]))
    if not np.isfinite(length) or length < prm.min_leg_length_px:
        return _raw(hip_left, hip_right, "legs too short in the image")
    caudal = leg / length
    right = unit_vector(right_dir)
    right = right - (right @ caudal) * caudal  # exactly perpendicular to the body
    right = right / float(np.hypot(right[0], right[1]))
    half = max(8, round(prm.half_width * length))
    s_end = float((ankle_mid - mid) @ caudal) - prm.end_above_ankles * length
    n_rows = int(s_end / prm.row_step_px)
    if n_rows < 10:
        return _raw(hip_left, hip_right, "ankles not below the hips")
    grid = grid_to_frame_affine(mid, caudal, right, -float(half), prm.row_step_px)
    vals = sample_mask(grid, (2 * half + 1, n_rows))
    fg = vals >= prm.mask_threshold
    left, right_e, valid = _gap_edges(fg, vals, half, prm.mask_threshold)
    rows = np.flatnonzero(valid)
    if rows.size == 0:
        return _raw(hip_left, hip_right, "no gap between the legs")
    s_rows = rows * prm.row_step_px
    start = s_rows[0] + prm.skip_below_crotch * length  # rows[0] = the crotch apex
    use = s_rows > start
    span = max(s_end - start, prm.row_step_px)
    if use.sum() < prm.min_rows_fraction * span / prm.row_step_px or use.sum() < 5:
        return _raw(hip_left, hip_right, "no clear gap between the legs", int(use.sum()))
    mids = (left[rows[use]] + right_e[rows[use]]) / 2.0 - half
    coef, sigma = _robust_line(s_rows[use], mids)
    if sigma > prm.max_residual_px:
        return _raw(hip_left, hip_right, "irregular outline of the legs", int(use.sum()))
    shift = float(coef[0])  # the mid-line's lateral offset at the hip landmarks' level
    width = float(np.hypot(*(hip_right - hip_left)))
    if abs(shift) > prm.max_shift * width:
        return _raw(hip_left, hip_right, "legs' mid-line far from the hips", int(use.sum()))
    d = shift * right
    return HipRefineResult(
        hip_left + d, hip_right + d, STATUS_REFINED, shift, int(use.sum()), float(sigma)
    )
