"""Per-frame quality gates: the reasons a frame gives no points, in words a user acts on.

Motion across a measurement window is judged by the measurement (it sees the window).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectionKind(StrEnum):
    """Why a frame gives no points: one member per cause, its value the sentence a user acts on.

    Code switches on the kind (the live page's indicator, the recording-level heel refusal);
    users read the sentence, with the frame's detail appended where there is one.
    """

    NO_PERSON = "no person found: the whole body, head and shoulders included, must be in view"
    NO_PATIENT_ON_TABLE = (
        "no person lies on the table: the patient must lie face-down along the table, "
        "hips and heels over the table"
    )
    TWO_ON_TABLE = (
        "two people over the table: cannot tell which one is the patient "
        "(keep others away from the table while measuring)"
    )
    IMPLAUSIBLE = "the pose found is not a plausible prone body"
    HIPS_NOT_VISIBLE = "hips not visible: both hips must be in view and not covered"
    HAND_ON_PELVIS = (
        "a hand lies on the pelvis and covers the hips (another person's, or the patient's "
        "own): nobody may touch the pelvis while measuring, and the patient's arms lie along "
        "the sides"
    )
    HEELS_OUT_OF_FRAME = "heels not visible: both heels must be inside the image"
    HEELS_HIDDEN = "heels not visible: both heels must be in view and not covered"
    HEEL_STICKERS = (
        "stickers not found: both heel stickers must be visible "
        "(check the colour setting and lighting)"
    )
    PSIS_STICKERS = (
        "stickers not found: both PSIS stickers must be visible "
        "(check the colour setting and lighting)"
    )
    STICKERS_OUT_OF_FRAME = "stickers not found: a sticker is at the image border"
    HEEL_NOT_LOCATED = "heel outline not found on the image"
    HEELS_DISAGREE = (
        "heel outlines disagree: one heel's outline runs far past its landmark while the "
        "other's does not (another person or an object at the feet?)"
    )
    OFF_PLANE = "point not on the table plane"

    @property
    def is_heel_failure(self) -> bool:
        """The image does not confirm a heel (as opposed to the heel not being in view)."""
        return self in (RejectionKind.HEEL_NOT_LOCATED, RejectionKind.HEELS_DISAGREE)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A frame's rejection: its kind and, where the frame tells more, a detail in words."""

    kind: RejectionKind
    detail: str = ""

    @property
    def text(self) -> str:
        """The sentence stored with the frame and shown to users."""
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value

    def __str__(self) -> str:
        return self.text


REJECT_NO_PERSON = Rejection(RejectionKind.NO_PERSON)
REJECT_HIPS_NOT_VISIBLE = Rejection(RejectionKind.HIPS_NOT_VISIBLE)
REJECT_HEELS_OUT_OF_FRAME = Rejection(RejectionKind.HEELS_OUT_OF_FRAME)
REJECT_HEELS_HIDDEN = Rejection(RejectionKind.HEELS_HIDDEN)
REJECT_HEEL_STICKERS = Rejection(RejectionKind.HEEL_STICKERS)
REJECT_PSIS_STICKERS = Rejection(RejectionKind.PSIS_STICKERS)
REJECT_STICKERS_OUT_OF_FRAME = Rejection(RejectionKind.STICKERS_OUT_OF_FRAME)
REJECT_HEELS_DISAGREE = Rejection(RejectionKind.HEELS_DISAGREE)
REJECT_OFF_PLANE = Rejection(RejectionKind.OFF_PLANE)


#: The model's foot outline (its person mask) ends where the image shows no edge: the heel's
#: edge is too faint there, or the mask runs over something else (a hand holding the heel).
REFINED_MASK_ONLY = (
    "no image edge confirms the model's outline (too little contrast at the heel, or a hand "
    "or an object covering or touching it)"
)


def heel_not_located(status: str) -> Rejection:
    """The rejection of a frame whose heel could not be located on the image, with why.

    `status` is the refinement's: "refined-mask" (the model's mask outline, no image edge
    confirmed it) or "raw-landmark (<reason>)". No side is named, so that both heels
    failing for one cause count as one reason.
    """
    if status == "refined-mask":
        return Rejection(RejectionKind.HEEL_NOT_LOCATED, REFINED_MASK_ONLY)
    why = status.removeprefix("raw-landmark (").removesuffix(")")
    return Rejection(RejectionKind.HEEL_NOT_LOCATED, why)


def after_following_another_person(rejection: Rejection) -> Rejection:
    """`rejection` of a frame in which the tracking model had followed someone else (a
    practitioner or a helper in view) and the patient was found by a search of the table
    zone alone: its landmarks are coarser (one image, no tracking), which is what the
    frame's failure comes from, so the user is told about the other person too."""
    note = "after the model had followed another person in view"
    detail = f"{rejection.detail}, {note}" if rejection.detail else note
    return Rejection(rejection.kind, detail)


DEFAULT_MIN_VISIBILITY = 0.5
DEFAULT_IN_FRAME_MARGIN_PX = 4.0
