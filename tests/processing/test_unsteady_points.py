"""A refusal for "no still stretch" names which points would not settle (issue 11 item 4).

Synthetic table points (mm), 4 s at 30 fps: one pair jumps by 12 mm every 0.5 s (a landmark
that snaps between two places: another person beside the hips, a hand at the heels) while
the other pair lies still. Only when both pairs move did the patient move.
"""

from __future__ import annotations

import numpy as np
import pytest

from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.window import frame_motion_mm, with_steady_hip_width
from sotmeasure.processing.params import MeasureParams
from sotmeasure.processing.video import (
    REFUSE_HEELS_UNSTEADY,
    REFUSE_HIPS_UNSTEADY,
    _still_window,
)

N, FPS = 120, 30.0
T = np.arange(N) / FPS
STILL = np.array([[2000.0, 200.0], [2000.0, 500.0], [1000.0, 250.0], [1000.0, 450.0]])
JUMPS = np.where((np.arange(N) // 15) % 2 == 1, 12.0, 0.0)  # 12 mm, on and off every 0.5 s


def _refusal(moving: list[int]) -> str:
    pts = np.repeat(STILL[None], N, axis=0)
    for k in moving:
        pts[:, k, 0] += JUMPS
    steady = with_steady_hip_width(pts)
    params = MeasureParams()
    motion = frame_motion_mm(T, steady, params.motion())
    with pytest.raises(MeasurementError) as exc:
        _still_window(T, steady, motion, params)
    return str(exc.value)


def test_jumping_heels_under_still_hips_are_named_as_the_heels() -> None:
    assert _refusal([0, 1]) == REFUSE_HEELS_UNSTEADY


def test_jumping_hips_under_still_heels_are_named_as_the_hips() -> None:
    assert _refusal([2, 3]) == REFUSE_HIPS_UNSTEADY


def test_everything_moving_is_a_moving_patient() -> None:
    assert _refusal([0, 1, 2, 3]).startswith("no still stretch")
