"""The foot's end is told apart by width: a heel is no wider than the ankle, a forefoot is.

With the feet resting on the table the toes are the foot's caudal end, and the refinement
found a clean round edge there (bench/robustness.py: fresh2/rand7606_02, fresh3/rand7909_00:
100-110 mm beyond the true heels, reported as "refined-edge"). Synthetic outlines here, in
pixels, caudal = +x; a frame whose two feet end in forefeet must not give heel points.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sotmeasure.pose.foot_end import both_end_in_forefeet, end_is_forefoot
from sotmeasure.pose.heel_refine import MaskPatch

SIZE = (320, 200)  # w, h
MID_Y = 100.0
ANKLE = np.array([160.0, MID_Y])
LEG_HALF = 30  # the leg's half-width at the ankle, px


def _outline(end_half: int, end_x: int) -> np.ndarray:
    """A leg (caudal = +x) 60 px wide up to the ankle, then a foot whose half-width grows
    linearly to `end_half` and which ends in a half-disc at `end_x`."""
    mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    cv2.rectangle(mask, (0, int(MID_Y) - LEG_HALF), (int(ANKLE[0]), int(MID_Y) + LEG_HALF), 1, -1)
    x_disc = end_x - end_half
    poly = np.array(
        [
            [ANKLE[0], MID_Y - LEG_HALF],
            [x_disc, MID_Y - end_half],
            [x_disc, MID_Y + end_half],
            [ANKLE[0], MID_Y + LEG_HALF],
        ],
        np.int32,
    )
    cv2.fillPoly(mask, [poly], 1)
    cv2.circle(mask, (x_disc, int(MID_Y)), end_half, 1, -1)
    return mask.astype(np.float32)


HEEL = dict(end_half=26, end_x=235)  # narrowing to a heel 0.87x the ankle's width
FOREFOOT = dict(end_half=42, end_x=255)  # widening to a forefoot 1.4x the ankle's width


@pytest.mark.parametrize(("shape", "forefoot"), [(HEEL, False), (FOREFOOT, True)])
def test_end_wider_than_the_ankle_is_a_forefoot(shape: dict[str, int], forefoot: bool) -> None:
    mask = MaskPatch(_outline(**shape))
    end = np.array([float(shape["end_x"]), MID_Y])
    assert end_is_forefoot(mask, end, ANKLE, np.array([1.0, 0.0])) is forefoot


def test_undecided_when_the_ankle_is_not_behind_the_end() -> None:
    mask = MaskPatch(_outline(**FOREFOOT))
    end = np.array([float(FOREFOOT["end_x"]), MID_Y])
    assert not end_is_forefoot(mask, end, end + np.array([2.0, 0.0]), np.array([1.0, 0.0]))
    # no outline at the ankle's level (the mask stops short of it): no reference, no verdict
    cut = _outline(**FOREFOOT)
    cut[:, : int(ANKLE[0]) + 5] = 0.0
    assert not end_is_forefoot(MaskPatch(cut), end, ANKLE, np.array([1.0, 0.0]))


@pytest.mark.parametrize(
    ("left", "right", "rejected"),
    [(FOREFOOT, FOREFOOT, True), (FOREFOOT, HEEL, False), (HEEL, HEEL, False)],
)
def test_a_frame_is_judged_on_both_feet(
    left: dict[str, int], right: dict[str, int], rejected: bool
) -> None:
    """One wide foot end is noise (a sock's cuff, a misplaced ankle landmark); a patient lies
    with both feet on the table or both hanging."""
    feet = [
        (MaskPatch(_outline(**shape)), np.array([float(shape["end_x"]), MID_Y]), ANKLE)
        for shape in (left, right)
    ]
    assert both_end_in_forefeet(feet, np.array([1.0, 0.0])) is rejected
    assert not both_end_in_forefeet(feet[:1], np.array([1.0, 0.0]))  # one foot: no verdict
