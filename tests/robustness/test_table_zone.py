"""The pose model is shown only the table zone: where a patient lying on the table can be.

A helper standing beside the table was tracked instead of the patient (bench/robustness.py,
tune clip rand7101_00 with a person composited beside the hips: refused, "no person lies on
the table"). Outside the zone nobody can be the patient, so the model's input is painted
there. Checked in what the model is given (pixels), on the fixture clip pre_block with the
bench's composited helper; no pose model runs here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from sotmeasure.geometry.layout import load_layout
from sotmeasure.pose.patient_choice import ProneBodyLimits, TableOutline, table_zone_mm
from sotmeasure.processing.frame_step import TableView
from sotmeasure.processing.params import resolve_params
from sotmeasure.processing.video import pose_from_images

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import perturb  # noqa: E402  (bench/ is a folder of scripts, not a package)
from fixture_data import SESSIONS  # noqa: E402

PRE = SESSIONS / "pre_block"
POINTS = ("heel_L", "heel_R", "hip_L", "hip_R")


@pytest.fixture(scope="module")
def frame0() -> np.ndarray:
    cap = cv2.VideoCapture(str(PRE / "video.mp4"))
    ok, img = cap.read()
    cap.release()
    assert ok
    return img


def test_zone_is_the_table_widened_by_the_body_margins() -> None:
    lim = ProneBodyLimits()
    zone = table_zone_mm(TableOutline(2000.0, 700.0), lim)
    assert zone[:, 0].min() == -lim.head_overhang_mm
    assert zone[:, 0].max() == 2000.0 + lim.feet_overhang_mm
    assert zone[:, 1].min() == -lim.table_margin_mm
    assert zone[:, 1].max() == 700.0 + lim.table_margin_mm


def test_helper_beside_the_hips_is_mostly_not_shown_to_the_model(frame0: np.ndarray) -> None:
    truth = json.loads((PRE / "truth.json").read_text())
    cam = json.loads((PRE / "camera.json").read_text())
    ctx = perturb.ClipContext("pre_block", truth, cam, 30.0, len(truth["frames"]))
    with_helper = perturb.CHANGES["person_hips"].build(ctx)(frame0, 0)
    helper = np.abs(with_helper.astype(int) - frame0).max(axis=2) > 30
    assert helper.sum() > 5000  # a whole figure in the frame

    layout = load_layout(PRE / "layout.json")
    view = TableView.of(pose_from_images([frame0], layout, None), layout)
    assert view.zone_px is not None
    with view.pipeline(resolve_params(mode="stickers")) as pipeline:  # no model is loaded
        clean_in = pipeline.model_input(frame0)
        helper_in = pipeline.model_input(with_helper)
    shown = np.abs(helper_in.image.astype(int) - clean_in.image).max(axis=2) > 30
    scale = clean_in.scale[0] * clean_in.scale[1]  # frame px per model-input px
    # Without the zone every helper pixel reaches the model (as when the tracker took the
    # helper); with it, only the strip of the helper inside the hips' margin does.
    assert shown.sum() * scale < 0.35 * helper.sum()
    # ... while the patient is shown as before: around the heels and hips the input is
    # what a pipeline without a zone gives the model.
    with replace(view, zone_px=None).pipeline(resolve_params(mode="stickers")) as plain:
        plain_in = plain.model_input(frame0)
    pts = np.array([truth["frames"][0]["points_px"][k] for k in POINTS])
    small = (pts + 0.5) / np.array(clean_in.scale) - 0.5
    for x, y in np.round(clean_in.turn.points_to_rotated(small)).astype(int):
        around = np.s_[y - 3 : y + 4, x - 3 : x + 4]
        assert np.array_equal(clean_in.image[around], plain_in.image[around])
    assert not np.array_equal(clean_in.image, plain_in.image)  # the zone did paint
