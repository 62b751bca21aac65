"""The table pose check of a setup: markers found, reprojection in mm, camera height and
the camera's tilt from vertical, with a warning when the view is too oblique.

When is a view too oblique? From the error budget: one heel may sit up to
HEEL_HEIGHT_DIFFERENCE_MM higher than the other (processing/budget.py), and a point raised by
dz is mapped dz * tan(angle from vertical) away from where it is. That component enters the
budget as a rectangular bound (x RECTANGULAR_TO_SD for 1 SD, x 1.96 at 95 %); the tilt at
which it alone reaches the setup's MDC95 of LLD is the limit the page names. It is judged at
the view's centre (the optical axis); points away from the centre see other angles, which
the measurement's own budget then computes through the camera geometry.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from sotmeasure.errors import SotmeasureError
from sotmeasure.jobs.measure_adapter import setup_version_files
from sotmeasure.measure.compare import Mdc95
from sotmeasure.measure.error_budget import RECTANGULAR_TO_SD
from sotmeasure.processing.budget import HEEL_HEIGHT_DIFFERENCE_MM
from sotmeasure.processing.setup import load_files
from sotmeasure.services.errors import InvalidInputError
from sotmeasure.services.setups import current_version, get_setup
from sotmeasure.settings import Settings
from sotmeasure.store.models import User

Image = npt.NDArray[np.uint8]


def oblique_limit_deg(mdc95_lld_mm: float) -> float:
    """The tilt from vertical at which a heel height difference alone moves LLD by the MDC95
    (95 % contribution of the budget's heel-height-difference component)."""
    per_tan = 1.96 * RECTANGULAR_TO_SD * HEEL_HEIGHT_DIFFERENCE_MM
    return math.degrees(math.atan(mdc95_lld_mm / per_tan))


def tilt_from_vertical_deg(rotation: npt.NDArray[np.float64]) -> float:
    """The angle between the camera's optical axis and the table's normal, in degrees."""
    axis = rotation.T @ np.array([0.0, 0.0, 1.0])  # optical axis in the table frame
    return math.degrees(math.acos(min(1.0, abs(float(axis[2])))))


def check_table_pose(
    settings: Settings, session: Session, user: User, setup_id: int, images: list[Image]
) -> dict[str, Any]:
    """The table pose of these frames with the setup's current version; numbers and words."""
    from sotmeasure.geometry.table_pose import CameraTablePose, estimate_table_pose

    setup = get_setup(session, user, setup_id)
    version = current_version(session, setup)
    loaded = load_files(setup_version_files(settings, version))
    if not images:
        raise InvalidInputError("the camera gave no frames")
    try:
        pose = estimate_table_pose(images, loaded.layout, loaded.profile, max_frames=len(images))
    except SotmeasureError as exc:
        raise InvalidInputError(f"table pose check failed: {exc}") from None
    mdc = version.mdc95_lld_mm or Mdc95().lld_mm
    total = len(loaded.layout.markers)
    report: dict[str, Any] = {
        "setup_version": version.version,
        "markers_found": len(pose.markers_used),
        "markers_total": total,
        "markers_dropped": list(pose.markers_dropped),
        "reprojection_mm": round(pose.reprojection_mm, 2),
        "reprojection_px": round(pose.reprojection_px, 2),
        "calibration": pose.calibration,
        "mdc95_lld_mm": mdc,
        "oblique_limit_deg": round(oblique_limit_deg(mdc), 1),
        "camera_height_mm": None,
        "tilt_from_vertical_deg": None,
        "warning": None,
    }
    words = [
        f"{len(pose.markers_used)} of {total} table markers found; the table's corners are "
        f"re-projected within {pose.reprojection_mm:.2f} mm ({pose.reprojection_px:.2f} px)"
    ]
    if isinstance(pose, CameraTablePose):
        tilt = tilt_from_vertical_deg(pose.rotation)
        report["camera_height_mm"] = round(float(pose.camera_position_mm[2]), 0)
        report["tilt_from_vertical_deg"] = round(tilt, 1)
        words.append(
            f"camera {report['camera_height_mm']:.0f} mm above the table top, "
            f"{tilt:.1f} deg from vertical"
        )
        if tilt > report["oblique_limit_deg"]:
            report["warning"] = (
                f"the view is {tilt:.0f} deg from vertical, more than "
                f"{report['oblique_limit_deg']:.0f} deg: a {HEEL_HEIGHT_DIFFERENCE_MM:.0f} mm "
                f"height difference between the heels alone would move LLD by more than the "
                f"setup's MDC95 ({mdc:g} mm); mount the camera more directly above the table"
            )
    else:
        words.append(
            "homography-only (no camera profile): camera height and tilt are unknown; "
            "calibrate the camera to check them"
        )
    report["words"] = words
    return report


def frames_of_clip(path: Any, count: int = 8) -> list[Image]:
    """`count` frames spread over an uploaded clip (the table must not move)."""
    from sotmeasure.geometry.frames import read_frames

    try:
        return read_frames(path, max_frames=count)
    except SotmeasureError as exc:
        raise InvalidInputError(f"cannot read the clip: {exc}") from None


def frames_of_camera(source: Any, count: int = 8, every: int = 4) -> list[Image]:
    """`count` frames from a live source (every `every`-th), closed afterwards."""
    images: list[Image] = []
    with source:
        for frame in source:
            if frame.index % every == 0:
                images.append(frame.image)
            if len(images) >= count:
                break
    return images
