"""Error-budget inputs that need the camera geometry (the combination itself is pure, in
`sotmeasure.measure.error_budget`)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.table_pose import TablePose
from sotmeasure.measure.error_budget import (
    RECTANGULAR_TO_SD,
    BudgetComponent,
    calibration_component,
    hip_landmark_component,
    model_resolution_component,
    plane_height_component,
)
from sotmeasure.measure.frame_values import frame_values

FloatArray = npt.NDArray[np.float64]

#: MediaPipe's pose landmark model runs on a 256 x 256 crop around the person; for a prone
#: patient filling the frame that crop spans about the image's long side (MEASUREMENT.md:
#: "~256 px crop: about 8-9 mm per model pixel").
MODEL_INPUT_PX = 256
# The pose model's heel landmark sits on the back of the heel, not at its caudal extremity:
# medians of 3-22 px (about 4-37 mm) from the extremity were seen per clip, and the left and
# right offsets differ by up to ~13 mm in an oblique view (docs/MEASUREMENT.md, issue 4).
# 10 mm (1 SD per heel) is the stated allowance for a heel that could not be refined.
RAW_HEEL_LANDMARK_OFFSET_U_MM = 10.0

#: Markerless hips that fall back to the model's landmarks (the legs' gap was not found, e.g.
#: touching thighs): the landmark mid-hip's body-axis error was 0.39-0.72 deg on the rendered
#: clips against 0.04-0.12 deg for the gap line (pose/hip_refine.py). 0.75 deg is taken as
#: the half-width of a rectangular distribution of the axis error such frames add.
RAW_MIDHIP_AXIS_BOUND_DEG = 0.75

#: One heel may sit higher than the other (a flexed knee, a foot in a shoe, a foot resting on
#: the pad): 10-12 mm was seen. Each heel is mapped on the same heel plane, so a difference
#: moves one heel's point by parallax; +/-12 mm (rectangular) is carried in the budget.
HEEL_HEIGHT_DIFFERENCE_MM = 12.0

#: Homography-only: the camera height is unknown; parallax is bounded by assuming the camera
#: is at least this high above the table top (an overhead mount is 1.2-2 m up).
MIN_CAMERA_HEIGHT_MM = 1000.0


def map_points(
    pose: TablePose, points_px: FloatArray, heel_plane_mm: float, hip_plane_mm: float
) -> FloatArray:
    """(4, 2) pixels [heel_L, heel_R, hip_L, hip_R] -> (4, 3) table mm on their planes.

    A homography-only pose cannot map above the table top: everything goes to z = 0 (and the
    result says `homography-only`; the parallax enters the budget).
    """
    if pose.calibration == "homography-only":
        z: float | FloatArray = 0.0
    else:
        z = np.array([heel_plane_mm, heel_plane_mm, hip_plane_mm, hip_plane_mm])
    return pose.pixel_to_table(points_px, z)


def _values(mm: FloatArray) -> tuple[float, float]:
    v = frame_values(mm[0], mm[1], mm[2], mm[3])
    return v.lld_mm, v.pelvic_tilt_deg


def plane_height_effects(
    pose: TablePose,
    points_px: FloatArray,
    heel_plane_mm: float,
    hip_plane_mm: float,
    uncertainty_mm: float,
    lld_mm: float,
) -> BudgetComponent:
    """Effect of +/-N mm on each plane height, computed by re-mapping the window's median
    pixels through the camera geometry; heel and hip planes are independent sources."""
    if pose.calibration == "homography-only":
        # Both heels mapped at z = 0 instead of z = h: their difference is scaled by about
        # H / (H - h) for a camera at height H; tilt (an angle between two such differences)
        # is unchanged to first order.
        bound = abs(lld_mm) * heel_plane_mm / (MIN_CAMERA_HEIGHT_MM - heel_plane_mm)
        return BudgetComponent(
            name="plane_height",
            lld_u_mm=bound * RECTANGULAR_TO_SD,
            pelvic_tilt_u_deg=0.0,
            detail=(
                "homography-only: heels and hips mapped on the table top; the parallax of "
                f"the heels ({heel_plane_mm:.0f} mm up) scales LLD by up to "
                f"{heel_plane_mm / (MIN_CAMERA_HEIGHT_MM - heel_plane_mm):.0%} for a camera "
                f">= {MIN_CAMERA_HEIGHT_MM:.0f} mm above the table"
            ),
            inputs={"heel_plane_mm": heel_plane_mm, "min_camera_height_mm": MIN_CAMERA_HEIGHT_MM},
        )
    base = _values(map_points(pose, points_px, heel_plane_mm, hip_plane_mm))
    heel_lld, heel_tilt, hip_lld, hip_tilt = [], [], [], []
    for sign in (-1.0, 1.0):
        dz = sign * uncertainty_mm
        v = _values(map_points(pose, points_px, heel_plane_mm + dz, hip_plane_mm))
        heel_lld.append(v[0] - base[0])
        heel_tilt.append(v[1] - base[1])
        v = _values(map_points(pose, points_px, heel_plane_mm, hip_plane_mm + dz))
        hip_lld.append(v[0] - base[0])
        hip_tilt.append(v[1] - base[1])
    bound_lld = math.hypot(max(map(abs, heel_lld)), max(map(abs, hip_lld)))
    bound_tilt = math.hypot(max(map(abs, heel_tilt)), max(map(abs, hip_tilt)))
    return plane_height_component(
        [bound_lld], [bound_tilt], uncertainty_mm, heel_plane_mm, hip_plane_mm
    )


def heel_height_difference_effect(
    pose: TablePose, points_px: FloatArray, heel_plane_mm: float, hip_plane_mm: float
) -> BudgetComponent:
    """One heel +/-HEEL_HEIGHT_DIFFERENCE_MM above the other, through the camera geometry.

    Homography-only maps everything on the table top and knows neither the camera's height
    nor where it looks down: the parallax r * dz / H is bounded with the lowest camera height
    of the plane-height component and the camera's nadir within a hip-to-heel length of the
    heels (r <= that length).
    """
    dz = HEEL_HEIGHT_DIFFERENCE_MM
    if pose.calibration == "homography-only":
        mm = map_points(pose, points_px, 0.0, 0.0)
        reach = float(np.hypot(*((mm[0, :2] + mm[1, :2]) / 2 - (mm[2, :2] + mm[3, :2]) / 2)))
        bound = reach * dz / (MIN_CAMERA_HEIGHT_MM - dz)
    else:
        base = _values(map_points(pose, points_px, heel_plane_mm, hip_plane_mm))[0]
        bound = 0.0
        for raised in (0, 1):
            z = np.array([heel_plane_mm, heel_plane_mm, hip_plane_mm, hip_plane_mm])
            z[raised] += dz
            bound = max(bound, abs(_values(pose.pixel_to_table(points_px, z))[0] - base))
    return BudgetComponent(
        name="heel_height_difference",
        lld_u_mm=bound * RECTANGULAR_TO_SD,
        pelvic_tilt_u_deg=0.0,
        detail=(
            f"either heel may sit up to {dz:.0f} mm higher than the other (a flexed knee, a "
            f"shoe); through the camera geometry that moves LLD by up to {bound:.1f} mm (less "
            "the nearer the camera is to straight above the heels)"
        ),
        inputs={"heel_height_difference_mm": dz, "lld_bound_mm": bound},
    )


def hip_fallback_component(hip_refined_share: float, heel_separation_mm: float) -> BudgetComponent:
    """The body-axis error that unrefined (raw-landmark) hips add, for their share of frames.

    The axis error turns the heel line: LLD moves by heel separation x tan(axis error).
    """
    raw_share = 1.0 - hip_refined_share
    bound = heel_separation_mm * math.tan(math.radians(RAW_MIDHIP_AXIS_BOUND_DEG)) * raw_share
    return BudgetComponent(
        name="hip_refinement",
        lld_u_mm=bound * RECTANGULAR_TO_SD,
        pelvic_tilt_u_deg=0.0,
        detail=(
            f"{hip_refined_share:.0%} of hip points placed on the legs' mid-line; the rest are "
            f"the model's landmarks, whose mid-point turns the body axis by up to "
            f"{RAW_MIDHIP_AXIS_BOUND_DEG} deg (measured on rendered clips)"
        ),
        inputs={"hip_refined_share": hip_refined_share, "lld_bound_mm": bound},
    )


def unseen_obliquity_component(bound_deg: float) -> BudgetComponent:
    """The pelvic obliquity a markerless tilt cannot see (params.UNSEEN_PELVIC_OBLIQUITY_DEG
    says why): rectangular +-`bound_deg` on the tilt. It turns the hip line about its
    mid-point, which the body axis (and so the LLD) goes through: nothing on the LLD."""
    return BudgetComponent(
        name="pelvic_obliquity",
        lld_u_mm=0.0,
        pelvic_tilt_u_deg=bound_deg * RECTANGULAR_TO_SD,
        detail=(
            "the pose model's hip line does not follow the pelvis's obliquity (on rendered "
            "test clips its tilt did not follow the true tilt): a pelvic obliquity of up to "
            f"+/-{bound_deg:g} deg is assumed possible and unseen; measure with PSIS stickers "
            "for the pelvis's own tilt"
        ),
        inputs={"pelvic_obliquity_bound_deg": bound_deg},
    )


def error_components(
    pose: TablePose,
    window_px: FloatArray,
    *,
    mode: str,
    heel_plane_mm: float,
    hip_plane_mm: float,
    plane_uncertainty_mm: float,
    lld_mm: float,
    refined_share: float,
    image_size: tuple[int, int],
    hip_landmark_u_mm: float,
    unseen_obliquity_deg: float,
    hip_refined_share: float = 1.0,
) -> list[BudgetComponent]:
    """Calibration, plane-height and resolution components for the window's median points.

    `window_px`: (4, 2) median pixels [heel_L, heel_R, hip_L, hip_R] over the window.
    """
    mm = map_points(pose, window_px, heel_plane_mm, hip_plane_mm)
    hip_sep = float(np.hypot(*(mm[3, :2] - mm[2, :2])))
    heel_z = 0.0 if pose.calibration == "homography-only" else heel_plane_mm
    hip_z = 0.0 if pose.calibration == "homography-only" else hip_plane_mm
    heel_mm_px = float(np.mean(pose.mm_per_px(window_px[:2], heel_z)))
    hip_mm_px = float(np.mean(pose.mm_per_px(window_px[2:], hip_z)))
    heel_sep = float(np.hypot(*(mm[1, :2] - mm[0, :2])))
    axis_len = float(np.hypot(*((mm[0, :2] + mm[1, :2]) / 2 - (mm[2, :2] + mm[3, :2]) / 2)))
    if mode == "stickers":
        resolution = model_resolution_component(
            heel_unrefined_step_mm=heel_mm_px,
            heel_refined_step_mm=heel_mm_px,
            refined_share=1.0,
            detail=f"heel stickers located at image resolution ({heel_mm_px:.2f} mm per pixel)",
        )
        hip_u = hip_mm_px / math.sqrt(12.0)
        hips = hip_landmark_component(
            hip_u_mm=hip_u,
            hip_separation_mm=hip_sep,
            heel_separation_mm=heel_sep,
            axis_length_mm=axis_len,
            detail=f"PSIS stickers located at image resolution ({hip_mm_px:.2f} mm per pixel)",
        )
    else:
        model_step = max(image_size) / MODEL_INPUT_PX
        resolution = model_resolution_component(
            heel_unrefined_step_mm=heel_mm_px * model_step,
            heel_refined_step_mm=heel_mm_px,
            refined_share=refined_share,
            heel_unrefined_offset_u_mm=RAW_HEEL_LANDMARK_OFFSET_U_MM,
            detail=(
                f"pose model grid {heel_mm_px * model_step:.1f} mm at the heels; "
                f"{refined_share:.0%} of heel points refined at full image resolution "
                f"({heel_mm_px:.1f} mm per pixel); unrefined heels are the model's heel "
                f"landmark, allowed +/-{RAW_HEEL_LANDMARK_OFFSET_U_MM:.0f} mm (1 SD) from the "
                "heel's caudal extremity"
            ),
        )
        hips = hip_landmark_component(
            hip_u_mm=hip_landmark_u_mm,
            hip_separation_mm=hip_sep,
            heel_separation_mm=heel_sep,
            axis_length_mm=axis_len,
            detail=(
                "hip points are the pose model's hip joint centres, estimated from the body's "
                f"outline (not bony landmarks): assumed +/-{hip_landmark_u_mm:.0f} mm (1 SD) per "
                "hip and coordinate, independent between sides; they set the tilt and the body axis"
            ),
        )
    components = [
        calibration_component(pose.reprojection_mm, pose.reprojection_px, hip_sep),
        plane_height_effects(
            pose, window_px, heel_plane_mm, hip_plane_mm, plane_uncertainty_mm, lld_mm
        ),
        heel_height_difference_effect(pose, window_px, heel_plane_mm, hip_plane_mm),
        resolution,
        hips,
    ]
    if mode != "stickers":
        components.append(hip_fallback_component(hip_refined_share, heel_sep))
        components.append(unseen_obliquity_component(unseen_obliquity_deg))
    return components
