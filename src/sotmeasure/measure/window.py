"""Motion gating and the choice of the stillest window.

A measurement is a window of frames while the patient lies still (MEASUREMENT.md). Motion is
judged on the four table points (both heels, both hips) after a short running median that
removes single-frame landmark jitter: a frame is *moving* when any smoothed point has moved
more than `threshold_mm` within the last `baseline_s` seconds. Judging displacement over a
fixed time baseline (instead of frame-to-frame speed) keeps the threshold independent of the
frame rate and insensitive to jitter, while a roll or a shuffle (tens of mm in a fraction of
a second) is caught. Breathing (a few mm over seconds) is not motion.

The window is then the stillest `window_s` stretch inside one contiguous still run: the run
may contain short gaps of rejected frames (up to `max_gap_s`), never a moving frame, so a
patient who moves is never averaged across the movement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from sotmeasure.measure.errors import MeasurementError

FloatArray = npt.NDArray[np.float64]

#: Rejection reason for frames the motion gate removes (user-readable, counted in results).
REASON_MOVING = "patient moving (points moved more than the motion threshold)"


@dataclass(frozen=True, slots=True)
class MotionParams:
    """Motion gate and window settings (all in seconds and millimetres)."""

    window_s: float = 3.0
    threshold_mm: float = 5.0
    baseline_s: float = 0.2
    smoothing_frames: int = 7
    max_gap_s: float = 0.25
    points_moving: int = 2
    noise_factor: float = 3.0
    max_threshold_factor: float = 2.0


def effective_threshold_mm(motion_mm: npt.ArrayLike, params: MotionParams) -> float:
    """The motion threshold for this clip: `threshold_mm`, raised to `noise_factor` times the
    clip's median motion (its landmark noise floor) but never above `max_threshold_factor`
    times `threshold_mm`.

    Why: landmark jitter in mm depends on the view (an oblique camera sees the heels from
    afar and at a slant, so the same pixel jitter is more millimetres). A fixed threshold
    that suits an overhead view refuses a perfectly still patient in an oblique one; the cap
    keeps a real roll or shuffle (well over 10 mm within 0.2 s) from passing as noise.
    """
    m = np.asarray(motion_mm, dtype=np.float64)
    m = m[np.isfinite(m)]
    floor = float(np.median(m)) * params.noise_factor if m.size else 0.0
    return float(
        min(max(params.threshold_mm, floor), params.threshold_mm * params.max_threshold_factor)
    )


@dataclass(frozen=True, slots=True)
class StillWindow:
    """Indices (into the frame arrays) of the chosen window, inclusive, and its times."""

    first: int
    last: int
    start_s: float
    end_s: float
    mean_motion_mm: float
    threshold_mm: float = 0.0


def with_steady_hip_width(points_mm: npt.ArrayLike) -> FloatArray:
    """The points (N, 4, 2: heels L, R, hips L, R) with each frame's hips moved along their
    own line to the clip's median hip width, about their own midpoint.

    Why: the motion gate should see the body move, not the model's noise. The hip width a
    pose model reports jitters by tens of mm on a still patient when the hips are low in
    contrast (measured: 125-160 mm on a still rendered patient), and it moves both hips at
    once, enough for a still patient to read as moving. The width is not a measured
    quantity (LLD and tilt use the hips' midpoint and direction), so motion is judged on
    what is measured: the midpoint and the direction, both kept exactly.
    """
    pts = np.array(points_mm, dtype=np.float64)
    across = pts[:, 3] - pts[:, 2]
    width = np.linalg.norm(across, axis=1)
    ok = np.isfinite(width) & (width > 0)
    if not ok.any():
        return pts
    half = float(np.median(width[ok])) / 2.0
    mid = (pts[ok, 2] + pts[ok, 3]) / 2.0
    unit = across[ok] / width[ok, None]
    pts[ok, 2] = mid - unit * half
    pts[ok, 3] = mid + unit * half
    return pts


#: Frames in the running median of the image motion (see body_motion_mm).
IMAGE_MOTION_MEDIAN = 5


def running_median_1d(values: FloatArray, size: int) -> FloatArray:
    """Centred running median over the finite values only (NaN stays NaN)."""
    out = np.full_like(values, np.nan)
    idx = np.flatnonzero(np.isfinite(values))
    half = max(size, 1) // 2
    for k, i in enumerate(idx):
        out[i] = float(np.median(values[idx[max(0, k - half) : k + half + 1]]))
    return out


def smoothed_image_motion(image_motion_mm: npt.ArrayLike) -> FloatArray:
    """(N, P) per-point image motion, each point's series a running median over
    `IMAGE_MOTION_MEDIAN` frames (see body_motion_mm)."""
    image = np.asarray(image_motion_mm, dtype=np.float64)
    out = np.full(image.shape, np.nan)
    for k in range(image.shape[1]):
        out[:, k] = running_median_1d(image[:, k], IMAGE_MOTION_MEDIAN)
    return out


def nth_largest(per_point: FloatArray, n: int) -> FloatArray:
    """Per frame, the n-th largest finite value of (N, P) (NaN where fewer than n)."""
    ranked = -np.sort(-np.where(np.isfinite(per_point), per_point, -np.inf), axis=1)
    nth = ranked[:, min(n, per_point.shape[1]) - 1]
    return np.where(np.isfinite(nth), nth, np.nan)


def body_motion_mm(
    t_s: npt.ArrayLike,
    points_mm: npt.ArrayLike,
    image_motion_mm: npt.ArrayLike,
    params: MotionParams,
    landmark_motion_mm: npt.ArrayLike | None = None,
) -> FloatArray:
    """Per-frame motion of the body: at each point, the image's own motion where the image
    can tell (processing/image_motion.py), else that point's landmark motion; then the
    `points_moving`-th largest, as in `frame_motion_mm`.

    Why: a still patient's points jitter (a soft heel outline, low-contrast hips) by more
    than the threshold, while the pixels around them do not move; the image motion is not
    inflated by that jitter, nor by noise or blur. Where the image has too little texture
    to tell, the point's landmarks judge it as before. A landmark jump beyond the cap of
    `effective_threshold_mm` (`max_threshold_factor` x `threshold_mm`, over the points as
    `frame_motion_mm` takes them) still counts as motion whatever the image says: that is
    no longer jitter a median would absorb. NaN where the frame had no points.

    `image_motion_mm`: (N, P) per-point image motion, NaN where the image could not tell.
    `landmark_motion_mm`: `frame_motion_mm(t_s, points_mm, params)` when the caller has it.
    Each point's series is first taken as a running median over `IMAGE_MOTION_MEDIAN`
    frames: one frame's correlation can lock on to a wrong peak, while a real move lasts at
    least the motion baseline (0.2 s, six frames at 30 fps) and passes the median.
    """
    t = np.asarray(t_s, dtype=np.float64)
    pts = np.asarray(points_mm, dtype=np.float64)
    image = np.asarray(image_motion_mm, dtype=np.float64)
    if image.shape != pts.shape[:2]:
        raise ValueError(f"image motion must be (N, P) = {pts.shape[:2]}, got {image.shape}")
    whole = (
        frame_motion_mm(t, pts, params)
        if landmark_motion_mm is None
        else np.asarray(landmark_motion_mm, dtype=np.float64)
    )
    one = replace(params, points_moving=1)
    seen = smoothed_image_motion(image)
    per_point = np.full(image.shape, np.nan)
    for k in range(pts.shape[1]):
        landmark = frame_motion_mm(t, pts[:, k : k + 1], one)
        per_point[:, k] = np.where(np.isfinite(seen[:, k]), seen[:, k], landmark)
    motion = nth_largest(per_point, params.points_moving)
    cap = params.threshold_mm * params.max_threshold_factor
    motion = np.where(np.isfinite(whole) & (whole > cap), np.fmax(motion, whole), motion)
    return np.where(np.isfinite(whole) & np.isfinite(motion), motion, np.nan)


def _running_median(points: FloatArray, usable: npt.NDArray[np.bool_], size: int) -> FloatArray:
    """Centred running median over usable frames only (NaN for unusable frames)."""
    out = np.full_like(points, np.nan)
    idx = np.flatnonzero(usable)
    half = max(size, 1) // 2
    for k, i in enumerate(idx):
        lo, hi = max(0, k - half), min(idx.size, k + half + 1)
        out[i] = np.median(points[idx[lo:hi]], axis=0)
    return out


def frame_motion_mm(
    t_s: npt.ArrayLike, points_mm: npt.ArrayLike, params: MotionParams
) -> FloatArray:
    """Per-frame motion in mm: the `points_moving`-th largest displacement of the smoothed
    points over the last `baseline_s` seconds. NaN for frames without points; 0 when no
    earlier usable frame lies a full baseline back (the start of the clip).

    `points_mm`: (N, P, 2) table x, y of P points per frame, NaN rows for rejected frames.
    """
    t = np.asarray(t_s, dtype=np.float64)
    pts = np.asarray(points_mm, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[0] != t.size or pts.shape[2] != 2:
        raise ValueError(f"points_mm must be (N, P, 2) with N = len(t_s), got {pts.shape}")
    usable = np.all(np.isfinite(pts), axis=(1, 2))
    smooth = _running_median(pts, usable, params.smoothing_frames)
    motion = np.full(t.size, np.nan)
    idx = np.flatnonzero(usable)
    back = _baseline_frames(t[idx], params.baseline_s)
    for k, i in enumerate(idx):
        if back[k] < 0:
            motion[i] = 0.0
            continue
        j = idx[back[k]]
        moved = np.sort(np.linalg.norm(smooth[i] - smooth[j], axis=1))[::-1]
        motion[i] = float(moved[min(params.points_moving, moved.size) - 1])
    return motion


def _baseline_frames(t_usable: FloatArray, baseline_s: float) -> npt.NDArray[np.intp]:
    """For each usable frame k, the position of the latest earlier usable frame at least
    `baseline_s` back (-1: none). Frame times rise, so a binary search finds it: a 10-minute
    clip has 18 000 frames, and a scan of all earlier frames per frame took minutes."""
    limits = t_usable - baseline_s + 1e-9
    if t_usable.size < 2 or bool(np.all(np.diff(t_usable) >= 0)):
        found = np.searchsorted(t_usable, limits, side="right") - 1
        return np.minimum(found, np.arange(t_usable.size) - 1).astype(np.intp)
    out = np.full(t_usable.size, -1, dtype=np.intp)  # times out of order: scan, as the rule says
    for k in range(t_usable.size):
        earlier = np.flatnonzero(t_usable[:k] <= limits[k])
        out[k] = earlier[-1] if earlier.size else -1
    return out


def _still_runs(
    t: FloatArray, usable: npt.NDArray[np.bool_], moving: npt.NDArray[np.bool_], max_gap_s: float
) -> list[list[int]]:
    """Contiguous runs of usable, non-moving frames; a moving frame or a gap longer than
    `max_gap_s` between usable frames ends a run."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i in range(t.size):
        if moving[i]:
            if current:
                runs.append(current)
            current = []
            continue
        if not usable[i]:
            continue
        if current and t[i] - t[current[-1]] > max_gap_s:
            runs.append(current)
            current = []
        current.append(i)
    if current:
        runs.append(current)
    return runs


def longest_found_stretch_s(t_s: npt.ArrayLike, found: npt.ArrayLike, max_gap_s: float) -> float:
    """Duration (s) of the longest stretch of frames with points, gaps of rejected frames up
    to `max_gap_s` allowed, as the window rule allows them.

    Shorter than the window: no window can exist whatever the motion, so a refusal must
    name why frames were rejected, not a moving patient.
    """
    t = np.asarray(t_s, dtype=np.float64)
    usable = np.asarray(found, dtype=bool)
    runs = _still_runs(t, usable, np.zeros(t.size, dtype=bool), max_gap_s)
    dt = frame_period_s(t)
    return max((float(t[r[-1]] - t[r[0]] + dt) for r in runs), default=0.0)


def frame_period_s(t_s: npt.ArrayLike) -> float:
    """Typical frame interval (median of the differences); 1/30 s when unknown."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 2:
        return 1.0 / 30.0
    return float(np.median(np.diff(t)))


def choose_still_window(
    t_s: npt.ArrayLike,
    motion_mm: npt.ArrayLike,
    params: MotionParams,
    rank_mm: npt.ArrayLike | None = None,
) -> StillWindow:
    """The stillest `window_s` stretch inside one still run (see module docstring).

    `motion_mm`: per-frame motion (NaN = frame rejected for another reason); frames above
    `effective_threshold_mm` are moving. Among all
    windows of `window_s` that fit in a run, the one with the least mean `rank_mm` (default:
    the motion itself) wins; ties go to the earliest. `rank_mm` lets the gate judge motion
    on the image while the window is the one where the points were steadiest (their
    landmark motion): both matter, for different reasons. Raises MeasurementError, naming
    the longest still stretch found, when no run is long enough.
    """
    t = np.asarray(t_s, dtype=np.float64)
    motion = np.asarray(motion_mm, dtype=np.float64)
    rank = motion if rank_mm is None else np.asarray(rank_mm, dtype=np.float64)
    if rank.shape != motion.shape:
        raise ValueError(f"rank_mm must match motion_mm: {rank.shape} vs {motion.shape}")
    usable = np.isfinite(motion)
    threshold = effective_threshold_mm(motion, params)
    moving = usable & (motion > threshold)
    dt = frame_period_s(t)
    runs = _still_runs(t, usable & ~moving, moving, params.max_gap_s)
    best: StillWindow | None = None
    longest_s, longest_run = 0.0, None
    for run in runs:
        run_t = t[run]
        duration = float(run_t[-1] - run_t[0] + dt)
        if duration > longest_s:
            longest_s, longest_run = duration, run
        for k, start in enumerate(run_t):
            end = start + params.window_s - dt
            if end > run_t[-1] + 1e-6:
                break
            members = [i for i in run[k:] if t[i] <= end + 1e-6]
            ranked = rank[members]
            ranked = ranked[np.isfinite(ranked)]
            mean_motion = float(np.mean(ranked)) if ranked.size else float(np.inf)
            if best is None or mean_motion < best.mean_motion_mm - 1e-12:
                best = StillWindow(
                    first=members[0],
                    last=members[-1],
                    start_s=float(t[members[0]]),
                    end_s=float(t[members[-1]] + dt),
                    mean_motion_mm=mean_motion,
                    threshold_mm=threshold,
                )
    if best is None:
        where = (
            f" (at {t[longest_run[0]]:.1f}-{t[longest_run[-1]] + dt:.1f} s)" if longest_run else ""
        )
        raise MeasurementError(
            f"no still stretch of {params.window_s:.1f} s: the longest still stretch is "
            f"{longest_s:.1f} s{where}; record again with the patient lying still for at "
            f"least {params.window_s:.1f} s, or shorten the window with --window-s"
        )
    return best
