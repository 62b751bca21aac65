"""The rig check: the whole geometric chain measured against printed distances.

A clip of the check sheets (geometry/check_sheet.py) lying on boxes of measured height is
run through the chain a measurement uses: the table pose from the layout's markers with the
setup's camera profile (`estimate_table_pose`), then pixel -> table mm on the plane at the
box height (`TablePose.pixel_to_table`). On every frame the distances between the sheet's
mapped marker corners are compared with the printed ones; a least-squares scale over all
corner pairs, expressed at the sheet's longest printed offset (~258 mm), is that frame's
error in mm. The median over frames with its 95% CI (`measure.statistics.summarize`, the
same interval a measurement's frame noise gets) is the check's number per height.

What it shows: errors of the camera profile (focal length, distortion), of the table pose
and of the plane height mapping, at the heights where heels and hips lie. What it cannot
show: where a heel or a PSIS actually is on a body (that is the pose model's part).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sotmeasure.errors import SotmeasureError
from sotmeasure.geometry.check_sheet import SHEETS, CheckSheet, check_ids_clash
from sotmeasure.geometry.detect import detect_layout_markers, make_detector
from sotmeasure.geometry.frames import read_frames
from sotmeasure.geometry.table_pose import TablePose, estimate_table_pose
from sotmeasure.measure.statistics import summarize
from sotmeasure.processing.setup import LoadedSetup

FloatArray = npt.NDArray[np.float64]

#: Frames read from the clip, spread over it (a still scene: more frames add little).
RIG_CHECK_FRAMES = 24


class RigCheckError(SotmeasureError):
    """The clip cannot give a rig check (no sheet seen, too few frames, no camera profile)."""


@dataclass(frozen=True, slots=True)
class SheetCheck:
    """The chain's error on one sheet at its box height, over the frames that saw it."""

    role: str
    height_mm: float
    frames: int
    span_mm: float
    error_mm: float
    ci95_mm: tuple[float, float]
    max_pair_error_mm: float

    def passed(self, tolerance_mm: float) -> bool:
        """The whole 95% CI of the error lies within +/- tolerance."""
        return max(abs(self.ci95_mm[0]), abs(self.ci95_mm[1])) <= tolerance_mm

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "height_mm": self.height_mm,
            "frames": self.frames,
            "span_mm": round(self.span_mm, 2),
            "error_mm": round(self.error_mm, 3),
            "ci95_mm": [round(self.ci95_mm[0], 3), round(self.ci95_mm[1], 3)],
            "max_pair_error_mm": round(self.max_pair_error_mm, 3),
        }


@dataclass(frozen=True, slots=True)
class RigCheckResult:
    """Both sheets' errors, the table pose they were measured through, and the verdict."""

    sheets: tuple[SheetCheck, ...]
    tolerance_mm: float
    pose: TablePose
    frames_read: int

    @property
    def passed(self) -> bool:
        return all(s.passed(self.tolerance_mm) for s in self.sheets)

    def sheet(self, role: str) -> SheetCheck | None:
        return next((s for s in self.sheets if s.role == role), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "tolerance_mm": self.tolerance_mm,
            "frames_read": self.frames_read,
            "sheets": {
                s.role: {**s.to_dict(), "passed": s.passed(self.tolerance_mm)} for s in self.sheets
            },
            "table_pose": self.pose.to_dict(),
        }


def frame_error_mm(
    pose: TablePose, sheet: CheckSheet, found: Mapping[int, FloatArray], height_mm: float
) -> tuple[float, float] | None:
    """(error at the longest printed offset, largest single pair error) of one frame, mm.

    None when fewer than two of the sheet's markers were seen (no offset across markers).
    """
    ids = sorted(i for i in found if i in sheet.ids)
    if len(ids) < 2:
        return None
    printed = sheet.corners_mm()
    px = np.concatenate([found[i] for i in ids])
    known = np.concatenate([printed[i] for i in ids])
    mapped = pose.pixel_to_table(px, height_mm)[:, :2]
    if not np.all(np.isfinite(mapped)):
        return None
    pairs = np.array(list(combinations(range(len(known)), 2)))
    d_known = np.linalg.norm(known[pairs[:, 0]] - known[pairs[:, 1]], axis=1)
    d_meas = np.linalg.norm(mapped[pairs[:, 0]] - mapped[pairs[:, 1]], axis=1)
    scale = float(d_meas @ d_known / (d_known @ d_known))
    _, _, span = sheet.longest_offset()
    return (scale - 1.0) * span, float(np.max(np.abs(d_meas - d_known)))


def check_rig(
    video: Path,
    setup: LoadedSetup,
    heights_mm: Mapping[str, float],
    tolerance_mm: float,
    *,
    max_frames: int = RIG_CHECK_FRAMES,
) -> RigCheckResult:
    """Measure the check sheets in `video` at their box heights (role -> mm above the table).

    Raises RigCheckError when a named sheet is not seen on at least two frames, and a
    GeometryError (from the table pose) when the table's markers cannot be used.
    """
    unknown = set(heights_mm) - set(SHEETS)
    if unknown or not heights_mm:
        raise RigCheckError(f"name the sheets' box heights: {', '.join(SHEETS)} (mm)")
    check_ids_clash(setup.layout)
    if setup.profile is None and any(h != 0 for h in heights_mm.values()):
        raise RigCheckError(
            "the setup has no camera profile (homography-only): it cannot map points above "
            "the table top, so a sheet on a box cannot be checked"
        )
    images = read_frames(video, max_frames=max_frames)
    pose = estimate_table_pose(images, setup.layout, setup.profile)
    sheets = []
    for role, height in heights_mm.items():
        sheet = SHEETS[role]
        layout = sheet.as_layout()
        detector = make_detector(layout.dictionary)
        errors, pair_max = [], []
        for image in images:
            got = frame_error_mm(
                pose, sheet, detect_layout_markers(image, layout, detector), height
            )
            if got is not None:
                errors.append(got[0])
                pair_max.append(got[1])
        if len(errors) < 2:
            raise RigCheckError(
                f"the {role.upper()} sheet (markers {sheet.ids[0]}-{sheet.ids[-1]}) was seen on "
                f"{len(errors)} of {len(images)} frames: at least two of its markers must be in "
                "view, flat and unshaded"
            )
        summary = summarize(errors)
        sheets.append(
            SheetCheck(
                role=role,
                height_mm=float(height),
                frames=len(errors),
                span_mm=sheet.longest_offset()[2],
                error_mm=summary.median,
                ci95_mm=summary.ci95,
                max_pair_error_mm=float(np.median(pair_max)),
            )
        )
    return RigCheckResult(tuple(sheets), tolerance_mm, pose, len(images))
