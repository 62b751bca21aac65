"""Where the camera is relative to the table, from the layout's markers over a window.

One pose per measurement window, not per frame: the camera is meant to be still, so
the markers are detected on a handful of frames spread over the window, each corner's
position is the median over those frames (robust to a frame where a limb clips a
marker), and a marker that jumps while the others stay is dropped as a bad detection.
If the markers as a whole moved, the camera (or table) moved and the window cannot
have one pose: `CameraMovedError`.

With a camera profile the pose is a full PnP solution (IPPE, then Levenberg-Marquardt
refinement) and pixels map to any plane z = h. Without one, only a table-plane
homography is possible; it is flagged `homography-only` and refuses heights other than
the table top, because mapping a heel 100 mm above the table through a z = 0
homography is off by the parallax (centimetres at the image edge), and that must be a
decision of the caller (who then reports `homography-only`), never a silent default.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.detect import detect_layout_markers, explain_no_markers, make_detector
from sotmeasure.geometry.errors import (
    CameraMovedError,
    GeometryError,
    MarkersNotFoundError,
)
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.profile import CameraProfile
from sotmeasure.geometry.projection import (
    apply_homography,
    as_points,
    heights,
    pixels_to_plane,
    plane_to_pixels,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Calibration = Literal["camera+pose", "homography-only"]

DEFAULT_MAX_FRAMES = 8
# Marker corners of a still camera agree to ~0.1-0.3 px between frames (sensor noise,
# compression). 2 px is far above that and, at ~1.5 mm/px, still well below what
# would bias a measurement.
DEFAULT_MAX_SHIFT_PX = 2.0
# A marker whose corners miss the fitted pose by more than this (and by 4x the median
# marker) is treated as a bad detection (partly covered, or a look-alike) and dropped.
_OUTLIER_PX = 1.5
_DIRECTION_STEP_MM = 10.0


@dataclass(frozen=True)
class TablePose(ABC):
    """The camera-to-table relation for one window, and the maps it allows.

    Two kinds, two types: `CameraTablePose` (a camera profile was given: a full pose, any
    plane height) and `HomographyTablePose` (no profile: the table top only). Callers map
    through the shared methods and ask `supports_height`; only code that needs the camera
    itself (its position) asks for a `CameraTablePose`.

    `reprojection_px`: RMS distance between the observed marker corners and the layout
    corners projected through the fitted model. `reprojection_mm`: RMS distance on the
    table between the layout corners and the observed corners mapped back onto z = 0:
    the calibration term of the error budget.
    """

    calibration: ClassVar[Calibration]
    supports_height: ClassVar[bool]

    image_size_px: tuple[int, int]
    reprojection_px: float
    reprojection_mm: float
    markers_used: tuple[int, ...]
    markers_dropped: tuple[int, ...]
    frames_checked: int
    frames_with_markers: int
    marker_shift_px: float
    max_shift_px: float
    layout_name: str
    layout_sha256: str
    dictionary: str
    reference_corners_px: Mapping[int, FloatArray] = field(repr=False)

    # ------------------------------------------------------------------ maps

    @abstractmethod
    def pixel_to_table(self, points_px: npt.ArrayLike, z_mm: float | npt.ArrayLike) -> FloatArray:
        """Table mm (N, 3) of pixels (N, 2) lying on the plane(s) z = z_mm; NaN rows for
        rays that never meet their plane in front of the camera."""

    @abstractmethod
    def table_to_pixel(self, points_mm: npt.ArrayLike) -> FloatArray:
        """Pixels (N, 2), lens distortion included, of table points (N, 3): for overlays."""

    def table_direction_px(
        self,
        at_px: npt.ArrayLike,
        direction_xy: npt.ArrayLike,
        z_mm: float = 0.0,
    ) -> FloatArray:
        """Unit image direction (2,) of the table direction `direction_xy` at pixel `at_px`.

        E.g. direction (1, 0) = table +x = toward the feet: the pose pipeline rotates
        frames head-up and searches heels caudally with it. Found by mapping the pixel
        to the plane z = z_mm, stepping 10 mm along the direction both ways and
        projecting back, so perspective and distortion at that spot are included.
        `at_px` may also be (N, 2), giving (N, 2).
        """
        at = np.asarray(at_px, dtype=np.float64)
        single = at.ndim == 1
        pts = as_points(at, 2, "at_px")
        d = np.asarray(direction_xy, dtype=np.float64).ravel()
        if d.shape != (2,) or not np.linalg.norm(d) > 0:
            raise ValueError("direction_xy must be a non-zero (2,) table direction")
        step = np.array([d[0], d[1], 0.0]) / np.linalg.norm(d) * (_DIRECTION_STEP_MM / 2)
        base = self.pixel_to_table(pts, z_mm)
        ahead = self.table_to_pixel(base + step)
        behind = self.table_to_pixel(base - step)
        v = ahead - behind
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        return v[0] if single else v

    def mm_per_px(self, at_px: npt.ArrayLike, z_mm: float = 0.0) -> FloatArray:
        """Size on the plane z = z_mm of one pixel at `at_px` (mean of x and y steps), (N,)."""
        pts = as_points(at_px, 2, "at_px")
        half_x = np.array([0.5, 0.0])
        half_y = np.array([0.0, 0.5])
        dx = self.pixel_to_table(pts + half_x, z_mm) - self.pixel_to_table(pts - half_x, z_mm)
        dy = self.pixel_to_table(pts + half_y, z_mm) - self.pixel_to_table(pts - half_y, z_mm)
        return np.asarray(
            0.5 * (np.linalg.norm(dx, axis=1) + np.linalg.norm(dy, axis=1)), dtype=np.float64
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for results and provenance (no arrays but the camera pose)."""
        return {
            "calibration": self.calibration,
            "image_size_px": list(self.image_size_px),
            "reprojection_px": round(self.reprojection_px, 4),
            "reprojection_mm": round(self.reprojection_mm, 4),
            "markers_used": list(self.markers_used),
            "markers_dropped": list(self.markers_dropped),
            "frames_checked": self.frames_checked,
            "frames_with_markers": self.frames_with_markers,
            "marker_shift_px": round(self.marker_shift_px, 4),
            "layout_name": self.layout_name,
            "layout_sha256": self.layout_sha256,
            "profile_name": None,
            "profile_sha256": None,
        }


