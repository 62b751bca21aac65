"""Per-frame leg length difference and pelvic tilt from four points in table millimetres.

Definitions (docs/MEASUREMENT.md, tests/fixtures/sessions/PROVENANCE.md):
- `a`: unit caudal body axis in the table plane, from the mid-hip point to the mid-heel point.
- `p`: `a` rotated by +90 deg about table +z, i.e. toward the patient's right when the
  patient lies along +x (table +y is the patient's right in prone).
- LLD = (heel_R - heel_L) . a: positive when the right heel reaches further caudally.
- tilt = atan2((hip_R - hip_L) . a, (hip_R - hip_L) . p): positive when the left hip is
  more cranial.
Only the x, y components are used: the coronal plane of a prone body is parallel to the
table top, so heights do not enter the two numbers (they enter through the pixel-to-plane
mapping upstream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: The four points of a measurement, in the order every (4, 2) or (4, 3) array holds them.
POINT_NAMES = ("heel_left", "heel_right", "hip_left", "hip_right")


def named_points(points_px: npt.ArrayLike) -> dict[str, tuple[float, float]]:
    """(4, 2) pixels in POINT_NAMES order -> {name: (x, y)} (results, overlays, reports)."""
    px = np.asarray(points_px, dtype=np.float64)
    return {n: (float(px[i, 0]), float(px[i, 1])) for i, n in enumerate(POINT_NAMES)}


FloatArray = npt.NDArray[np.float64]

#: |LLD| at or below this is reported as no short side (PROVENANCE.md convention).
SHORT_SIDE_DEADBAND_MM = 0.5


@dataclass(frozen=True, slots=True)
class FrameValues:
    """The numbers of one frame; angles in degrees, lengths in millimetres."""

    lld_mm: float
    lld_table_mm: float
    pelvic_tilt_deg: float
    body_axis_deg: float


def _xy(point: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(point, dtype=np.float64).reshape(-1)
    if arr.size not in (2, 3):
        raise ValueError(f"{name} must be a table point (x, y) or (x, y, z) in mm, got {arr}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} is not finite: {arr}")
    return arr[:2]


def body_axis(
    heel_l: npt.ArrayLike, heel_r: npt.ArrayLike, hip_l: npt.ArrayLike, hip_r: npt.ArrayLike
) -> FloatArray:
    """Unit caudal body axis (x, y): from the mid-hip point to the mid-heel point."""
    mid_heel = (_xy(heel_l, "heel_l") + _xy(heel_r, "heel_r")) / 2.0
    mid_hip = (_xy(hip_l, "hip_l") + _xy(hip_r, "hip_r")) / 2.0
    axis = mid_heel - mid_hip
    norm = float(np.hypot(axis[0], axis[1]))
    if norm < 1.0:
        raise ValueError("mid-hip and mid-heel coincide: no body axis can be defined")
    return np.asarray(axis / norm, dtype=np.float64)


def frame_values_on_axis(
    heel_l: npt.ArrayLike,
    heel_r: npt.ArrayLike,
    hip_l: npt.ArrayLike,
    hip_r: npt.ArrayLike,
    axis_xy: npt.ArrayLike,
) -> FrameValues:
    """Frame values along a given caudal axis (unit or not; it is normalised).

    Split out from `frame_values` so the projection can be checked against a reference
    that defines its axis differently (the rendered truth uses the generator's body axis).
    """
    a = np.asarray(axis_xy, dtype=np.float64).reshape(-1)[:2]
    a = a / float(np.hypot(a[0], a[1]))
    p = np.array([-a[1], a[0]])  # +90 deg about +z: toward the patient's right
    heel_d = _xy(heel_r, "heel_r") - _xy(heel_l, "heel_l")
    hip_d = _xy(hip_r, "hip_r") - _xy(hip_l, "hip_l")
    return FrameValues(
        lld_mm=float(heel_d @ a),
        lld_table_mm=float(heel_d[0]),
        pelvic_tilt_deg=math.degrees(math.atan2(float(hip_d @ a), float(hip_d @ p))),
        body_axis_deg=math.degrees(math.atan2(float(a[1]), float(a[0]))),
    )


def frame_values(
    heel_l: npt.ArrayLike, heel_r: npt.ArrayLike, hip_l: npt.ArrayLike, hip_r: npt.ArrayLike
) -> FrameValues:
    """LLD (body axis and table x), pelvic tilt and body axis angle of one frame."""
    return frame_values_on_axis(
        heel_l, heel_r, hip_l, hip_r, body_axis(heel_l, heel_r, hip_l, hip_r)
    )


def short_side(lld_mm: float, deadband_mm: float = SHORT_SIDE_DEADBAND_MM) -> str:
    """Patient side that appears short: positive LLD (right heel further caudal) -> "left"."""
    if abs(lld_mm) <= deadband_mm:
        return "none"
    return "left" if lld_mm > 0 else "right"
