"""Error-budget components against hand-computed values."""

from __future__ import annotations

import math

import pytest

from sotmeasure.measure.error_budget import hip_landmark_component, model_resolution_component


def test_refined_heels_are_budgeted_at_image_resolution() -> None:
    # 1.6 mm pixels: u = 1.6 / sqrt(12) = 0.462 mm per heel, LLD x sqrt(2) = 0.653 mm.
    c = model_resolution_component(
        heel_unrefined_step_mm=13.0,
        heel_refined_step_mm=1.6,
        refined_share=1.0,
        heel_unrefined_offset_u_mm=10.0,
        detail="",
    )
    assert c.lld_u_mm == pytest.approx(0.653, abs=1e-3)


def test_unrefined_heels_carry_the_landmark_offset_allowance() -> None:
    # grid 13 mm -> 3.753 mm; with a 10 mm offset: sqrt(3.753^2 + 10^2) = 10.681 mm per heel,
    # x sqrt(2) = 15.105 mm of LLD (1 SD): a raw-landmark LLD is honest about being coarse.
    c = model_resolution_component(
        heel_unrefined_step_mm=13.0,
        heel_refined_step_mm=1.6,
        refined_share=0.0,
        heel_unrefined_offset_u_mm=10.0,
        detail="",
    )
    assert c.lld_u_mm == pytest.approx(15.105, abs=1e-3)
    assert c.pelvic_tilt_u_deg == 0.0


def test_hip_points_set_tilt_and_axis_uncertainty() -> None:
    # 5 mm per hip coordinate over 210 mm: tilt u = atan(5*sqrt2/210) = 1.929 deg;
    # mid-hip lateral 3.536 mm over an 870 mm axis = 4.064 mrad, x 320 mm heels = 1.300 mm.
    c = hip_landmark_component(
        hip_u_mm=5.0,
        hip_separation_mm=210.0,
        heel_separation_mm=320.0,
        axis_length_mm=870.0,
        detail="",
    )
    assert c.pelvic_tilt_u_deg == pytest.approx(math.degrees(math.atan(5 * math.sqrt(2) / 210)))
    assert c.pelvic_tilt_u_deg == pytest.approx(1.929, abs=1e-3)
    assert c.lld_u_mm == pytest.approx(1.300, abs=1e-3)
