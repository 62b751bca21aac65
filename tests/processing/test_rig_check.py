"""The rig check on the rendered check-sheet clip (tests/fixtures/rig_check): the chain's
error at the true box heights, at a wrong height, and the clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sotmeasure.geometry.check_sheet import SHEETS, check_ids_clash, print_check_sheets
from sotmeasure.geometry.errors import LayoutError
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.processing.rig_check import RigCheckError, check_rig
from sotmeasure.processing.setup import SOURCE_CONFIGURED, LoadedSetup, SetupFiles, load_files

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "fixtures" / "rig_check" / "check_sheets.mp4"
TRUTH = json.loads((CLIP.parent / "truth.json").read_text())
LAYOUT = ROOT / "calibration" / "targets" / "table_8_markers.json"
PROFILE = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
SETUP = ROOT / "calibration" / "setups" / "rendered_table.toml"
HEIGHTS = {role: s["box_height_mm"] for role, s in TRUTH["sheets"].items()}


@pytest.fixture(scope="module")
def setup() -> LoadedSetup:
    return load_files(SetupFiles(LAYOUT, PROFILE, SETUP, SOURCE_CONFIGURED))


def test_true_heights_give_sub_millimetre_errors(setup: LoadedSetup) -> None:
    result = check_rig(CLIP, setup, HEIGHTS, tolerance_mm=2.0)
    assert result.passed
    for role in ("heel", "hip"):
        sheet = result.sheet(role)
        assert sheet is not None and sheet.frames == 24
        # The printed truth is exact: what remains is detection (ArUco corners sit ~0.3 px
        # inside a rendered corner, docs/calibration.md) at ~0.8 mm per pixel.
        assert abs(sheet.error_mm) < 0.6, sheet
        assert sheet.ci95_mm[0] <= sheet.error_mm <= sheet.ci95_mm[1]
        assert sheet.ci95_mm[1] - sheet.ci95_mm[0] < 0.5


def test_a_wrong_box_height_shows_as_a_scale_error(setup: LoadedSetup) -> None:
    """10 mm too high: the sheet is mapped on a plane nearer the camera, so it reads smaller
    by 10 / (camera height above the sheet) of its 258 mm diagonal (about 1.9 mm)."""
    good = check_rig(CLIP, setup, {"heel": HEIGHTS["heel"]}, tolerance_mm=1.0).sheet("heel")
    bad = check_rig(CLIP, setup, {"heel": HEIGHTS["heel"] + 10.0}, tolerance_mm=1.0)
    heel = bad.sheet("heel")
    assert good is not None and heel is not None
    above = TRUTH["camera_centre_mm"][2] - HEIGHTS["heel"]
    expected = -heel.span_mm * 10.0 / above
    assert heel.error_mm - good.error_mm == pytest.approx(expected, abs=0.3)
    assert not bad.passed


def test_a_clip_without_sheets_is_refused_with_the_reason(setup: LoadedSetup) -> None:
    clip = ROOT / "tests" / "fixtures" / "sessions" / "pre_block" / "video.mp4"
    with pytest.raises(RigCheckError, match=r"HEEL sheet .* was seen on 0 of"):
        check_rig(clip, setup, {"heel": 97.0}, tolerance_mm=2.0, max_frames=4)


def test_homography_only_cannot_check_a_box(setup: LoadedSetup) -> None:
    no_camera = LoadedSetup(setup.layout, None, setup.params)
    with pytest.raises(RigCheckError, match="homography-only"):
        check_rig(CLIP, no_camera, {"heel": 97.0}, tolerance_mm=2.0)


def test_unknown_sheet_name_is_refused(setup: LoadedSetup) -> None:
    with pytest.raises(RigCheckError, match="heel, hip"):
        check_rig(CLIP, setup, {"knee": 50.0}, tolerance_mm=2.0)


def test_a_layout_using_the_sheet_ids_is_refused() -> None:
    layout = TargetLayout("clash", "DICT_4X4_50", 40.0, {41: np.zeros((4, 3))}, "x")
    with pytest.raises(LayoutError, match=r"\[41\]"):
        check_ids_clash(layout)


def test_sheet_geometry_and_pdf(tmp_path: Path) -> None:
    heel = SHEETS["heel"]
    corners = heel.corners_mm()
    assert set(corners) == {40, 41, 42, 43}
    for c in corners.values():  # 40 mm squares
        assert np.linalg.norm(c[1] - c[0]) == pytest.approx(40.0)
        assert np.linalg.norm(c[3] - c[0]) == pytest.approx(40.0)
    assert heel.longest_offset()[2] == pytest.approx(np.hypot(210.0, 150.0))
    summary = print_check_sheets(tmp_path / "sheets.pdf")
    data = summary.path.read_bytes()
    assert data.startswith(b"%PDF") and summary.pages == 2
    assert b"HEEL sheet" in data and b"HIP sheet" in data and b"100 mm check line" in data
