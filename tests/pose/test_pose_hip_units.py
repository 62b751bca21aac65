"""Hip refinement on drawn masks: two straight legs with a known mid-line."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sotmeasure.pose.hip_refine import STATUS_REFINED, refine_hips
from sotmeasure.pose.pipeline import BodyPoints

W, H = 400, 700
SS = 8


def _legs_mask(mid_x: float, spread: float = 1.0, together: bool = False) -> np.ndarray:
    """Person mask (1 = body) of a pelvis block above two straight legs, head up, feet
    down; the body's mid-line is x = mid_x (vertical), drawn anti-aliased."""
    big = np.zeros((H * SS, W * SS), np.uint8)

    def p(x: float, y: float) -> tuple[int, int]:
        return round((x + 0.5) * SS - 0.5), round((y + 0.5) * SS - 0.5)

    hip_y, heel_y = 150.0, 650.0
    half_hip = 60.0
    cv2.fillConvexPoly(
        big,
        np.array([p(mid_x - 90, 80), p(mid_x + 90, 80), p(mid_x + 90, 230), p(mid_x - 90, 230)]),
        255,
    )
    for side in (-1, 1):
        hip_x = mid_x + side * half_hip
        heel_x = mid_x + side * (13.0 if together else 110.0 * spread)
        thick = 62.0 if together else 45.0
        # a leg tapering from thigh to ankle, symmetric about its own centre line
        pts = [
            p(hip_x - thick, hip_y),
            p(hip_x + thick, hip_y),
            p(heel_x + 14, heel_y),
            p(heel_x - 14, heel_y),
        ]
        cv2.fillConvexPoly(big, np.array(pts), 255)
    small = cv2.resize(big, (W, H), interpolation=cv2.INTER_AREA)
    return (small.astype(np.float32) / 255.0).astype(np.float32)


def _sampler(mask: np.ndarray):  # type: ignore[no-untyped-def]
    def sample(grid_to_frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return cv2.warpAffine(
            mask,
            grid_to_frame,
            size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )

    return sample


CAUDAL = np.array([0.0, 1.0])
RIGHT = np.array([1.0, 0.0])  # the sign only labels the shift


@pytest.mark.parametrize("mid_x", [200.0, 203.4])
@pytest.mark.parametrize("offset", [-9.0, 0.0, 6.5])
def test_mid_hip_moves_onto_the_legs_mid_line(mid_x: float, offset: float) -> None:
    mask = _legs_mask(mid_x)
    # the "model's" hips: off the mid-line by `offset`, asymmetric, with a slanted hip line
    hip_l = np.array([mid_x - 55 + offset, 146.0])
    hip_r = np.array([mid_x + 48 + offset, 152.0])
    heel_mid = np.array([mid_x, 650.0])
    ankle_mid = np.array([mid_x, 630.0])
    res = refine_hips(_sampler(mask), hip_l, hip_r, heel_mid, ankle_mid, RIGHT)
    assert res.status == STATUS_REFINED
    mid = (res.hip_left_px + res.hip_right_px) / 2
    assert abs(mid[0] - mid_x) < 0.3  # px
    np.testing.assert_allclose(res.hip_right_px - res.hip_left_px, hip_r - hip_l)


def test_legs_spread_unevenly_still_give_the_mid_line() -> None:
    """Left leg spread more than the right: the gap mid-points still lie on mid-hip ->
    mid-heel (the mean of two straight legs at one level)."""
    big = np.zeros((H * SS, W * SS), np.uint8)
    mid_x, hip_y, heel_y = 200.0, 150.0, 650.0

    def p(x: float, y: float) -> tuple[int, int]:
        return round((x + 0.5) * SS - 0.5), round((y + 0.5) * SS - 0.5)

    cv2.fillConvexPoly(big, np.array([p(110, 80), p(290, 80), p(290, 230), p(110, 230)]), 255)
    heels = {-1: mid_x - 150.0, 1: mid_x + 70.0}
    for side in (-1, 1):
        hx = mid_x + side * 60.0
        pts = [
            p(hx - 45, hip_y),
            p(hx + 45, hip_y),
            p(heels[side] + 14, heel_y),
            p(heels[side] - 14, heel_y),
        ]
        cv2.fillConvexPoly(big, np.array(pts), 255)
    mask = (cv2.resize(big, (W, H), interpolation=cv2.INTER_AREA) / 255.0).astype(np.float32)
    heel_mid = np.array([(heels[-1] + heels[1]) / 2, heel_y])
    hip_l, hip_r = np.array([mid_x - 52.0, hip_y]), np.array([mid_x + 60.0, hip_y])
    res = refine_hips(_sampler(mask), hip_l, hip_r, heel_mid, heel_mid - [0, 20], RIGHT)
    assert res.status == STATUS_REFINED
    mid = (res.hip_left_px + res.hip_right_px) / 2
    assert abs(mid[0] - mid_x) < 0.5


def test_legs_together_keep_the_landmarks_and_say_why() -> None:
    mask = _legs_mask(200.0, together=True)
    hip_l, hip_r = np.array([141.0, 150.0]), np.array([262.0, 150.0])
    res = refine_hips(
        _sampler(mask), hip_l, hip_r, np.array([200.0, 650.0]), np.array([200.0, 630.0]), RIGHT
    )
    assert res.status.startswith("raw-landmark (")
    assert "gap between the legs" in res.status
    np.testing.assert_array_equal(res.hip_left_px, hip_l)


def test_without_a_mask_the_landmarks_stay_and_say_why() -> None:
    hip_l, hip_r = np.array([141.0, 150.0]), np.array([262.0, 150.0])
    res = refine_hips(None, hip_l, hip_r, np.array([200.0, 650.0]), np.array([200.0, 630.0]), RIGHT)
    assert res.status == "raw-landmark (no person mask)"
    np.testing.assert_array_equal(res.hip_right_px, hip_r)


def test_body_points_hip_status_defaults_for_existing_callers() -> None:
    b = BodyPoints(
        np.zeros(2), np.ones(2), np.zeros(2), np.ones(2), {"left": "x", "right": "y"}, "markerless"
    )
    assert b.hip_status.startswith("raw-landmark")
