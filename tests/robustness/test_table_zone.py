"""When the tracked person is not the patient, everyone is looked for in the table zone only.

A helper beside the table was tracked instead of the patient, and the model asked for
everyone found the helper instead of the patient in half of the frames (bench/robustness.py,
tune clip rand7101_00 with a person composited beside the hips: refused, "no person lies on
the table"). Outside the zone nobody can be the patient, so that model's input is painted
there. Checked in what the model is given (pixels), on the fixture clip pre_block with the
bench's composited helper; no pose model runs here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

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


def test_zone_is_the_table_widened_by_the_body_margins() -> None:
    lim = ProneBodyLimits()
    zone = table_zone_mm(TableOutline(2000.0, 700.0), lim)
    assert zone[:, 0].min() == -lim.head_overhang_mm
    assert zone[:, 0].max() == 2000.0 + lim.feet_overhang_mm
    assert zone[:, 1].min() == -lim.table_margin_mm
    assert zone[:, 1].max() == 700.0 + lim.table_margin_mm


def test_helper_beside_the_hips_is_mostly_not_shown_to_the_crowd_model(
    frame0: np.ndarray,
) -> None:
    truth = json.loads((PRE / "truth.json").read_text())
    cam = json.loads((PRE / "camera.json").read_text())
    ctx = perturb.ClipContext("pre_block", truth, cam, 30.0, len(truth["frames"]))
    with_helper = perturb.CHANGES["person_hips"].build(ctx)(frame0, 0)
    helper = np.abs(with_helper.astype(int) - frame0).max(axis=2) > 30
    assert helper.sum() > 5000  # a whole figure in the frame

    layout = load_layout(PRE / "layout.json")
    view = TableView.of(pose_from_images([frame0], layout, None), layout)
    assert view.zone_px is not None
    params = resolve_params(mode="stickers")  # no pose model is loaded
    with view.pipeline(params) as pipeline, replace(view, zone_px=None).pipeline(params) as plain:
        # The tracking model's input is unchanged (a helper cut in two at the zone's edge,
        # leaning over the patient, made the tracked hips jump: judge clip rand7202_02) ...
        tracked = pipeline.model_input(with_helper).image
        assert np.array_equal(tracked, plain.model_input(with_helper).image)
        # ... the crowd model's input shows the zone only.
        clean_in = pipeline.model_input(frame0, only_table_zone=True)
        helper_in = pipeline.model_input(with_helper, only_table_zone=True)
        plain_in = plain.model_input(frame0)
    shown = np.abs(helper_in.image.astype(int) - clean_in.image).max(axis=2) > 30
    scale = clean_in.scale[0] * clean_in.scale[1]  # frame px per model-input px
    # Without the zone every helper pixel reaches the model; with it, only the strip of the
    # helper inside the hips' margin does.
    assert shown.sum() * scale < 0.35 * helper.sum()
    # The patient is shown as before: around the heels and hips the input is unchanged.
    pts = np.array([truth["frames"][0]["points_px"][k] for k in POINTS])
    small = (pts + 0.5) / np.array(clean_in.scale) - 0.5
    for x, y in np.round(clean_in.turn.points_to_rotated(small)).astype(int):
        around = np.s_[y - 3 : y + 4, x - 3 : x + 4]
        assert np.array_equal(clean_in.image[around], plain_in.image[around])
    assert not np.array_equal(clean_in.image, plain_in.image)  # the zone did paint
