"""Assisted landmarks through the measurement's geometry, on a rendered clip with truth:
points placed at the true heel pixels give the true LLD; a moved heel moves it by the
frame's mm per pixel; the click component scales with the click step."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fixture_data import SESSIONS, load_truth
from sotmeasure.geometry.table_pose import TablePose
from sotmeasure.processing.assisted import AssistedPlanes, measure_assisted
from sotmeasure.processing.setup import SOURCE_CONFIGURED, SetupFiles, load_files
from sotmeasure.processing.video import table_pose_of_video

ROOT = Path(__file__).resolve().parents[2]
CLIP = "pre_block"


@pytest.fixture(scope="module")
def pose() -> TablePose:
    files = SetupFiles(
        ROOT / "calibration" / "targets" / "table_8_markers.json",
        ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml",
        ROOT / "calibration" / "setups" / "rendered_table.toml",
        SOURCE_CONFIGURED,
    )
    setup = load_files(files)
    return table_pose_of_video(SESSIONS / CLIP / "video.mp4", setup.layout, setup.profile, 6)


def _truth_px(frame: int) -> np.ndarray:
    px = load_truth(CLIP)["frames"][frame]["points_px"]
    return np.array([px["heel_L"], px["heel_R"], px["hip_L"], px["hip_R"]], dtype=np.float64)


# The truth's hips are the joint centres (168 mm up), so map them there for this check.
PLANES = AssistedPlanes(heel_plane_mm=97.0, psis_plane_mm=168.0, uncertainty_mm=10.0)


def test_true_points_give_the_true_lld_within_the_ci(pose: TablePose) -> None:
    truth = load_truth(CLIP)["frames"][60]
    got = measure_assisted(pose, _truth_px(60), PLANES, click_step_px=1.0)
    assert got.values.lld_mm == pytest.approx(truth["lld_mm"], abs=0.6)
    assert got.values.pelvic_tilt_deg == pytest.approx(truth["pelvic_tilt_deg"], abs=0.2)
    low, high = got.lld_ci95
    assert low < truth["lld_mm"] < high
    names = [c.name for c in got.budget.components]
    assert names == ["calibration", "plane_height", "heel_height_difference", "click_placement"]


def test_moving_one_heel_moves_lld_by_its_table_distance(pose: TablePose) -> None:
    px = _truth_px(60)
    base = measure_assisted(pose, px, PLANES, click_step_px=1.0)
    moved = px.copy()
    moved[1, 0] += 15.0  # right heel 15 px toward the feet (image +x here)
    after = measure_assisted(pose, moved, PLANES, click_step_px=1.0)
    step_mm = float(pose.mm_per_px(px[1:2], 97.0)[0])
    assert after.values.lld_mm - base.values.lld_mm == pytest.approx(15.0 * step_mm, rel=0.1)


def test_click_uncertainty_scales_with_the_click_step(pose: TablePose) -> None:
    px = _truth_px(60)
    fine = measure_assisted(pose, px, PLANES, click_step_px=0.25).budget.components[-1]
    coarse = measure_assisted(pose, px, PLANES, click_step_px=1.0).budget.components[-1]
    assert coarse.inputs["click_u_px"] == pytest.approx(1.0 / math.sqrt(12.0))
    assert coarse.lld_u_mm == pytest.approx(4.0 * fine.lld_u_mm, rel=1e-6)
    assert coarse.pelvic_tilt_u_deg == pytest.approx(4.0 * fine.pelvic_tilt_u_deg, rel=1e-4)
