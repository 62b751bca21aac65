"""Sticker colours measured from a recording and stored in a setup file (auto-calibration).

Stickers bought in one batch are not the catalogue green and blue, and a camera renders them
its own way; a setup's sticker colours are therefore measured once from a clip of the
patient with the stickers on, on the table with its markers. The colours are stored relative
to the markers' white (pose/photometry.py), so that they hold for a later recording under
more or less light or a warmer lamp. A clip where the markers' squares or the stickers cannot
be read is refused with the reason, never stored as a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.errors import GeometryError
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.photometry import marker_photometry
from sotmeasure.geometry.profile import CameraProfile
from sotmeasure.geometry.table_pose import estimate_table_pose
from sotmeasure.pose.photometry import Photometry
from sotmeasure.pose.stickers import StickerColour, StickerColourError, calibrate_sticker_colour
from sotmeasure.processing.params import SetupError, load_setup, rgb_to_hex


@dataclass(frozen=True, slots=True)
class StickerCalibration:
    """The measured heel and PSIS colours and the marker reference they are relative to."""

    heel: StickerColour
    psis: StickerColour
    photometry: Photometry
    frames: int


def calibrate_stickers(
    images: Sequence[npt.NDArray[np.uint8]],
    layout: TargetLayout,
    profile: CameraProfile | None,
    heel_guess: StickerColour,
    psis_guess: StickerColour,
) -> StickerCalibration:
    """Both sticker colours from `images` (a few frames of one clip). StickerColourError
    when the markers' squares or a pair of stickers cannot be read."""
    try:
        pose = estimate_table_pose(list(images), layout, profile, max_frames=len(images))
    except GeometryError as exc:
        raise StickerColourError(
            f"the table's markers are needed as the colour reference: {exc}"
        ) from None
    photometry = marker_photometry(images, pose, layout, max_frames=len(images))
    if photometry is None:
        raise StickerColourError(
            "the white and black squares of the table's markers could not be read (covered, "
            "or outside the image): the colours cannot be made relative to the marker white"
        )
    heel = calibrate_sticker_colour(images, heel_guess, photometry, "heel")
    psis = calibrate_sticker_colour(images, psis_guess, photometry, "PSIS")
    return StickerCalibration(heel, psis, photometry, len(images))


_SECTION = re.compile(r"^\s*\[([^\]]*)\]\s*(#.*)?$")
_KEYS = ("heel_sticker_rgb", "psis_sticker_rgb")


def write_sticker_colours(setup_path: Path, heel: StickerColour, psis: StickerColour) -> None:
    """Set the `[stickers]` colours of a setup file, keeping everything else as written.

    SetupError when the file has no `[stickers]` section (its plane heights come first:
    the colours alone do not make a sticker setup) or would no longer load."""
    old = setup_path.read_text(encoding="utf-8")
    lines = old.splitlines()
    start = next((k for k, ln in enumerate(lines) if _section(ln) == "stickers"), None)
    if start is None:
        raise SetupError(
            f"{setup_path}: no [stickers] section: add its plane heights first, then the colours"
        )
    end = next((k for k in range(start + 1, len(lines)) if _section(lines[k])), len(lines))
    body = [ln for ln in lines[start + 1 : end] if ln.split("=")[0].strip() not in _KEYS]
    while body and not body[-1].strip():
        body.pop()
    body += [f'{key} = "{rgb_to_hex(c.rgb)}"' for key, c in zip(_KEYS, (heel, psis), strict=True)]
    rest = lines[end:]
    new = "\n".join(lines[: start + 1] + body + ([""] if rest else []) + rest) + "\n"
    setup_path.write_text(new, encoding="utf-8")
    try:
        load_setup(setup_path)
    except SetupError:
        setup_path.write_text(old, encoding="utf-8")
        raise


def _section(line: str) -> str | None:
    m = _SECTION.match(line)
    return m.group(1).strip() if m else None
