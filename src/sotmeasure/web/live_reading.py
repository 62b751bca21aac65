"""The live preview's view of one frame, and the quality words it shows (no heavy imports).

Kept apart from `live_analysis` (which loads the pose model) so that the app and the pages
import quickly; the analyser is only loaded when a live camera first runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sotmeasure.pose import quality as q


class LiveQuality(StrEnum):
    """The quality indicator of the live preview, in the words the page shows."""

    OK = "steady: ready to measure"
    HOLD_STILL = "hold still"
    HEELS_NOT_VISIBLE = "heels not visible"
    HIPS_NOT_VISIBLE = "hips not visible"
    MARKERS_NOT_FOUND = "markers not found"
    WHOLE_BODY = "whole body must be in view"
    STICKERS_NOT_FOUND = "stickers not found"
    SETUP_MISSING = "measurement setup missing"
    FEET_ON_TABLE = "feet must hang over the table's end"


# The names the live analyser and the tests use for the words.
OK_WORD = LiveQuality.OK
HOLD_STILL = LiveQuality.HOLD_STILL
HEELS_NOT_VISIBLE = LiveQuality.HEELS_NOT_VISIBLE
HIPS_NOT_VISIBLE = LiveQuality.HIPS_NOT_VISIBLE
MARKERS_NOT_FOUND = LiveQuality.MARKERS_NOT_FOUND
WHOLE_BODY = LiveQuality.WHOLE_BODY
STICKERS_NOT_FOUND = LiveQuality.STICKERS_NOT_FOUND
SETUP_MISSING = LiveQuality.SETUP_MISSING
FEET_ON_TABLE = LiveQuality.FEET_ON_TABLE


@dataclass(frozen=True, slots=True)
class LiveReading:
    """The analysis of one frame as the overlay and the status endpoint show it."""

    frame_index: int
    t_s: float
    quality: LiveQuality
    detail: str  # a sentence saying what to do
    points_px: dict[str, tuple[float, float]] = field(default_factory=dict)
    lld_mm: float | None = None
    pelvic_tilt_deg: float | None = None
    calibration: str | None = None

    @property
    def ready(self) -> bool:
        return self.quality is LiveQuality.OK

    def to_dict(self) -> dict[str, object]:
        return {
            "frame_index": self.frame_index,
            "quality": self.quality.value,
            "detail": self.detail,
            "ready": self.ready,
            "lld_mm": None if self.lld_mm is None else round(self.lld_mm, 1),
            "pelvic_tilt_deg": None
            if self.pelvic_tilt_deg is None
            else round(self.pelvic_tilt_deg, 1),
            "calibration": self.calibration,
        }


def quality_word(rejection: q.Rejection) -> LiveQuality:
    """The short indicator for a pose-pipeline rejection."""
    kind = q.RejectionKind
    if rejection.kind in (kind.HEELS_OUT_OF_FRAME, kind.HEELS_HIDDEN, kind.HEELS_DISAGREE):
        return HEELS_NOT_VISIBLE
    if rejection.kind is kind.HEEL_NOT_LOCATED:
        return HEELS_NOT_VISIBLE
    if rejection.kind in (kind.HIPS_NOT_VISIBLE, kind.HAND_ON_PELVIS):
        return HIPS_NOT_VISIBLE
    if rejection.kind in (kind.HEEL_STICKERS, kind.PSIS_STICKERS, kind.STICKERS_OUT_OF_FRAME):
        return STICKERS_NOT_FOUND
    return WHOLE_BODY
