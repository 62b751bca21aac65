"""A recording refused because the feet rest on the table says so, and what to do.

Held-out clips (seed 9631, docs/robustness.md): every clip with the feet on the pad was
refused, rightly, but the refusal named the symptom ("the foot's outline runs on past the
heel (something touches the foot)") and advised looking for hands and towels. The heels'
position on the table tells the cause (processing/feet_placement.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.measure.errors import MeasurementError
from sotmeasure.processing import load_setup, measure_video, resolve_params
from sotmeasure.processing.feet_placement import (
    FEET_ON_TABLE_MM,
    FeetPlacement,
    feet_on_table_advice,
)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from accuracy import profile_from_camera_json  # noqa: E402  (bench/ is a folder of scripts)
from fixture_data import FIXTURES  # noqa: E402

ON_PAD = FIXTURES / "sessions_v2" / "feet_on_pad_rotated_foot"
SETUP = ROOT / "calibration" / "setups" / "rendered_table.toml"
#: The rendered rig: a 2000 mm table.
LAYOUT = ROOT / "calibration" / "targets" / "table_8_markers.json"


def _placement(heel_x_mm: list[float]) -> FeetPlacement:
    feet = FeetPlacement()
    for x in heel_x_mm:
        feet.add(np.array([[x - 5.0, 250.0, 97.0], [x + 5.0, 450.0, 97.0]]))
    return feet


def test_heels_a_foot_length_before_the_end_get_the_advice_with_their_distance() -> None:
    advice = feet_on_table_advice(_placement([1790.0, 1800.0, 1810.0]), load_layout(LAYOUT))
    assert advice is not None
    assert advice.startswith("the heels lay about 200 mm short of the table's foot end")
    assert "rest on the table" in advice and "hanging over the foot end" in advice


@pytest.mark.parametrize(
    "heel_x_mm",
    [
        [2040.0, 2050.0, 2045.0],  # hanging: beyond the end
        [2000.0 - FEET_ON_TABLE_MM + 1.0] * 3,  # just short of the threshold
        [1800.0, 1800.0],  # too few samples to say anything
        [float("nan")] * 5,  # never mapped onto the heel plane
    ],
)
def test_no_advice_for_hanging_heels_or_too_little_evidence(heel_x_mm: list[float]) -> None:
    assert feet_on_table_advice(_placement(heel_x_mm), load_layout(LAYOUT)) is None


def test_a_layout_smaller_than_a_table_gives_no_advice() -> None:
    board = load_layout(ROOT / "calibration" / "targets" / "charuco_7x5.json")
    assert feet_on_table_advice(_placement([100.0] * 5), board) is None


def test_feet_on_the_pad_are_refused_naming_the_feet_on_the_table(tmp_path: Path) -> None:
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    profile = load_profile(profile_from_camera_json(ON_PAD, tmp_path))
    with pytest.raises(MeasurementError) as exc:
        measure_video(ON_PAD / "video.mp4", load_layout(ON_PAD / "layout.json"), profile, params)
    text = str(exc.value)
    # The feet lie ~200 mm before the end (rendered truth: heel tips 1739-1741 mm of 2000).
    before = float(text.split("the heels lay about ")[1].split(" mm")[0])
    assert 150.0 <= before <= 300.0, text
    assert "the feet seem to rest on the table" in text
    assert "the heels cannot be measured" in text or "too few usable frames" in text
    assert exc.value.exit_code == 2
