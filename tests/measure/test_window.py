"""Motion gating and the stillest window on hand-made trajectories."""

from __future__ import annotations

import numpy as np
import pytest

from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.window import (
    MotionParams,
    choose_still_window,
    effective_threshold_mm,
    frame_motion_mm,
    with_steady_hip_width,
)

FPS = 30.0


def _still_points(n: int) -> np.ndarray:
    base = np.array([[2000, 200], [2000, 500], [1000, 240], [1000, 460]], dtype=float)
    return np.repeat(base[None], n, axis=0)


def test_still_points_have_zero_motion_and_a_roll_is_caught() -> None:
    n = 120
    t = np.arange(n) / FPS
    pts = _still_points(n)
    # Frames 40-79: the body slides 60 mm across (a roll), then stays shifted.
    shift = np.clip((np.arange(n) - 40) / 40.0, 0, 1) * 60.0
    pts[:, :, 1] += shift[:, None]
    motion = frame_motion_mm(t, pts, MotionParams())
    assert np.all(motion[:40] == 0.0)
    # 60 mm over 40 frames = 1.5 mm/frame -> 9 mm within 0.2 s (6 frames), minus smoothing lag.
    assert np.nanmax(motion[45:80]) == pytest.approx(9.0, abs=0.01)
    assert np.all(motion[90:] == 0.0)


def test_jitter_below_threshold_is_not_motion() -> None:
    n = 90
    t = np.arange(n) / FPS
    rng = np.random.default_rng(0)
    pts = _still_points(n) + rng.normal(scale=1.0, size=(n, 4, 2))
    motion = frame_motion_mm(t, pts, MotionParams())
    assert np.nanmax(motion) < 5.0


def test_window_never_spans_a_movement() -> None:
    n = 150  # 5 s
    t = np.arange(n) / FPS
    motion = np.zeros(n)
    motion[50:60] = 20.0  # moving at 1.67-2.0 s
    w = choose_still_window(t, motion, MotionParams(window_s=3.0))
    # Only the stretch after the movement (frames 60-149, exactly 3.0 s) fits.
    assert (w.first, w.last) == (60, 149)
    assert w.start_s == pytest.approx(2.0)
    assert w.end_s == pytest.approx(5.0)


def test_stillest_window_wins_and_rejected_gaps_are_tolerated() -> None:
    n = 150
    t = np.arange(n) / FPS
    motion = np.full(n, 3.0)
    motion[60:] = 0.5  # quieter (still under threshold) later on
    motion[100:103] = np.nan  # three rejected frames (0.1 s gap): the run continues
    w = choose_still_window(t, motion, MotionParams(window_s=2.0))
    assert w.first == 60
    assert w.mean_motion_mm == pytest.approx(0.5)


def test_no_still_stretch_raises_with_the_longest_found() -> None:
    n = 120
    t = np.arange(n) / FPS
    motion = np.zeros(n)
    motion[36:84] = 30.0  # moving 1.2-2.8 s: still stretches of 1.2 s each side
    with pytest.raises(MeasurementError, match=r"longest still stretch is 1\.2 s") as exc:
        choose_still_window(t, motion, MotionParams(window_s=3.0))
    assert exc.value.exit_code == 2
    assert "--window-s" in str(exc.value)


def test_a_long_gap_of_rejected_frames_splits_the_run() -> None:
    n = 120
    t = np.arange(n) / FPS
    motion = np.zeros(n)
    motion[55:65] = np.nan  # 0.33 s of rejected frames > max_gap_s 0.25
    with pytest.raises(MeasurementError, match=r"no still stretch of 3\.0 s"):
        choose_still_window(t, motion, MotionParams(window_s=3.0))


def test_threshold_follows_the_noise_floor_within_limits() -> None:
    p = MotionParams(threshold_mm=5.0)
    assert effective_threshold_mm([0.5, 1.0, 1.5, np.nan], p) == 5.0  # quiet: the base
    assert effective_threshold_mm([2.0, 2.5, 3.0], p) == pytest.approx(7.5)  # 3 x median 2.5
    assert effective_threshold_mm([6.0, 8.0, 9.0], p) == 10.0  # capped at 2 x base


def test_noisy_but_still_clip_is_measured_and_a_roll_in_it_is_not() -> None:
    n = 150
    t = np.arange(n) / FPS
    motion = np.tile([1.5, 2.5, 3.5, 6.0, 2.5], n // 5)  # jittery view, max 6 mm, median 2.5
    w = choose_still_window(t, motion, MotionParams(window_s=3.0))
    assert w.threshold_mm == pytest.approx(7.5)
    assert w.last - w.first + 1 == 90
    motion[60:75] = 14.0  # a roll in the middle: no 3 s still stretch remains
    with pytest.raises(MeasurementError, match=r"longest still stretch is 2\.5 s"):
        choose_still_window(t, motion, MotionParams(window_s=3.0))


def test_hip_width_jitter_is_not_motion_but_a_pelvis_turn_is() -> None:
    """The model's hip width jumping by 30 mm on a still patient moves both hips 15 mm:
    as raw points that is motion; with the width held steady it is none. A turn of the hip
    line (what tilt measures) and a shift of the hips' midpoint still count."""
    n = 90
    t = np.arange(n) / FPS
    pts = _still_points(n)
    squeeze = np.where((np.arange(n) // 15) % 2 == 1, 15.0, 0.0)  # width 220 <-> 190 mm
    pts[:, 2, 1] += squeeze
    pts[:, 3, 1] -= squeeze
    params = MotionParams()
    assert np.nanmax(frame_motion_mm(t, pts, params)) > params.threshold_mm
    steady = with_steady_hip_width(pts)
    assert np.nanmax(frame_motion_mm(t, steady, params)) == pytest.approx(0.0, abs=1e-9)
    assert np.allclose((steady[:, 2] + steady[:, 3]) / 2, (pts[:, 2] + pts[:, 3]) / 2)

    turned = _still_points(n)
    turn = np.clip((np.arange(n) - 30) / 6.0, 0, 1) * 12.0  # hips +-12 mm along x in 0.2 s
    turned[:, 2, 0] += turn
    turned[:, 3, 0] -= turn
    moved = frame_motion_mm(t, with_steady_hip_width(turned), params)
    assert np.nanmax(moved) > params.threshold_mm


def test_steady_hip_width_leaves_rejected_frames_alone() -> None:
    pts = _still_points(3)
    pts[1] = np.nan
    out = with_steady_hip_width(pts)
    assert np.all(np.isnan(out[1])) and np.allclose(out[[0, 2]], pts[[0, 2]])
