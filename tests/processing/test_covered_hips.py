"""A hand seen on the pelvis in a few frames of the still window refuses the whole window.

The frame test sees the hand only where the model takes it for the patient's wrist (65 % of
the frames on held-out clip rand9859_03); the window may bridge such frames as short gaps,
and its other frames have the hips under the same hand (processing/covered_hips.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.window import StillWindow
from sotmeasure.pose import quality as q
from sotmeasure.pose.pipeline import BodyPoints, FramePoints
from sotmeasure.processing.covered_hips import HAND_FRAMES, hand_during_window, with_hand_named
from sotmeasure.processing.frame_step import FrameMeasurement

FPS = 30.0
HAND = q.Rejection(q.RejectionKind.HAND_ON_PELVIS)


def _frame(k: int, rejection: q.Rejection | None) -> FrameMeasurement:
    """A rejected frame, or an accepted one with points (their values do not matter here)."""
    t_s = k / FPS
    if rejection is not None:
        return FrameMeasurement(
            k, t_s, None, None, None, rejection, FramePoints(k, t_s, None, rejection)
        )
    px = np.array([[640.0, 600.0], [700.0, 600.0], [630.0, 300.0], [705.0, 300.0]])
    body = BodyPoints(
        *px, heel_status={"left": "refined-edge", "right": "refined-edge"}, mode="markerless"
    )
    return FrameMeasurement(k, t_s, px, None, None, None, FramePoints(k, t_s, body, None))


def _clip(hand_frames: set[int], other: q.Rejection | None = None) -> list[FrameMeasurement]:
    return [
        _frame(k, HAND if k in hand_frames else other if k % 10 == 5 else None) for k in range(120)
    ]


WINDOW = StillWindow(first=20, last=109, start_s=20 / FPS, end_s=109 / FPS, mean_motion_mm=0.3)


def test_hand_frames_bridged_inside_the_window_refuse_it_with_the_advice() -> None:
    refusal = hand_during_window(_clip({40, 41, 75}), WINDOW)
    assert refusal is not None
    text = str(refusal)
    assert text.startswith("a hand lay on the pelvis during the still window (3 of its 90 frames")
    assert "nobody may touch the pelvis while measuring" in text
    assert refusal.exit_code == 2


@pytest.mark.parametrize(
    "hand_frames",
    [
        set(),  # no hand at all
        {60},  # one frame's misplaced wrist: a glitch, not a scene
        {2, 3, 4, 112, 113},  # before and after the window (the patient settling)
    ],
)
def test_no_hand_in_the_window_leaves_it_measured(hand_frames: set[int]) -> None:
    assert len(hand_frames & set(range(20, 110))) < HAND_FRAMES
    assert hand_during_window(_clip(hand_frames, q.REJECT_HEELS_HIDDEN), WINDOW) is None


MOVING = MeasurementError("no still stretch of 3.0 s: the longest still stretch is 1.0 s")


def test_a_refusal_for_motion_is_led_by_a_hand_seen_on_the_pelvis() -> None:
    """Held-out clip rand10177_01: a practitioner's hands at the hips, a few frames showing
    one, the hips jumping in the others: "no still stretch" blamed a patient who lay still."""
    text = str(with_hand_named(MOVING, _clip({15, 111, 114})))
    assert text.startswith("a hand lay on the pelvis in 3 of 120 frames (a hand lies on the")
    assert text.endswith(str(MOVING))
    assert str(with_hand_named(MOVING, _clip({15}))) == str(MOVING)  # one frame: a glitch
