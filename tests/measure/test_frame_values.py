"""Per-frame values against hand-computed cases and against the rendered truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fixture_data import SESSIONS, TABLE_CLIPS, load_truth
from sotmeasure.measure.frame_values import (
    frame_values,
    frame_values_on_axis,
    short_side,
)

CLIPS = TABLE_CLIPS


def test_body_along_x_right_heel_caudal_gives_positive_lld_short_left() -> None:
    # Body along +x, patient's right at +y. Right heel 6 mm further toward the feet.
    v = frame_values(heel_l=(2000, 200), heel_r=(2006, 500), hip_l=(1000, 240), hip_r=(1000, 460))
    # Mid-hip (1000, 350) -> mid-heel (2003, 350): a = +x exactly.
    assert v.body_axis_deg == pytest.approx(0.0, abs=1e-12)
    assert v.lld_mm == pytest.approx(6.0, abs=1e-9)
    assert v.lld_table_mm == pytest.approx(6.0, abs=1e-9)
    assert v.pelvic_tilt_deg == pytest.approx(0.0, abs=1e-9)
    assert short_side(v.lld_mm) == "left"


def test_left_hip_cranial_gives_positive_tilt() -> None:
    # Right hip 220*tan(2 deg) further caudal than the left, hips 220 mm apart.
    dx = 220 * math.tan(math.radians(2.0))
    v = frame_values(
        heel_l=(2000, 240), heel_r=(2000 + 2 * dx, 460), hip_l=(1000, 240), hip_r=(1000 + dx, 460)
    )
    # mid-hip (1000+dx/2, 350), mid-heel (2000+dx, 350): the axis is along x.
    assert v.body_axis_deg == pytest.approx(0.0, abs=1e-12)
    assert v.pelvic_tilt_deg == pytest.approx(2.0, abs=1e-9)
    assert v.lld_mm == pytest.approx(2 * dx, abs=1e-9)


def test_rotated_body_projects_on_body_axis_not_table_x() -> None:
    # A body rotated by 10 deg about +z, with a 5 mm LLD in the body frame.
    th = math.radians(10.0)
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])

    def place(x: float, y: float) -> np.ndarray:
        return rot @ np.array([x, y])

    v = frame_values(place(1000, -160), place(1005, 160), place(0, -110), place(0, 110))
    # Axis from mid-hip (0,0) to mid-heel (1002.5, 0) in the body frame -> angle 10 deg.
    assert v.body_axis_deg == pytest.approx(10.0, abs=1e-9)
    assert v.lld_mm == pytest.approx(5.0, abs=1e-9)
    # Along table x: (5, 320) rotated by 10 deg -> x = 5 cos10 - 320 sin10.
    assert v.lld_table_mm == pytest.approx(5 * math.cos(th) - 320 * math.sin(th), abs=1e-9)
    assert v.pelvic_tilt_deg == pytest.approx(0.0, abs=1e-9)


def test_z_is_ignored_and_bad_points_raise() -> None:
    a = frame_values((2000, 200, 90), (2003, 500, 110), (1000, 240, 160), (1000, 460, 170))
    b = frame_values((2000, 200), (2003, 500), (1000, 240), (1000, 460))
    assert a == b
    with pytest.raises(ValueError, match="not finite"):
        frame_values((np.nan, 0), (1, 1), (2, 2), (3, 3))
    with pytest.raises(ValueError, match="coincide"):
        frame_values((0, -1), (0, 1), (0, -1), (0, 1))


@pytest.mark.parametrize(
    ("lld", "side"), [(0.5, "none"), (-0.5, "none"), (0.51, "left"), (-0.51, "right")]
)
def test_short_side_deadband(lld: float, side: str) -> None:
    assert short_side(lld) == side


def _pts(frame: dict) -> tuple[np.ndarray, ...]:
    p = frame["points_mm"]
    return tuple(np.array(p[k]) for k in ("heel_L", "heel_R", "hip_L", "hip_R"))


@pytest.mark.parametrize("clip", CLIPS)
def test_projection_matches_truth_on_the_truths_axis(clip: str) -> None:
    """Given the generator's own body axis, our projection reproduces every frame's truth
    to the truth's rounding (0.001 mm, 0.001 deg) plus float slack."""
    for frame in load_truth(clip)["frames"]:
        th = math.radians(frame["body_axis_deg"])
        v = frame_values_on_axis(*_pts(frame), (math.cos(th), math.sin(th)))
        assert v.lld_mm == pytest.approx(frame["lld_mm"], abs=0.005), frame["frame"]
        assert v.pelvic_tilt_deg == pytest.approx(frame["pelvic_tilt_deg"], abs=0.02)


@pytest.mark.parametrize("clip", CLIPS)
def test_frame_values_match_truth_with_mid_hip_to_mid_heel_axis(clip: str) -> None:
    """Our body axis (mid-hip -> mid-heel, the contract) differs from the generator's
    body-fixed axis by <= 0.015 deg; across ~320 mm of heel separation that moves LLD by
    <= 0.085 mm, hence 0.1 mm here (tilt and axis within 0.02 deg). hard_roll is checked
    only while the body lies flat (the truth is body-fixed, the table plane is not)."""
    truth = load_truth(clip)
    for frame in truth["frames"]:
        if clip == "hard_roll" and 1.1 <= frame["t_s"] <= 2.7:
            continue
        v = frame_values(*_pts(frame))
        assert v.lld_mm == pytest.approx(frame["lld_mm"], abs=0.1), frame["frame"]
        assert v.pelvic_tilt_deg == pytest.approx(frame["pelvic_tilt_deg"], abs=0.02)
        assert v.body_axis_deg == pytest.approx(frame["body_axis_deg"], abs=0.02)


def test_truth_clips_exist() -> None:
    for clip in CLIPS:
        assert (SESSIONS / clip / "truth.json").is_file()
