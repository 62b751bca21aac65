"""Units of the pose area on images with known content (drawn here, sub-pixel exact)."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest

from sotmeasure.capture.frame import Frame
from sotmeasure.errors import SotmeasureError
from sotmeasure.pose import quality
from sotmeasure.pose.errors import PoseInputError, PoseModelError
from sotmeasure.pose.heel_refine import STATUS_EDGE, refine_heel
from sotmeasure.pose.mediapipe_backend import MediaPipePoseEstimator
from sotmeasure.pose.orientation import QuarterTurn
from sotmeasure.pose.pipeline import BodyPoints, FramePoints, PosePipeline
from sotmeasure.pose.stickers import (
    HEEL_GREEN,
    PSIS_BLUE,
    StickerColour,
    find_stickers,
    label_pair,
    patient_right_dir,
)
from sotmeasure.pose.types import Landmark, PoseLandmarks, points_in_frame

SS = 8  # supersampling factor for anti-aliased drawing with sub-pixel positions


def _draw_ellipse(
    img: np.ndarray, centre: tuple[float, float], axes: tuple[float, float], bgr: tuple
) -> np.ndarray:
    """Anti-aliased filled ellipse at a sub-pixel centre (OpenCV pixel-centre convention)."""
    h, w = img.shape[:2]
    big = cv2.resize(img, (w * SS, h * SS), interpolation=cv2.INTER_NEAREST)
    c = (round((centre[0] + 0.5) * SS - 0.5), round((centre[1] + 0.5) * SS - 0.5))
    cv2.ellipse(big, c, (round(axes[0] * SS), round(axes[1] * SS)), 0, 0, 360, bgr, -1)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)


# -- types --------------------------------------------------------------------------------
def test_landmark_names_match_mediapipe_indices() -> None:
    assert len(Landmark) == 33
    assert (Landmark.LEFT_HIP, Landmark.RIGHT_HIP) == (23, 24)
    assert (Landmark.LEFT_HEEL, Landmark.RIGHT_HEEL) == (29, 30)


def test_pose_landmarks_checks_shapes() -> None:
    ok = dict(
        points_px=np.zeros((33, 2)),
        visibility=np.ones(33),
        in_frame=np.ones(33, dtype=bool),
        image_size=(10, 10),
    )
    lm = PoseLandmarks(**ok)
    assert lm.px(Landmark.NOSE).shape == (2,)
    for key, bad in (
        ("points_px", np.zeros((32, 2))),
        ("visibility", np.ones(34)),
        ("in_frame", np.ones(33)),
    ):
        with pytest.raises(ValueError, match=key):
            PoseLandmarks(**{**ok, key: bad})


def test_in_frame_check_uses_the_margin() -> None:
    pts = np.array([[5.0, 5.0], [2.0, 50.0], [97.0, 50.0], [50.0, np.nan]])
    assert points_in_frame(pts, (100, 100), 3.0).tolist() == [True, False, False, False]


def test_frame_points_has_points_or_a_reason() -> None:
    with pytest.raises(ValueError):
        FramePoints(0, 0.0, None, None)
    with pytest.raises(ValueError):
        BodyPoints(np.zeros(2), np.zeros(2), np.zeros(2), np.array([np.nan, 0]), {}, "stickers")


# -- orientation --------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_quarter_turn_maps_every_pixel_back_exactly(k: int) -> None:
    img = np.random.default_rng(k).integers(0, 255, (7, 11, 3), dtype=np.uint8)
    turn = QuarterTurn(k, (11, 7))
    rot = turn.apply(img)
    ys, xs = np.mgrid[0 : rot.shape[0], 0 : rot.shape[1]]
    back = turn.points_to_original(np.stack([xs.ravel(), ys.ravel()], 1).astype(float))
    bx, by = back.round().astype(int).T
    assert np.array_equal(img[by, bx], rot[ys.ravel(), xs.ravel()])


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_quarter_turn_grid_maps_equal_the_per_point_mapping_bit_for_bit(k: int) -> None:
    """The mask-patch maps built from a row and a column are the per-pixel mapping's
    float32 numbers exactly (the heel refinement reads the mask through them)."""
    turn = QuarterTurn(k, (960, 540))
    xs = (np.arange(1203, 1311) + 0.5) / (1920 / 960) - 0.5  # frame px -> model input px
    ys = (np.arange(611, 702) + 0.5) / (1080 / 540) - 0.5
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    each = turn.points_to_rotated(np.stack([gx.ravel(), gy.ravel()], 1))
    mx, my = turn.grid_to_rotated(xs, ys)
    assert mx.dtype == my.dtype == np.float32
    assert np.array_equal(mx, each[:, 0].reshape(gx.shape).astype(np.float32))
    assert np.array_equal(my, each[:, 1].reshape(gx.shape).astype(np.float32))


@pytest.mark.parametrize(
    ("caudal", "k"), [((1, 0), 3), ((0, 1), 0), ((-1, 0), 1), ((0, -1), 2), ((0.9, 0.5), 3)]
)
def test_head_up_turn_points_the_feet_down(caudal: tuple[float, float], k: int) -> None:
    turn = QuarterTurn.head_up(caudal, (40, 30))
    assert turn.k == k
    assert turn.rotate_dir(np.array(caudal, float))[1] > 0


# -- heel refinement ----------------------------------------------------------------------
@pytest.mark.parametrize("tip_x", [140.0, 140.3, 140.7])
@pytest.mark.parametrize("use_mask", [True, False])
def test_heel_refinement_finds_the_caudal_edge_sub_pixel(tip_x: float, use_mask: bool) -> None:
    """A skin-coloured foot over grey floor, feet toward +x: the caudal tip is found."""
    img = np.full((120, 200, 3), (150, 160, 165), np.uint8)
    img = cv2.add(img, np.random.default_rng(1).normal(0, 2, img.shape).astype(np.int8), dtype=0)
    cx = tip_x - 30.0
    img = _draw_ellipse(img, (cx, 60.0), (30.0, 18.0), (120, 170, 225))
    mask = None
    if use_mask:  # a coarse mask (like the model's, upsampled from 256 px): 3 px too small
        m = np.zeros((120, 200), np.uint8)
        cv2.ellipse(m, (round(cx), 60), (27, 16), 0, 0, 360, 1, -1)
        mask = m.astype(np.float32)
    heel_lm = np.array([tip_x - 6.0, 61.5])  # the model's heel sits inside the heel
    ankle_lm = np.array([tip_x - 50.0, 60.0])
    res = refine_heel(img, heel_lm, ankle_lm, (1.0, 0.0), mask=mask)
    assert res.status == STATUS_EDGE
    assert abs(res.point_px[0] - tip_x) < 0.5
    assert res.point_px[1] == pytest.approx(heel_lm[1])  # lateral: the landmark's line


def test_heel_refinement_never_hides_a_fallback() -> None:
    img = np.full((100, 100, 3), 128, np.uint8)  # nothing to find
    res = refine_heel(img, np.array([50.0, 50.0]), np.array([20.0, 50.0]), (1, 0))
    assert res.status.startswith("raw-landmark (")
    assert res.point_px.tolist() == [50.0, 50.0]
    res = refine_heel(img, np.array([50.0, 50.0]), np.array([20.0, 50.0]), (1, 0), view_ok=False)
    assert res.status.startswith("raw-landmark (oblique view")


# -- stickers -----------------------------------------------------------------------------
def _sticker_image(centres: list[tuple[float, float]], colour: StickerColour) -> np.ndarray:
    img = np.full((200, 300, 3), (150, 170, 200), np.uint8)  # skin-ish background
    r, g, b = colour.rgb
    for c in centres:
        img = _draw_ellipse(img, c, (8.0, 8.0), (b, g, r))
    return img


def test_sticker_centres_are_sub_pixel() -> None:
    centres = [(60.3, 50.8), (230.55, 140.1)]
    found = find_stickers(_sticker_image(centres, HEEL_GREEN), HEEL_GREEN)
    assert len(found) == 2
    for c in centres:
        err = min(np.hypot(*(s.centre_px - c)) for s in found)
        assert err < 0.15


def test_sticker_colour_is_configurable_and_other_colours_are_ignored() -> None:
    img = _sticker_image([(60.0, 50.0), (230.0, 140.0)], HEEL_GREEN)
    assert find_stickers(img, PSIS_BLUE) == []
    orange = StickerColour((255, 140, 0), tolerance=0.2)
    assert len(find_stickers(_sticker_image([(100.0, 100.0)], orange), orange)) == 1


def test_patient_right_for_feet_toward_image_right_is_image_up() -> None:
    # table +y (patient's right, prone) projects to image-up when the feet point right
    assert np.allclose(patient_right_dir((1.0, 0.0)), (0.0, -1.0))
    # camera beyond the feet looking toward the head: feet down, patient's right = image right
    assert np.allclose(patient_right_dir((0.0, 1.0)), (1.0, 0.0))
    found = find_stickers(_sticker_image([(200.0, 150.0), (200.0, 40.0)], HEEL_GREEN), HEEL_GREEN)
    pair = label_pair(found, patient_right_dir((1.0, 0.0)))
    assert pair is not None
    left, right = pair
    assert left.centre_px[1] > right.centre_px[1]


def test_sticker_pipeline_rejects_a_frame_with_one_heel_sticker() -> None:
    img = _sticker_image([(200.0, 150.0)], HEEL_GREEN)
    with PosePipeline(mode="stickers", caudal_dir_px=(1, 0)) as pipe:
        out = pipe.process(Frame(img, 0, 0.0))
    assert out.points is None
    assert out.rejection == quality.REJECT_HEEL_STICKERS


# -- estimator ----------------------------------------------------------------------------
def test_bundled_model_hash_is_recorded_and_another_model_loads_by_path(tmp_path: Path) -> None:
    data = (
        resources.files("sotmeasure.pose").joinpath("models/pose_landmarker_full_offline.task")
    ).read_bytes()
    copy = tmp_path / "other.task"
    copy.write_bytes(data)
    with MediaPipePoseEstimator(running_mode="image") as est:
        assert est.model_sha256 == hashlib.sha256(data).hexdigest()
        assert est.model_name == "pose_landmarker_full_offline.task"
    with MediaPipePoseEstimator(model_path=copy, running_mode="image") as est:
        assert est.model_name == "other.task"
        assert est.estimate(np.zeros((64, 64, 3), np.uint8), 0) is None  # nobody in black


def test_bad_model_path_and_bad_use_fail_with_user_errors(tmp_path: Path) -> None:
    with pytest.raises(PoseModelError, match="cannot read"):
        MediaPipePoseEstimator(model_path=tmp_path / "missing.task")
    junk = tmp_path / "junk.task"
    junk.write_bytes(b"not a model")
    with pytest.raises(PoseModelError):
        MediaPipePoseEstimator(model_path=junk)
    est = MediaPipePoseEstimator(running_mode="video")
    blank = np.zeros((64, 64, 3), np.uint8)
    est.estimate(blank, 10)
    with pytest.raises(PoseInputError, match="increase"):
        est.estimate(blank, 10)
    est.close()
    est.close()  # twice is fine
    with pytest.raises(SotmeasureError, match="closed"):
        est.estimate(blank, 20)


# -- gates on a real frame ----------------------------------------------------------------
def test_heels_cut_off_by_the_image_border_are_rejected() -> None:
    """The model keeps 'seeing' heels beyond the border; our own in-frame check refuses."""
    from pose_clip_data import caudal_dir_px, read_frames

    frame = read_frames("pre_block", step=1000)[0]
    cut = np.ascontiguousarray(frame.image[:, :1150])  # heels sit at x ~ 1175-1185
    with PosePipeline(
        caudal_dir_px=caudal_dir_px("pre_block"),
        estimator=MediaPipePoseEstimator(running_mode="image", output_segmentation=True),
    ) as pipe:
        out = pipe.process(Frame(cut, 0, 0.0))
        pipe.estimator.close()  # type: ignore[union-attr]
    assert out.points is None
    assert out.rejection in (quality.REJECT_HEELS_OUT_OF_FRAME, quality.REJECT_HEELS_HIDDEN)
