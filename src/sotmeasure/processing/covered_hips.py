"""A hand on the pelvis during the still window refuses the measurement, not only its frames.

The frame test (pose/patient_choice.hand_on_pelvis) sees a hand only where the model takes it
for the patient's wrist, and it may do so in some frames of a scene and not in the others
(held-out clip rand9859_03: 65 % of the frames; the others put that wrist 50-62 mm beyond
the hip joint, just outside the test). The hand is on the pelvis in those other frames too,
and the hips there are the model's guess under it: a window that bridges a few such frames
(the window allows short gaps of rejected frames) would average them. So, as for a heel's
scene (processing/heel_refusal.py), frames that pass in such a window are marginal passes of
the same problem. On every rendered clip without a hand on the pelvis no frame showed one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.window import StillWindow
from sotmeasure.pose.quality import RejectionKind
from sotmeasure.processing.frame_step import FrameMeasurement

#: Frames showing a hand on the pelvis that make it the cause (inside the window's span, or
#: anywhere for a refusal for motion): two, so that one frame's misplaced wrist does not
#: (none was seen on hands-free clips, but a model glitch is one frame).
HAND_FRAMES = 2


def _hand_frames(tracks: Sequence[FrameMeasurement]) -> int:
    """How many of these frames were rejected for a hand on the pelvis."""
    return sum(
        1
        for t in tracks
        if t.rejection is not None and t.rejection.kind is RejectionKind.HAND_ON_PELVIS
    )


def with_hand_named(
    refusal: MeasurementError, tracks: Sequence[FrameMeasurement]
) -> MeasurementError:
    """A refusal for motion, led by the hand on the pelvis when frames showed one.

    Seen (held-out clip rand10177_01, a practitioner's hands at the hips, JPEG q28): a few
    frames showed the hand, and in the others the hip points jumped by ~13 px between the
    legs' outline and the model's landmarks (the arm made the outline irregular), so the
    refusal read "no still stretch ... record again with the patient lying still" of a
    patient who never moved.
    """
    shown = _hand_frames(tracks)
    if shown < HAND_FRAMES:
        return refusal
    return MeasurementError(
        f"a hand lay on the pelvis in {shown} of {len(tracks)} frames "
        f"({RejectionKind.HAND_ON_PELVIS.value}), and the hip points under it would not "
        f"settle; {refusal}"
    )


def hand_during_window(
    tracks: Sequence[FrameMeasurement], window: StillWindow
) -> MeasurementError | None:
    """The refusal when a hand lay on the pelvis during the chosen window, else None."""
    span = tracks[window.first : window.last + 1]
    covered = _hand_frames(span)
    if covered < HAND_FRAMES:
        return None
    return MeasurementError(
        f"a hand lay on the pelvis during the still window ({covered} of its {len(span)} "
        f"frames showed it, {window.start_s:.1f}-{window.end_s:.1f} s), so the hips of its "
        "other frames are the pose model's guess under that hand too; "
        f"{RejectionKind.HAND_ON_PELVIS.value.split(': ', 1)[1]}, then record again"
    )
