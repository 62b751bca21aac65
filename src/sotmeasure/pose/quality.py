"""Per-frame quality gates: the reasons a frame gives no points, in words a user acts on.

Motion across a measurement window is judged by the measurement (it sees the window).
"""

from __future__ import annotations

REJECT_NO_PERSON = "no person found: the whole body, head and shoulders included, must be in view"
REJECT_HIPS_NOT_VISIBLE = "hips not visible: both hips must be in view and not covered"
REJECT_HEELS_OUT_OF_FRAME = "heels not visible: both heels must be inside the image"
REJECT_HEELS_HIDDEN = "heels not visible: both heels must be in view and not covered"
REJECT_HEEL_STICKERS = (
    "stickers not found: both heel stickers must be visible (check the colour setting and lighting)"
)
REJECT_PSIS_STICKERS = (
    "stickers not found: both PSIS stickers must be visible (check the colour setting and lighting)"
)
REJECT_STICKERS_OUT_OF_FRAME = "stickers not found: a sticker is at the image border"

REJECT_HEEL_NOT_LOCATED = "heel outline not found on the image"
REJECT_HEELS_DISAGREE = (
    "heel outlines disagree: one heel's outline runs far past its landmark while the other's "
    "does not (another person or an object at the feet?)"
)


def heel_not_located(status: str) -> str:
    """The rejection of a frame whose heel could not be located on the image, with why.

    `status` is the refinement's: "refined-mask" (the model's mask outline, no image edge
    confirmed it) or "raw-landmark (<reason>)". No side is named, so that both heels
    failing for one cause count as one reason.
    """
    why = "no image edge confirms the model's outline" if status == "refined-mask" else status
    why = why.removeprefix("raw-landmark (").removesuffix(")")
    return f"{REJECT_HEEL_NOT_LOCATED}: {why}"


DEFAULT_MIN_VISIBILITY = 0.5
DEFAULT_IN_FRAME_MARGIN_PX = 4.0
