"""Refusals name why frames were rejected, not a motion that did not happen (issue 11).

- Rejected frames that cut every stretch shorter than the window (a person beside the table
  taken by the model for half the clip) make "no still stretch" the wrong cause: the refusal
  names the frames' rejection. Checked on a real recording whose middle is hidden.
- Heel failures of two kinds (one foot's outline running into a person, the other's edge
  faint) are both named, with their frame counts.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fixture_data import SESSIONS
from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.window import longest_found_stretch_s
from sotmeasure.pose import quality as q
from sotmeasure.pose.pipeline import FramePoints
from sotmeasure.processing import load_setup, measure_video, resolve_params
from sotmeasure.processing.frame_step import FrameMeasurement
from sotmeasure.processing.heel_refusal import larger_other_rejection, unreliable_heels
from sotmeasure.processing.video import _regions_behind

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
SETUP = ROOT / "calibration" / "setups" / "rendered_table.toml"
LAYOUT = SESSIONS / "pre_block" / "layout.json"
FPS = 30.0


def test_longest_found_stretch_bridges_short_gaps_only() -> None:
    t = np.arange(120) / FPS
    found = np.ones(120, dtype=bool)
    assert longest_found_stretch_s(t, found, 0.25) == pytest.approx(4.0)
    found[[30, 31]] = False  # 2 frames = 0.1 s: bridged, as the window rule bridges them
    assert longest_found_stretch_s(t, found, 0.25) == pytest.approx(4.0)
    found[60:75] = False  # 0.5 s: cuts the clip in two
    assert longest_found_stretch_s(t, found, 0.25) == pytest.approx(2.0)
    assert longest_found_stretch_s(t, np.zeros(120, dtype=bool), 0.25) == 0.0


def test_a_clip_cut_by_rejected_frames_names_the_rejection_not_motion(tmp_path: Path) -> None:
    """pre_block (the patient lies still) with every other 0.8 s painted over (as if the
    model lost the patient there): no 3 s window can exist, and the patient did not move."""
    src = cv2.VideoCapture(str(SESSIONS / "pre_block" / "video.mp4"))
    out_path = tmp_path / "cut.mp4"
    out = cv2.VideoWriter(str(out_path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (1280, 720))
    for k in range(120):
        ok, frame = src.read()
        assert ok
        if (k // 24) % 2 == 1:
            frame[:] = 128  # no one in view
        out.write(frame)
    out.release()
    src.release()
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    with pytest.raises(MeasurementError) as exc:
        measure_video(str(out_path), load_layout(LAYOUT), load_profile(PROFILE), params)
    text = str(exc.value)
    assert "no still stretch" not in text
    assert "in which the patient was found in every frame (the longest is 0.8 s)" in text
    assert f"48 of 120 frames were rejected because {q.REJECT_NO_PERSON.text}" in text
    assert exc.value.exit_code == 2


def _heel_failure(k: int, status: str) -> FrameMeasurement:
    rejection = q.heel_not_located(status)
    return FrameMeasurement(
        k, k / FPS, None, None, None, rejection, FramePoints(k, k / FPS, None, rejection)
    )


def test_two_kinds_of_heel_failure_are_both_named_with_their_counts() -> None:
    runs_on = "raw-landmark (the foot's outline runs on past the heel (something touches it))"
    faint = "raw-landmark (no continuous heel outline)"
    tracks = [_heel_failure(k, runs_on) for k in range(50)]
    tracks += [_heel_failure(k, faint) for k in range(50, 80)]
    tracks += [_heel_failure(k, "refined-mask") for k in range(80, 82)]  # under a tenth
    error = unreliable_heels(tracks)
    assert error is not None
    text = str(error)
    assert "82 of 82 frames showing the patient were rejected (50 because " in text
    assert "30 because heel outline not found on the image: no continuous heel outline" in text
    assert "no image edge confirms" not in text


def test_a_rejection_about_who_is_in_view_is_not_blamed_on_the_image() -> None:
    """Nobody lying on the table (a second person taken by the model) is not explained by
    low contrast at the hips: image figures then follow the cause instead of leading it."""
    assert _regions_behind(q.RejectionKind.NO_PATIENT_ON_TABLE) == ()
    assert _regions_behind(q.RejectionKind.TWO_ON_TABLE) == ()
    assert _regions_behind(q.RejectionKind.HAND_ON_PELVIS) == ()
    assert _regions_behind(q.RejectionKind.HEEL_NOT_LOCATED) == ("heels",)
    assert _regions_behind(q.RejectionKind.HIPS_NOT_VISIBLE) == ("hips",)
    assert _regions_behind(q.RejectionKind.NO_PERSON) == ("heels", "hips")


def _rejected(k: int, rejection: q.Rejection) -> FrameMeasurement:
    return FrameMeasurement(
        k, k / FPS, None, None, None, rejection, FramePoints(k, k / FPS, None, rejection)
    )


def test_a_heel_refusal_is_led_by_a_cause_that_took_more_frames() -> None:
    """Held-out clip rand9859_03: 78 of 120 frames rejected for a hand on the pelvis, 18 for
    a heel outline; the refusal spoke only of the heels."""
    hand = q.Rejection(q.RejectionKind.HAND_ON_PELVIS)
    faint = "raw-landmark (no continuous heel outline)"
    tracks = [_rejected(k, hand) for k in range(78)]
    tracks += [_heel_failure(k, faint) for k in range(78, 96)]
    assert larger_other_rejection(tracks) == (hand, 78)
    # Heel failures outnumbering every other cause: the heels are the main problem.
    tracks = [_rejected(k, hand) for k in range(10)]
    tracks += [_heel_failure(k, faint) for k in range(10, 40)]
    assert larger_other_rejection(tracks) is None
    assert larger_other_rejection([_heel_failure(k, faint) for k in range(5)]) is None
