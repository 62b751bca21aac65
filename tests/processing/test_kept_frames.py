"""The pose pass's kept frames (processing/kept_frames.py): read back exactly as appended.

A measurement's numbers come from these frames after the pass (window, statistics, the
refusals), so every field must come back as the same float64 (mm, px, deg), the same
rejection sentence and the same "how was the point found" flags.
"""

from __future__ import annotations

import numpy as np
import pytest

from sotmeasure.measure.frame_values import frame_values
from sotmeasure.pose.pipeline import BodyPoints, FramePoints
from sotmeasure.pose.quality import (
    REJECT_NO_PERSON,
    REJECT_OFF_PLANE,
    Rejection,
    heel_not_located,
)
from sotmeasure.processing.frame_step import FrameMeasurement
from sotmeasure.processing.kept_frames import KeptFrames

RNG = np.random.default_rng(13)


def _measured(
    index: int, heel: str = "refined-edge", hip: str = "refined-silhouette"
) -> FrameMeasurement:
    """A frame with points, as `map_frame` makes it (values from its table points)."""
    px = np.array([[640.2, 600.1], [700.3, 601.7], [630.9, 300.4], [705.5, 299.8]])
    px = px + RNG.normal(0.0, 0.7, px.shape)
    table_xy = np.array([[1500.0, 400.0], [1506.0, 600.0], [900.0, 410.0], [903.0, 590.0]])
    mm = np.column_stack([table_xy + RNG.normal(0.0, 0.5, (4, 2)), [0.0, 0.0, 90.0, 90.0]])
    body = BodyPoints(
        px[0].copy(),
        px[1].copy(),
        px[2].copy(),
        px[3].copy(),
        heel_status={"left": heel, "right": "refined-edge"},
        mode="markerless",
        hip_status=hip,
    )
    values = frame_values(mm[0], mm[1], mm[2], mm[3])
    motion = np.array([0.12, np.nan, 0.4, 1.0 / 3.0])
    t_s = index / 30.0
    points = FramePoints(index, t_s, body, None)
    return FrameMeasurement(index, t_s, px, mm, values, None, points, image_motion_mm=motion)


def _rejected(index: int, rejection: Rejection = REJECT_NO_PERSON) -> FrameMeasurement:
    t_s = index / 30.0
    points = FramePoints(index, t_s, None, rejection)
    return FrameMeasurement(index, t_s, None, None, None, rejection, points)


def _off_plane(index: int) -> FrameMeasurement:
    """Points found, but not on the table planes: px kept, no mm, no values."""
    m = _measured(index)
    return FrameMeasurement(
        index, m.t_s, m.px, None, None, REJECT_OFF_PLANE, m.points, image_motion_mm=None
    )


def _frames() -> list[FrameMeasurement]:
    frames: list[FrameMeasurement] = []
    for k in range(9000):  # more than one storage block
        kind = k % 7
        if kind == 3:
            frames.append(_rejected(k))
        elif kind == 4:
            frames.append(_rejected(k, heel_not_located("raw-landmark (no edge)")))
        elif kind == 5:
            frames.append(_off_plane(k))
        elif kind == 6:
            frames.append(
                _measured(k, heel="raw-landmark (outline too faint)", hip="raw-landmark (x)")
            )
        else:
            frames.append(_measured(k))
    return frames


def _same(a: FrameMeasurement, b: FrameMeasurement) -> None:
    assert (a.index, a.t_s, a.values, a.rejection) == (b.index, b.t_s, b.values, b.rejection)
    for x, y in ((a.px, b.px), (a.mm, b.mm), (a.image_motion_mm, b.image_motion_mm)):
        assert (x is None) == (y is None)
        if x is not None and y is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
    assert a.heel_refined == b.heel_refined and a.hip_refined == b.hip_refined
    assert a.points.rejection == b.points.rejection and a.points.landmarks is None
    if a.points.points is not None and b.points.points is not None:
        assert a.points.points.heel_status == b.points.points.heel_status
        assert a.points.points.hip_status == b.points.points.hip_status
        assert np.array_equal(a.points.points.hip_right_px, b.points.points.hip_right_px)
    assert a.patches is None


def test_every_frame_reads_back_with_the_same_numbers_texts_and_flags() -> None:
    frames = _frames()
    kept = KeptFrames()
    for f in frames:
        kept.append(f)
    assert len(kept) == len(frames)
    for original, back in zip(frames, kept, strict=True):
        _same(back, original)
    _same(kept[-1], frames[-1])
    _same(kept[4097], frames[4097])
    assert [f.index for f in kept[10:20:3]] == [10, 13, 16, 19]
    # The window statistics' inputs: lld per frame in mm, identical to the last bit.
    lld = [f.values.lld_mm for f in kept if f.values is not None]
    assert lld == [f.values.lld_mm for f in frames if f.values is not None]
    with pytest.raises(IndexError):
        kept[len(frames)]


def test_a_frame_without_body_points_but_with_pixels_is_refused() -> None:
    good = _measured(0)
    broken = FrameMeasurement(0, 0.0, good.px, None, None, REJECT_NO_PERSON, _rejected(0).points)
    with pytest.raises(ValueError, match="pixel points"):
        KeptFrames().append(broken)
