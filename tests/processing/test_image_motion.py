"""Motion judged on the image at the points, not on the points' jitter (issue 11, item 4).

Synthetic textured images with a known sub-pixel shift: the content motion is found to a
fraction of a pixel whatever the detector did with the point between the two frames, a flat
patch gives no figure, and the gate's combination of image and landmark motion keeps a
still patient with jittering points still while a real jump still counts.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sotmeasure.measure.window import MotionParams, body_motion_mm
from sotmeasure.processing.image_motion import content_shift_px, point_patches


def _texture(seed: int = 3, size: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur((rng.random((size, size)) * 255).astype(np.uint8), (0, 0), 2)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def _shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]))


POINTS = np.array([[200.0, 200.0], [150.0, 250.0], [250.0, 150.0], [200.0, 260.0]])


@pytest.mark.parametrize(
    ("motion", "detector_jump"),
    [((3.4, -2.2), (0, 0)), ((3.4, -2.2), (17, -9)), ((0.0, 0.0), (20, 5)), ((9.5, 6.0), (-4, 3))],
)
def test_the_content_motion_is_found_whatever_the_point_did(
    motion: tuple[float, float], detector_jump: tuple[int, int]
) -> None:
    before = _texture()
    after = _shifted(before, *motion)
    earlier = point_patches(before, POINTS)
    later = point_patches(after, POINTS + np.array(detector_jump, dtype=float))
    for k in range(4):
        found = content_shift_px(earlier, later, k)
        assert found is not None
        assert found == pytest.approx(np.array(motion), abs=0.3)  # px; 0.3 px ~ 0.5 mm at 720p


def test_a_flat_patch_or_a_point_off_the_image_gives_no_figure() -> None:
    flat = np.full((400, 400, 3), 128, np.uint8)
    noisy = np.clip(flat + np.random.default_rng(1).normal(0, 2, flat.shape), 0, 255).astype(
        np.uint8
    )
    assert content_shift_px(point_patches(flat, POINTS), point_patches(noisy, POINTS), 0) is None
    edge = np.array([[5.0, 5.0]] * 4)
    image = _texture()
    assert content_shift_px(point_patches(image, edge), point_patches(image, edge), 0) is None


T = np.arange(12) / 30.0


def _still_points_with(jitter_mm: np.ndarray, point: int = 2) -> np.ndarray:
    """(12, 4, 2) still points (mm) of which one moves by `jitter_mm` along y per frame."""
    pts = np.tile(
        np.array([[900.0, -150.0], [900.0, 150.0], [0.0, -100.0], [0.0, 100.0]]), (12, 1, 1)
    )
    pts[:, point, 1] += jitter_mm
    return pts


def test_jitter_is_not_motion_where_the_image_stood_still() -> None:
    params = MotionParams()  # threshold 5 mm, 2 points must move
    jitter = np.array([0, 0, 0, 0, 0, 0, 0, 8, -8, 8, -8, 8], dtype=float)  # two hips jitter
    pts = _still_points_with(jitter, 2)
    pts[:, 3, 1] -= jitter
    still_image = np.full((12, 4), 0.3)
    assert np.nanmax(body_motion_mm(T, pts, still_image, params)) < 1.0
    # where the image cannot tell (NaN), the same jitter reads as motion, as before
    blind = still_image.copy()
    blind[:, 2:] = np.nan
    assert np.nanmax(body_motion_mm(T, pts, blind, params)) > params.threshold_mm


def test_a_jump_past_the_cap_is_motion_whatever_the_image_says() -> None:
    params = MotionParams()  # cap 2 x 5 = 10 mm
    jump = np.array([0, 0, 0, 0, 0, 0, 0, 30, 30, 30, 30, 30], dtype=float)
    pts = _still_points_with(jump, 0)
    pts[:, 1, 1] += jump
    assert np.nanmax(body_motion_mm(T, pts, np.full((12, 4), 0.3), params)) > 10.0


def test_a_single_frame_correlation_outlier_is_no_motion_but_a_real_move_is() -> None:
    params = MotionParams()
    pts = _still_points_with(np.zeros(12))
    spike = np.full((12, 4), 0.4)
    spike[5, :] = 14.9  # one wrong peak on a still patient
    assert np.nanmax(body_motion_mm(T, pts, spike, params)) < 1.0
    move = np.full((12, 4), 0.4)
    move[4:10, :] = [[9.0], [12.0], [14.0], [13.0], [11.0], [8.0]]  # a 0.2 s roll
    assert np.nanmax(body_motion_mm(T, pts, move, params)) > 10.0


def _edge_image(seed: int = 5, size: int = 400) -> np.ndarray:
    """A soft vertical edge (cloth on a pad) with faint noise: content along one line only."""
    grey = np.where(np.arange(size)[None, :] < size // 2, 90.0, 170.0) * np.ones((size, 1))
    grey = cv2.GaussianBlur(grey, (0, 0), 1.5)
    grey += np.random.default_rng(seed).normal(0.0, 1.0, grey.shape)
    return cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


EDGE_POINT = np.array([[200.0, 200.0]] * 4)


@pytest.mark.parametrize(
    ("motion", "seen"),
    [
        ((0.0, 0.0), (0.0, 0.0)),  # still: noise must not slide the match along the edge
        ((0.0, 8.0), (0.0, 0.0)),  # along the edge: the image cannot tell, so no motion
        ((5.0, 0.0), (5.0, 0.0)),  # across the edge: seen
        ((5.0, 8.0), (5.0, 0.0)),  # both: the part across the edge
    ],
)
def test_an_edge_patch_gives_the_motion_across_its_edge_only(
    motion: tuple[float, float], seen: tuple[float, float]
) -> None:
    """The aperture problem: held-out clip rand9859_04's hip patches on smooth shorts matched
    10-22 mm along the shorts' edge on a still patient (image_motion.py)."""
    before = _edge_image()
    after = _shifted(_edge_image(seed=6), *motion)  # another noise draw: another frame
    found = content_shift_px(point_patches(before, EDGE_POINT), point_patches(after, EDGE_POINT), 0)
    assert found is not None
    assert found == pytest.approx(np.array(seen), abs=1.0)  # px
