"""Sticker mode against the light: the markers' white and black squares as the reference.

Real frames of the rendered sticker clip (20 mm discs, ~0.93 px/mm at the stickers, so 1 px is
~1.1 mm), changed as bench/perturb.py changes them for the robustness bench: +1 EV (the white
and the stickers' strong channels clip), -1.5 EV, a warm cast with no white balance (red x1.25,
blue x0.75 in linear light), sensor noise with JPEG q25. The checks are in pixels against the
rendered sticker centres (truth.json), in colour levels for the calibration, and the refusal
of frames without stickers.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from fixture_data import SESSIONS
from sotmeasure.capture.frame import Frame
from sotmeasure.cli import app
from sotmeasure.geometry.layout import TargetLayout, load_layout
from sotmeasure.geometry.photometry import marker_photometry
from sotmeasure.geometry.table_pose import TablePose, estimate_table_pose
from sotmeasure.pose.photometry import Photometry
from sotmeasure.pose.quality import REJECT_HEEL_STICKERS
from sotmeasure.pose.stickers import (
    HEEL_GREEN,
    PSIS_BLUE,
    ColourTable,
    StickerColour,
    StickerColourError,
    calibrate_sticker_colour,
    find_stickers,
)
from sotmeasure.processing.frame_step import TableView
from sotmeasure.processing.params import SetupError, load_setup, resolve_params
from sotmeasure.processing.sticker_colours import write_sticker_colours

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import perturb  # bench/ is a folder of scripts, not a package

CLIP = SESSIONS / "stickers"
SETUP = Path(__file__).resolve().parents[2] / "calibration" / "setups" / "rendered_table.toml"
FRAMES = (0, 60, 119)
STICKERS = ("heel_sticker_L", "heel_sticker_R", "psis_sticker_L", "psis_sticker_R")
Image = npt.NDArray[np.uint8]
Clip = tuple[list[Image], TablePose, TargetLayout, dict[str, Any]]


def _noise_jpeg(img: Image) -> Image:
    rng = np.random.default_rng(7)
    return perturb.jpeg(perturb.add_noise(img, perturb.noise_field(img.shape, 6.0, rng), rng), 25)


CHANGES: dict[str, Callable[[Image], Image]] = {
    "clean": lambda im: im,
    "over_exposed": lambda im: perturb.exposure(im, 1.0),
    "under_exposed": lambda im: perturb.exposure(im, -1.5),
    "colour_cast": lambda im: perturb.colour_cast(im, (0.75, 1.0, 1.25)),
    "noise_jpeg": _noise_jpeg,
}


@pytest.fixture(scope="module")
def clip() -> Clip:
    cap = cv2.VideoCapture(str(CLIP / "video.mp4"))
    images: list[Image] = []
    for k in range(max(FRAMES) + 1):
        ok, img = cap.read()
        assert ok
        if k in FRAMES:
            images.append(np.asarray(img, np.uint8))
    cap.release()
    layout = load_layout(CLIP / "layout.json")
    truth = json.loads((CLIP / "truth.json").read_text())
    return images, estimate_table_pose(images, layout, None), layout, truth


def _changed(clip_images: list[Image], change: str) -> list[Image]:
    return [CHANGES[change](im) for im in clip_images]


def _reference(images: list[Image], pose: TablePose, layout: TargetLayout) -> Photometry:
    ref = marker_photometry(images, pose, layout)
    assert ref is not None
    return ref


def _hue_deg(rgb: tuple[int, int, int]) -> float:
    hsv = cv2.cvtColor(np.array([[rgb[::-1]]], np.uint8), cv2.COLOR_BGR2HSV_FULL)
    return float(hsv[0, 0, 0]) * 360.0 / 256.0


def test_marker_reference_reads_exposure_and_white_balance(clip: Clip) -> None:
    images, pose, layout, _ = clip
    ref = {c: _reference(_changed(images, c), pose, layout) for c in CHANGES}
    clean = ref["clean"]
    assert not any(clean.clipped)
    assert clean.squares >= 500  # 8 markers x 36 cells x 3 frames, minus none
    # exposure in stops: -1.5 EV reads 1.5 stops darker; +1 EV clips, estimated from the black
    assert ref["under_exposed"].exposure_ev() - clean.exposure_ev() == pytest.approx(1.5, abs=0.1)
    over = ref["over_exposed"]
    assert all(over.clipped)
    assert over.exposure_ev() - clean.exposure_ev() == pytest.approx(-1.0, abs=0.25)
    # white balance: the cast's red x1.25 (clipped in the white: from the black) and blue x0.75
    (r0, b0), (r1, b1) = clean.white_balance(), ref["colour_cast"].white_balance()
    assert r1 / r0 == pytest.approx(1.25, rel=0.05)
    assert b1 / b0 == pytest.approx(0.75, rel=0.05)


def test_covered_markers_are_left_out_of_the_reference(clip: Clip) -> None:
    images, pose, layout, _ = clip
    clean = _reference(images[:1], pose, layout)
    covered = images[0].copy()
    ids = sorted(layout.markers)
    for mid in ids[1:]:  # a grey sheet over every marker but the first
        quad = pose.table_to_pixel(np.asarray(layout.markers[mid], dtype=np.float64))
        cv2.fillConvexPoly(covered, np.round(quad).astype(np.int32), (128, 128, 128))
    one = _reference([covered], pose, layout)
    assert one.squares == 36  # one 4x4 marker: 6 x 6 cells
    assert max(abs(a - b) for a, b in zip(one.white_bgr, clean.white_bgr, strict=True)) <= 6
    quad = pose.table_to_pixel(np.asarray(layout.markers[ids[0]], dtype=np.float64))
    cv2.fillConvexPoly(covered, np.round(quad).astype(np.int32), (128, 128, 128))
    assert marker_photometry([covered], pose, layout) is None


@pytest.mark.parametrize("change", list(CHANGES))
def test_sticker_centres_are_found_under_light_changes(clip: Clip, change: str) -> None:
    images, pose, layout, truth = clip
    changed = _changed(images, change)
    photometry = marker_photometry(changed, pose, layout)
    params = resolve_params(mode="stickers", setup=load_setup(SETUP))
    errors = []
    with TableView.of(pose, layout).pipeline(params, photometry=photometry) as pipe:
        for k, image in zip(FRAMES, changed, strict=True):
            points = pipe.process(Frame(image, k, k / 30.0)).points
            assert points is not None, f"frame {k}: stickers not found"
            found = (
                points.heel_left_px,
                points.heel_right_px,
                points.hip_left_px,
                points.hip_right_px,
            )
            want = truth["frames"][k]["points_px"]
            errors += [
                float(np.hypot(*(p - want[name]))) for p, name in zip(found, STICKERS, strict=True)
            ]
    # every sticker within 1.2 px (~1.3 mm) of the rendered centre, typically a quarter pixel
    assert max(errors) < 1.2
    assert float(np.median(errors)) < 0.5


@pytest.mark.parametrize("change", ["clean", "over_exposed", "under_exposed", "colour_cast"])
def test_background_is_not_taken_for_a_sticker(clip: Clip, change: str) -> None:
    images, pose, layout, _ = clip
    image = _changed(images, change)[0]
    photometry = marker_photometry([image], pose, layout)
    masks = ColourTable([HEEL_GREEN, PSIS_BLUE], photometry).masks(image)
    for colour, mask in zip((HEEL_GREEN, PSIS_BLUE), masks, strict=True):
        found = find_stickers(image, colour, mask=mask)
        assert len(found) >= 2
        # skin, shorts, shirt, table: nothing else comes near a sticker's size
        assert all(s.area_px < 0.3 * found[1].area_px for s in found[2:])


def test_calibrated_colours_are_the_stickers_and_hold_across_light(clip: Clip) -> None:
    images, pose, layout, truth = clip
    measured: dict[str, list[tuple[int, int, int]]] = {"heel": [], "PSIS": []}
    for change in ("clean", "under_exposed", "colour_cast"):
        changed = _changed(images, change)
        photometry = marker_photometry(changed, pose, layout)
        assert photometry is not None
        for what, guess in (("heel", HEEL_GREEN), ("PSIS", PSIS_BLUE)):
            measured[what].append(calibrate_sticker_colour(changed, guess, photometry, what).rgb)
    for what, key in (("heel", "heel_sticker_L"), ("PSIS", "psis_sticker_L")):
        clean, *others = measured[what]
        # the sticker's own colour: within 10 degrees of hue of its material (truth.json)
        assert abs(_hue_deg(clean) - _hue_deg(tuple(truth["stickers"][key]["rgb"]))) < 10.0
        # relative to the marker white, the same colour in a dim room and under a warm lamp
        for other in others:
            assert max(abs(a - b) for a, b in zip(clean, other, strict=True)) <= 4


def test_calibration_refuses_over_exposed_stickers(clip: Clip) -> None:
    images, pose, layout, _ = clip
    over = _changed(images, "over_exposed")
    photometry = marker_photometry(over, pose, layout)
    assert photometry is not None
    with pytest.raises(StickerColourError, match="over-exposed"):
        calibrate_sticker_colour(over, PSIS_BLUE, photometry, "PSIS")


def _without_stickers(image: Image, points: dict[str, list[float]]) -> Image:
    """The frame with each sticker painted over in the colour just outside it."""
    out = image.copy()
    for name in STICKERS:
        x, y = (round(v) for v in points[name])
        ring = image[y - 20 : y + 21, x - 20 : x + 21].reshape(-1, 3)
        colour = np.median(ring, axis=0)
        cv2.circle(out, (x, y), 14, tuple(float(c) for c in colour), -1)
    return out


def test_frames_without_stickers_are_refused(clip: Clip) -> None:
    images, pose, layout, truth = clip
    bare = [
        _without_stickers(im, truth["frames"][k]["points_px"])
        for k, im in zip(FRAMES, images, strict=True)
    ]
    photometry = marker_photometry(bare, pose, layout)
    assert photometry is not None
    with pytest.raises(StickerColourError, match="heel stickers were not found"):
        calibrate_sticker_colour(bare, HEEL_GREEN, photometry, "heel")
    params = resolve_params(mode="stickers", setup=load_setup(SETUP))
    with TableView.of(pose, layout).pipeline(params, photometry=photometry) as pipe:
        out = pipe.process(Frame(bare[0], 0, 0.0))
    assert out.points is None
    assert out.rejection == REJECT_HEEL_STICKERS


def test_full_scale_reference_is_the_image_as_it_is() -> None:
    ref = Photometry.full_scale()
    assert ref.relative(np.array([255.0, 0.0, 128.0])) == pytest.approx(
        [1.0, 0.0, (128 / 255) ** 2.2]
    )
    assert not ref.to_dict()["white_clipped_rgb"][0]


def test_measured_colours_are_written_to_the_setup(tmp_path: Path) -> None:
    setup = tmp_path / "rig.toml"
    shutil.copy(SETUP, setup)
    write_sticker_colours(setup, StickerColour((43, 244, 61)), StickerColour((69, 143, 255)))
    loaded = load_setup(setup)
    assert (loaded.heel_sticker_rgb, loaded.psis_sticker_rgb) == ((43, 244, 61), (69, 143, 255))
    assert loaded.planes_mm["stickers"] == (116.0, 262.0)  # the heights stay as written
    write_sticker_colours(setup, StickerColour((40, 240, 60)), StickerColour((60, 140, 250)))
    text = setup.read_text()
    assert text.count("heel_sticker_rgb") == 1 and "# Centres of the heel stickers" in text
    assert load_setup(setup).heel_sticker_rgb == (40, 240, 60)
    markerless_only = tmp_path / "ml.toml"
    markerless_only.write_text(
        "[setup]\nplane_uncertainty_mm = 5.0\n\n"
        "[markerless]\nheel_plane_mm = 90.0\nhip_plane_mm = 160.0\n"
    )
    with pytest.raises(SetupError, match=r"no \[stickers\] section"):
        write_sticker_colours(markerless_only, HEEL_GREEN, PSIS_BLUE)


def test_sticker_colours_command_measures_and_stores(tmp_path: Path) -> None:
    setup = tmp_path / "rig.toml"
    shutil.copy(SETUP, setup)
    args = [
        "calibration",
        "sticker-colours",
        str(CLIP / "video.mp4"),
        "--layout",
        str(CLIP / "layout.json"),
    ]
    result = CliRunner().invoke(app, [*args, "--setup", str(setup), "--frames", "4", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    heel = load_setup(setup).heel_sticker_rgb
    assert data["heel_sticker_rgb"] == "#{:02x}{:02x}{:02x}".format(*heel)
    assert abs(_hue_deg(heel) - _hue_deg((20, 220, 40))) < 10.0
    assert data["marker_reference"]["white_clipped_rgb"] == [False, False, False]
