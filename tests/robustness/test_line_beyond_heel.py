"""A straight edge seen across a heel in some frames makes the recording's heels untrusted.

Found on clips not used to write the checks (a lighter dark band than bench/robustness.py's,
5-10 mm beyond the right heel of the fixture clip rotated_body): the frame check rejected 17
of 120 frames ("the edge at the heel runs straight across it"), the other frames gave the
heel ~11 mm beyond its truth as refined, and the LLD came out 11.6 mm off with a 95% CI
missing the truth by 4 mm. The scene is the same in every frame, so the recording is now
refused naming the edge (processing/heel_refusal.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.measure.errors import MeasurementError
from sotmeasure.processing import load_setup, measure_video, resolve_params

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import perturb  # noqa: E402  (bench/ is a folder of scripts, not a package)
from fixture_data import SESSIONS  # noqa: E402

CLIP = SESSIONS / "rotated_body"
PROFILE = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
SETUP = ROOT / "calibration" / "setups" / "rendered_table.toml"


def test_a_faint_band_beyond_a_heel_is_refused_naming_the_edge(tmp_path: Path) -> None:
    truth = json.loads((CLIP / "truth.json").read_text())
    camera = perturb.Camera.from_json(json.loads((CLIP / "camera.json").read_text()))
    src = cv2.VideoCapture(str(CLIP / "video.mp4"))
    out_path = tmp_path / "band.mp4"
    out = cv2.VideoWriter(str(out_path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (1280, 720))
    for frame in truth["frames"]:
        ok, image = src.read()
        assert ok
        band = perturb.band_mask(
            camera, np.array(frame["points_mm"]["heel_R"]), frame["body_axis_deg"], 5.0, 10.0
        )
        out.write(perturb.darken(image, band, 0.4))
    out.release()
    src.release()
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    with pytest.raises(MeasurementError) as exc:
        measure_video(
            str(out_path), load_layout(CLIP / "layout.json"), load_profile(PROFILE), params
        )
    text = str(exc.value)
    assert text.startswith("the heels cannot be measured in this recording: in ")
    assert "runs straight across it" in text.split(";")[0]
    assert exc.value.exit_code == 2