@dataclass(frozen=True)
class CameraTablePose(TablePose):
    """A full camera pose (PnP with the camera profile): maps pixels to any plane z = h."""

    calibration: ClassVar[Calibration] = "camera+pose"
    supports_height: ClassVar[bool] = True

    profile_name: str
    profile_sha256: str
    matrix: FloatArray = field(repr=False)
    distortion: FloatArray = field(repr=False)
    rvec: FloatArray = field(repr=False)
    tvec: FloatArray = field(repr=False)

    @property
    def rotation(self) -> FloatArray:
        """R of X_cam = R X_table + t."""
        r, _ = cv2.Rodrigues(self.rvec)
        return np.asarray(r, dtype=np.float64)

    @property
    def camera_position_mm(self) -> FloatArray:
        """Camera centre in table mm."""
        return np.asarray(-self.rotation.T @ self.tvec, dtype=np.float64)

    def pixel_to_table(self, points_px: npt.ArrayLike, z_mm: float | npt.ArrayLike) -> FloatArray:
        """Undistort, intersect each ray with its plane (NaN rows where it never meets it)."""
        pts = as_points(points_px, 2, "points_px")
        z = heights(z_mm, len(pts))
        return pixels_to_plane(pts, z, self.matrix, self.distortion, self.rotation, self.tvec)

    def table_to_pixel(self, points_mm: npt.ArrayLike) -> FloatArray:
        pts = as_points(points_mm, 3, "points_mm")
        return plane_to_pixels(pts, self.matrix, self.distortion, self.rvec, self.tvec)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["profile_name"] = self.profile_name
        out["profile_sha256"] = self.profile_sha256
        out["rvec"] = [float(v) for v in self.rvec]
        out["tvec_mm"] = [float(v) for v in self.tvec]
        out["camera_position_mm"] = [round(float(v), 2) for v in self.camera_position_mm]
        return out


@dataclass(frozen=True)
class HomographyTablePose(TablePose):
    """A table-plane homography (no camera profile): maps the table top (z = 0) only."""

    calibration: ClassVar[Calibration] = "homography-only"
    supports_height: ClassVar[bool] = False

    homography: FloatArray = field(repr=False)  # table xy -> px

    def pixel_to_table(self, points_px: npt.ArrayLike, z_mm: float | npt.ArrayLike) -> FloatArray:
        """Table-top points only: GeometryError for any other height (module docstring)."""
        pts = as_points(points_px, 2, "points_px")
        _require_table_top(heights(z_mm, len(pts)))
        inverse = np.asarray(np.linalg.inv(self.homography), dtype=np.float64)
        return np.column_stack([apply_homography(inverse, pts), np.zeros(len(pts))])

    def table_to_pixel(self, points_mm: npt.ArrayLike) -> FloatArray:
        pts = as_points(points_mm, 3, "points_mm")
        _require_table_top(pts[:, 2])
        return apply_homography(self.homography, pts[:, :2])


def _require_table_top(z: FloatArray) -> None:
    if np.any(np.abs(z) > 1e-9):
        raise GeometryError(
            "this table pose is homography-only (no camera profile), so it can only map "
            f"points on the table top (z = 0), not at z = {float(np.max(np.abs(z))):g} mm: "
            "give a camera profile (sotmeasure calibration intrinsics), or map at z = 0 "
            "and report the result as homography-only"
        )


