"""Is the foot's caudal end its heel, or its toes? Told by the outline's width.

The heel line needs the heel's caudal extremity, which is the foot's caudal end only while
the feet hang over the table's foot end (toes pointing down). With the feet resting on the
table (dorsum down, toes toward the foot end) the foot's caudal end is the toes: the
refinement then finds a clean, round edge there and reports it as the heel, 100-110 mm
beyond the true heel (bench/robustness.py: `fresh2/rand7606_02`, `fresh3/rand7909_00`; the
pose model had put its heel landmark mid-foot, so no other check objected).

What tells them apart is anatomy seen from above: between a foot's end and its ankle lies
either the heel, no wider than the ankle, or the forefoot, the foot's widest part. One foot's
width ratio is noisy (the widest outline at 0.15-0.6 of the way from the end to the ankle,
over its width at the ankle landmark: 0.7-1.45x per heel on 32 rendered clips with hanging
feet, a sock's cuff or a misplaced ankle landmark widening one heel now and then), so the
frame is judged on BOTH feet: a patient lies with both feet on the table or both hanging.
The smaller of the two ratios was at most 1.14x in every frame of those clips (1.05x but
for one), and 1.19-1.35x on the clips with both feet on the pad whose toes gave an edge (5th
percentile to maximum). Ratios of
widths in one frame need no scale and no calibration. Not caught: one foot on the table and
the other hanging.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sotmeasure.pose.heel_refine import MaskPatch

FloatArray = npt.NDArray[np.float64]

#: Where the outline's width is taken between the foot's end (0) and the ankle (1).
_NEAR_END = (0.15, 0.3, 0.45, 0.6)
#: Both feet's outlines wider than their ankles' by more than this near their ends: two
#: forefeet. Between the hanging feet's at most 1.14x and the feet on the pad's at least
#: ~1.19x (module docstring).
MAX_END_TO_ANKLE_WIDTH = 1.15

#: The reason a frame whose two feet end in forefeet gives no heel points.
FOREFEET_END = (
    "both feet end in their toes, not their heels (feet resting on the table? let them hang "
    "over its foot end)"
)


def both_end_in_forefeet(
    feet: list[tuple[MaskPatch, FloatArray, FloatArray]],
    caudal: FloatArray,
    threshold: float = MAX_END_TO_ANKLE_WIDTH,
) -> bool:
    """True when each of the two feet, given as (mask, end px, ankle px), ends in a forefoot
    (`end_is_forefoot`)."""
    return len(feet) == 2 and all(
        end_is_forefoot(mask, end, ankle, caudal, threshold) for mask, end, ankle in feet
    )


def end_is_forefoot(
    mask: MaskPatch,
    end_px: FloatArray,
    ankle_px: FloatArray,
    caudal: FloatArray,
    threshold: float = MAX_END_TO_ANKLE_WIDTH,
    mask_threshold: float = 0.5,
) -> bool:
    """True when the outline between the foot's end and the ankle is wider than at the ankle
    by more than `threshold`: the end found is the toes, not the heel.

    Undecided cases (the ankle not behind the end, the ankle's line missing the mask)
    answer False: this test only ever removes a point, never vouches for one.
    """
    c = np.asarray(caudal, dtype=np.float64)
    p = np.array([-c[1], c[0]])
    length = float(np.dot(end_px - ankle_px, c))
    if not np.isfinite(length) or length < 5.0:
        return False
    fractions = np.array([*_NEAR_END, 1.0])
    offsets = np.arange(-1.5 * length, 1.5 * length + 1e-9, 1.0)
    centres = end_px[None, :] - fractions[:, None] * length * c[None, :]
    pts = centres[:, None, :] + offsets[None, :, None] * p[None, None, :]
    x0, y0 = (np.floor(pts.reshape(-1, 2).min(axis=0)) - 2).astype(int)
    x1, y1 = (np.ceil(pts.reshape(-1, 2).max(axis=0)) + 2).astype(int)
    roi = mask.crop(int(x0), int(y0), int(x1), int(y1))
    vals = cv2.remap(
        roi,
        (pts[..., 0] - x0).astype(np.float32),
        (pts[..., 1] - y0).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    widths = np.array([_run_through_centre(row >= mask_threshold) for row in vals])
    ankle = widths[-1]
    return bool(ankle > 0 and widths[:-1].max() > threshold * ankle)


def _run_through_centre(fg: npt.NDArray[np.bool_]) -> int:
    """Length of the run of True through the middle sample (0 if it is False)."""
    mid = fg.size // 2
    if not fg[mid]:
        return 0
    left = fg[: mid + 1][::-1]
    right = fg[mid:]
    n_left = int(np.argmin(left)) if not left.all() else left.size
    n_right = int(np.argmin(right)) if not right.all() else right.size
    return n_left + n_right - 1
