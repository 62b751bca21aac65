"""Pixels -> table mm on the rendered clips: true camera, then the pose estimated from markers.

Tolerances: with the TRUE camera the mapping is exact up to the truth file's rounding
(3 decimals), hence 0.5 mm. With the pose ESTIMATED from the video's markers, corner
detection noise (~0.3 px, ~0.5 mm at these scales) moves the table frame slightly;
2 mm is what issue 3 asks and is below the 3.7 mm a real LLD change must exceed.
"""

from __future__ import annotations

import numpy as np
import pytest
from geometry_fixtures import (
    HARD_ROLL_END_S,
    PROFILES,
    camera_json,
    clip_frames,
    true_profile,
    truth_json,
)

from fixture_data import TABLE_CLIPS
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.geometry.projection import pixels_to_plane
from sotmeasure.geometry.table_pose import (
    CameraTablePose,
    HomographyTablePose,
    estimate_table_pose,
)

POINTS = ("heel_L", "heel_R", "hip_L", "hip_R")


def truth_points(clip: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) true pixels and (N, 3) true table mm of heels and hips over the still frames."""
    px, mm = [], []
    for frame in truth_json(clip)["frames"]:
        if clip == "hard_roll" and frame["t_s"] >= HARD_ROLL_END_S:
            continue
        for name in POINTS:
            if frame["in_frame"][name]:
                px.append(frame["points_px"][name])
                mm.append(frame["points_mm"][name])
    return np.array(px, dtype=np.float64), np.array(mm, dtype=np.float64)


_POSES: dict[str, CameraTablePose] = {}


def estimated_pose(clip: str, layout: TargetLayout) -> CameraTablePose:
    """With the clip's camera profile the pose is a full camera pose (its own type)."""
    if clip not in _POSES:
        pose = estimate_table_pose(list(clip_frames(clip)), layout, true_profile(clip))
        assert isinstance(pose, CameraTablePose)
        _POSES[clip] = pose
    return _POSES[clip]


@pytest.mark.parametrize("clip", TABLE_CLIPS)
def test_true_camera_maps_truth_pixels_to_truth_mm(clip: str) -> None:
    cam = camera_json(clip)
    px, mm = truth_points(clip)
    prof = true_profile(clip)
    got = pixels_to_plane(
        px,
        mm[:, 2],
        prof.matrix,
        prof.distortion,
        np.array(cam["R_table_to_cam"], dtype=np.float64),
        np.array(cam["t_table_to_cam_mm"], dtype=np.float64),
    )
    err = np.linalg.norm(got - mm, axis=1)
    assert len(err) > 100
    assert err.max() < 0.5, f"{clip}: max {err.max():.3f} mm"


@pytest.mark.parametrize("clip", TABLE_CLIPS)
def test_estimated_pose_maps_truth_pixels_within_2mm(clip: str, table_layout: TargetLayout) -> None:
    pose = estimated_pose(clip, table_layout)
    assert pose.calibration == "camera+pose"
    px, mm = truth_points(clip)
    got = pose.pixel_to_table(px, mm[:, 2])
    err = np.linalg.norm(got - mm, axis=1)
    assert err.max() < 2.0, f"{clip}: max {err.max():.3f} mm, mean {err.mean():.3f} mm"
    # the camera itself is found where the renderer put it (within 1 % of its distance)
    cam_true = np.array(camera_json(clip)["camera_position_table_mm"])
    dist = np.linalg.norm(pose.camera_position_mm - cam_true)
    assert dist < 0.01 * np.linalg.norm(cam_true - [1000.0, 350.0, 0.0])
    assert pose.reprojection_px < 1.0
    assert 0.0 < pose.reprojection_mm < 3.0


def test_hidden_markers_are_not_required(table_layout: TargetLayout) -> None:
    """rotated_body: arms hide markers 0 and 1; the pose uses the others."""
    pose = estimated_pose("rotated_body", table_layout)
    assert 0 not in pose.markers_used and 1 not in pose.markers_used
    assert len(pose.markers_used) == 6