# ----------------------------------------------------------------- estimation


def estimate_table_pose(
    images: Sequence[npt.NDArray[np.uint8]],
    layout: TargetLayout,
    profile: CameraProfile | None,
    *,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_shift_px: float = DEFAULT_MAX_SHIFT_PX,
) -> TablePose:
    """One robust camera-to-table pose for a window of frames from a still camera.

    Detects the layout's markers on up to `max_frames` frames spread evenly over
    `images`, takes the median of each corner, and fits a PnP pose (with `profile`) or
    a table-plane homography (without). Raises MarkersNotFoundError when no layout
    marker is seen and CameraMovedError when the markers moved more than
    `max_shift_px` during the window.
    """
    if len(images) == 0:
        raise GeometryError("no images given to estimate the table pose")
    h, w = images[0].shape[:2]
    for img in images:
        if img.shape[:2] != (h, w):
            raise GeometryError(
                "the images of one window differ in size "
                f"({w}x{h} vs {img.shape[1]}x{img.shape[0]})"
            )
    cam = profile.for_size(w, h) if profile is not None else None

    picks = np.unique(np.linspace(0, len(images) - 1, min(len(images), max_frames)).round())
    detector = make_detector(layout.dictionary)
    per_id: dict[int, list[FloatArray]] = {}
    frames_with = 0
    for k in picks.astype(int).tolist():
        found = detect_layout_markers(images[k], layout, detector)
        frames_with += bool(found)
        for marker_id, corners in found.items():
            per_id.setdefault(marker_id, []).append(corners)
    if not per_id:
        reason = explain_no_markers(images[int(picks[len(picks) // 2])], layout)
        raise MarkersNotFoundError(f"target not found in {len(picks)} frame(s) checked: {reason}")

    corners_px, shift, jumpy = _median_corners(per_id, max_shift_px)
    if shift > max_shift_px:
        raise CameraMovedError(
            f"the target's markers moved by {shift:.1f} px during the window (limit "
            f"{max_shift_px:g} px): keep the camera and the table still while measuring"
        )
    for marker_id in jumpy:
        log.info("marker %d moved alone during the window: ignored", marker_id)
        corners_px.pop(marker_id)
    if not corners_px:
        raise MarkersNotFoundError("no target marker stayed still during the window")

    if cam is None:
        return _fit_homography(
            corners_px,
            layout,
            (w, h),
            len(picks),
            frames_with,
            shift,
            max_shift_px,
            tuple(sorted(jumpy)),
        )
    return _fit_camera_pose(
        corners_px, layout, cam, len(picks), frames_with, shift, max_shift_px, tuple(sorted(jumpy))
    )


def _median_corners(
    per_id: Mapping[int, list[FloatArray]], max_shift_px: float
) -> tuple[dict[int, FloatArray], float, list[int]]:
    """Per-marker median corners; the window's typical shift; markers that moved alone.

    Shift of a marker = the largest distance of its centre (the mean of its four corners)
    in any frame from the centre's median. The centre, not single corners: a camera move
    carries the whole marker, while corner noise (sensor noise, compression, slight blur)
    jitters each corner on its own and averages out in the centre, so noise does not read
    as a moved camera. The window's shift is the median over markers seen at least twice,
    so one partly covered marker cannot fake a camera move, while a real camera move
    shifts them all.
    """
    medians: dict[int, FloatArray] = {}
    shifts: dict[int, float] = {}
    for marker_id, obs in per_id.items():
        stack = np.stack(obs)  # (n, 4, 2)
        med = np.median(stack, axis=0)
        medians[marker_id] = med
        if len(obs) >= 2:
            centres = stack.mean(axis=1)  # (n, 2)
            shifts[marker_id] = float(
                np.linalg.norm(centres - np.median(centres, axis=0), axis=1).max()
            )
    if not shifts:
        return medians, 0.0, []
    window_shift = float(np.median(list(shifts.values())))
    jumpy = [i for i, s in shifts.items() if s > max_shift_px]
    return medians, window_shift, jumpy


def _fit_camera_pose(
    corners_px: Mapping[int, FloatArray],
    layout: TargetLayout,
    cam: CameraProfile,
    frames_checked: int,
    frames_with: int,
    shift: float,
    max_shift_px: float,
    dropped: tuple[int, ...],
) -> CameraTablePose:
    ids = sorted(corners_px)
    dropped_list = list(dropped)
    k, d = cam.matrix, cam.distortion
    while True:
        obj = layout.corners_mm(ids)
        img = np.concatenate([corners_px[i] for i in ids])
        rvec, tvec = _solve_pnp(obj, img, k, d)
        proj = plane_to_pixels(obj, k, d, rvec, tvec)
        err = np.linalg.norm(proj - img, axis=1).reshape(len(ids), 4)
        per_marker = np.sqrt((err**2).mean(axis=1))
        worst = int(per_marker.argmax())
        limit = max(_OUTLIER_PX, 4.0 * float(np.median(per_marker)))
        if len(ids) > 1 and per_marker[worst] > limit:
            log.info(
                "marker %d off the fitted pose by %.1f px: dropped", ids[worst], per_marker[worst]
            )
            dropped_list.append(ids.pop(worst))
            continue
        break
    r, _ = cv2.Rodrigues(rvec)
    back = pixels_to_plane(img, np.zeros(len(img)), k, d, np.asarray(r, dtype=np.float64), tvec)
    err_mm = np.linalg.norm(back[:, :2] - obj[:, :2], axis=1)
    return CameraTablePose(
        image_size_px=cam.image_size_px,
        reprojection_px=float(np.sqrt((err**2).mean())),
        reprojection_mm=float(np.sqrt(np.nanmean(err_mm**2))),
        markers_used=tuple(ids),
        markers_dropped=tuple(sorted(dropped_list)),
        frames_checked=frames_checked,
        frames_with_markers=frames_with,
        marker_shift_px=shift,
        max_shift_px=max_shift_px,
        layout_name=layout.name,
        layout_sha256=layout.sha256,
        dictionary=layout.dictionary,
        reference_corners_px={i: corners_px[i] for i in ids},
        profile_name=cam.name,
        profile_sha256=cam.sha256,
        matrix=k,
        distortion=d,
        rvec=rvec,
        tvec=tvec,
    )


def _solve_pnp(
    obj: FloatArray, img: FloatArray, k: FloatArray, d: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """IPPE (both planar solutions, keep the better) then Levenberg-Marquardt refinement."""
    n, rvecs, tvecs, errs = cv2.solvePnPGeneric(
        obj.reshape(-1, 1, 3), img.reshape(-1, 1, 2), k, d, flags=cv2.SOLVEPNP_IPPE
    )
    if n == 0:
        raise GeometryError("the camera pose could not be solved from the target's markers")
    best = int(np.argmin(np.asarray(errs).ravel()))
    rvec0 = np.asarray(rvecs[best], dtype=np.float64).reshape(3, 1)
    tvec0 = np.asarray(tvecs[best], dtype=np.float64).reshape(3, 1)
    rvec, tvec = cv2.solvePnPRefineLM(
        obj.reshape(-1, 1, 3),
        img.reshape(-1, 1, 2),
        k,
        d,
        rvec0,
        tvec0,
        (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12),
    )
    return np.asarray(rvec, dtype=np.float64).ravel(), np.asarray(tvec, dtype=np.float64).ravel()


def _fit_homography(
    corners_px: Mapping[int, FloatArray],
    layout: TargetLayout,
    size: tuple[int, int],
    frames_checked: int,
    frames_with: int,
    shift: float,
    max_shift_px: float,
    dropped: tuple[int, ...],
) -> HomographyTablePose:
    ids = sorted(corners_px)
    dropped_list = list(dropped)
    while True:
        obj = layout.corners_mm(ids)[:, :2]
        img = np.concatenate([corners_px[i] for i in ids])
        found, _ = cv2.findHomography(obj, img, 0)
        if found is None:
            raise GeometryError("the table homography could not be solved from the markers")
        hom = np.asarray(found, dtype=np.float64)
        err = np.linalg.norm(apply_homography(hom, obj) - img, axis=1).reshape(len(ids), 4)
        per_marker = np.sqrt((err**2).mean(axis=1))
        worst = int(per_marker.argmax())
        limit = max(_OUTLIER_PX, 4.0 * float(np.median(per_marker)))
        if len(ids) > 1 and per_marker[worst] > limit:
            dropped_list.append(ids.pop(worst))
            continue
        break
    back = apply_homography(np.asarray(np.linalg.inv(hom), dtype=np.float64), img)
    err_mm = np.linalg.norm(back - obj, axis=1)
    return HomographyTablePose(
        image_size_px=size,
        reprojection_px=float(np.sqrt((err**2).mean())),
        reprojection_mm=float(np.sqrt((err_mm**2).mean())),
        markers_used=tuple(ids),
        markers_dropped=tuple(sorted(dropped_list)),
        frames_checked=frames_checked,
        frames_with_markers=frames_with,
        marker_shift_px=shift,
        max_shift_px=max_shift_px,
        layout_name=layout.name,
        layout_sha256=layout.sha256,
        dictionary=layout.dictionary,
        reference_corners_px={i: corners_px[i] for i in ids},
        homography=hom,
    )
