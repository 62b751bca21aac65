"""Bad inputs fail with one clear, named error: blank images, wrong dictionary, moved camera,
wrong profile resolution."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from geometry_fixtures import SESSIONS, TARGETS, clip_frames, true_profile

from sotmeasure.errors import SotmeasureError
from sotmeasure.geometry.detect import explain_no_markers
from sotmeasure.geometry.errors import (
    CameraMovedError,
    MarkersNotFoundError,
    ProfileError,
)
from sotmeasure.geometry.frames import read_frames
from sotmeasure.geometry.layout import TargetLayout, load_layout
from sotmeasure.geometry.table_pose import estimate_table_pose


def test_blank_image_has_no_markers(table_layout: TargetLayout) -> None:
    blank = np.full((720, 1280, 3), 200, dtype=np.uint8)
    with pytest.raises(MarkersNotFoundError, match="no DICT_4X4_50 marker is visible") as info:
        estimate_table_pose([blank, blank], table_layout, true_profile("pre_block"))
    assert isinstance(info.value, SotmeasureError)
    assert "\n" not in str(info.value)


def test_wrong_dictionary_is_named(tmp_path: Path) -> None:
    data = json.loads((TARGETS / "table_8_markers.json").read_text())
    data["dictionary"] = "DICT_5X5_50"
    path = tmp_path / "five.json"
    path.write_text(json.dumps(data))
    layout = load_layout(path)
    with pytest.raises(MarkersNotFoundError) as info:
        estimate_table_pose(list(clip_frames("pre_block"))[:2], layout, None)
    msg = str(info.value)
    assert "DICT_5X5_50" in msg and "DICT_4X4" in msg


def test_blurred_markers_are_not_taken_for_another_dictionary() -> None:
    """pre_block blurred by 4 px (a camera out of focus): the layout's markers are no longer
    read, and one odd id found in a larger dictionary must not send the user looking for
    another printed target."""
    (frame,) = read_frames(SESSIONS / "pre_block" / "video.mp4", [18])
    blurred = cv2.GaussianBlur(frame, (0, 0), 4.0)
    reason = explain_no_markers(blurred, load_layout(TARGETS / "table_8_markers.json"))
    assert "another dictionary" not in reason
    assert reason.startswith("no DICT_4X4_50 marker is visible") and "in focus" in reason


def test_layout_listing_other_ids_is_explained(tmp_path: Path) -> None:
    data = json.loads((TARGETS / "table_8_markers.json").read_text())
    data["markers"] = {str(int(k) + 20): v for k, v in data["markers"].items()}
    path = tmp_path / "other_ids.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MarkersNotFoundError, match="wrong layout file"):
        estimate_table_pose(list(clip_frames("pre_block"))[:1], load_layout(path), None)


def test_profile_of_another_aspect_is_refused(table_layout: TargetLayout) -> None:
    prof = true_profile("pre_block")  # 1280x720
    four_three = dataclasses.replace(prof, image_size_px=(1280, 960))
    with pytest.raises(ProfileError, match=r"made at 1280x960 but the images are 1280x720"):
        estimate_table_pose(list(clip_frames("pre_block"))[:1], table_layout, four_three)


def test_profile_rescales_to_same_aspect() -> None:
    prof = true_profile("pre_block")
    big = prof.for_size(1920, 1080)
    assert big.image_size_px == (1920, 1080)
    assert big.matrix[0, 0] == pytest.approx(1088.0 * 1.5)
    assert big.matrix[0, 2] == pytest.approx(959.5)  # pixel-centre convention
    assert big.matrix[1, 2] == pytest.approx(539.5)
    assert np.array_equal(big.distortion, prof.distortion)
    assert prof.for_size(1280, 720) is prof
    with pytest.raises(ProfileError):
        prof.for_size(1281, 720)


def test_camera_moved_during_window(table_layout: TargetLayout) -> None:
    frames = list(clip_frames("pre_block"))
    moved = [
        np.ascontiguousarray(np.roll(f, 12, axis=0)) if i >= 3 else f for i, f in enumerate(frames)
    ]
    with pytest.raises(CameraMovedError, match=r"moved by \d+\.\d px"):
        estimate_table_pose(moved, table_layout, true_profile("pre_block"))


def test_one_visible_marker_is_enough(table_layout: TargetLayout) -> None:
    """Cover every marker but id 2 (as limbs might): the pose still solves from 4 corners."""
    frame = clip_frames("pre_block")[0].copy()
    keep = [i for i in table_layout.ids if i != 2]
    pose_all = estimate_table_pose([frame], table_layout, true_profile("pre_block"))
    for marker_id in keep:
        c = pose_all.reference_corners_px[marker_id]
        x0, y0 = np.floor(c.min(axis=0)).astype(int) - 3
        x1, y1 = np.ceil(c.max(axis=0)).astype(int) + 3
        frame[y0:y1, x0:x1] = 40
    pose = estimate_table_pose([frame], table_layout, true_profile("pre_block"))
    assert pose.markers_used == (2,)
    assert pose.reprojection_px < 1.0