@pytest.mark.parametrize("clip", ["pre_block", "oblique_distorted"])
def test_table_to_pixel_inverts_pixel_to_table(clip: str, table_layout: TargetLayout) -> None:
    pose = estimated_pose(clip, table_layout)
    px, mm = truth_points(clip)
    back = pose.table_to_pixel(pose.pixel_to_table(px, mm[:, 2]))
    assert np.abs(back - px).max() < 1e-3
    # and the truth's table points land on the truth's pixels (overlay accuracy)
    assert np.linalg.norm(pose.table_to_pixel(mm) - px, axis=1).max() < 1.5


def test_oblique_with_profile_from_charuco_calibration(table_layout: TargetLayout) -> None:
    """The shipped profile made by our own ChArUco calibration serves the oblique clip."""
    prof = load_profile(PROFILES / "rendered_oblique_1280x720.toml")
    pose = estimate_table_pose(list(clip_frames("oblique_distorted")), table_layout, prof)
    px, mm = truth_points("oblique_distorted")
    err = np.linalg.norm(pose.pixel_to_table(px, mm[:, 2]) - mm, axis=1)
    assert err.max() < 3.0, f"max {err.max():.2f} mm"


def test_table_direction_points_to_the_feet(table_layout: TargetLayout) -> None:
    """pre_block: feet are to the image right (camera.json placement feet='right')."""
    pose = estimated_pose("pre_block", table_layout)
    d = pose.table_direction_px([640.0, 360.0], [1.0, 0.0])
    assert d.shape == (2,)
    assert abs(np.linalg.norm(d) - 1.0) < 1e-9
    assert d[0] > 0.99
    across = pose.table_direction_px([640.0, 360.0], [0.0, 1.0])
    assert abs(float(d @ across)) < 0.05
    # oblique camera beyond the foot end: the feet are toward the image bottom
    obl = estimated_pose("oblique_distorted", table_layout)
    heel_px = np.array(truth_json("oblique_distorted")["frames"][0]["points_px"]["heel_L"])
    assert obl.table_direction_px(heel_px, [1.0, 0.0], z_mm=90.0)[1] > 0.9


def test_pixel_to_table_is_vectorised_over_heights(table_layout: TargetLayout) -> None:
    pose = estimated_pose("pre_block", table_layout)
    px = np.array([[640.0, 360.0], [640.0, 360.0]])
    pts = pose.pixel_to_table(px, np.array([0.0, 100.0]))
    assert pts.shape == (2, 3)
    assert pts[0, 2] == 0.0 and pts[1, 2] == 100.0
    # a point higher up along the same ray lies closer to the camera in x, y
    cam = pose.camera_position_mm
    assert np.linalg.norm(pts[1, :2] - cam[:2]) < np.linalg.norm(pts[0, :2] - cam[:2])
    assert pose.mm_per_px(px[0]).shape == (1,)
    assert 1.0 < float(pose.mm_per_px(px[0])[0]) < 2.5  # 1850 mm / 1088 px = 1.7 mm/px


def test_homography_only_is_flagged_and_refuses_heights(table_layout: TargetLayout) -> None:
    pose = estimate_table_pose(list(clip_frames("pre_block")), table_layout, None)
    assert isinstance(pose, HomographyTablePose)
    assert pose.calibration == "homography-only"
    assert not pose.supports_height
    corners = np.concatenate([table_layout.markers[i] for i in pose.markers_used])
    on_table = pose.pixel_to_table(pose.table_to_pixel(corners), 0.0)
    assert np.abs(on_table - corners).max() < 1e-6
    with pytest.raises(Exception, match="homography-only"):
        pose.pixel_to_table(np.array([[640.0, 360.0]]), 97.0)
    assert pose.to_dict()["calibration"] == "homography-only"
    assert pose.to_dict()["profile_name"] is None and "camera_position_mm" not in pose.to_dict()
