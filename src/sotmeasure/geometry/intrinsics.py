"""Camera intrinsics from a ChArUco board filmed in many positions.

Steps, each with a reason:
1. Detect the board (cv2.aruco.CharucoDetector) on frames spread over the video.
2. Drop blurred views (Laplacian variance of the board region well below the median):
   motion blur shifts corners along the motion.
3. Drop near-duplicate views and keep a well-spread set (greedy farthest-point on the
   board's outline in the image: position, size, rotation and perspective at once):
   fifty copies of one view add no information but pull the fit toward that view.
4. cv2.calibrateCameraExtended with the (k1, k2, p1, p2, k3) model; views whose error
   is far above the others are dropped once and the fit repeated.
5. Refuse when the views are too few or too similar: the focal length's own standard
   deviation (from the fit) above 1 % means the board was not tilted enough.
   When the principal point is not determined to `PRINCIPAL_POINT_MAX_STD_PX` (the
   board never reached the image edges), it is fixed at the image centre and the
   profile's `board` text says so: a stated assumption instead of a noisy number.
   Likewise k3 (the r^6 term) is only fitted when the board reached all four image
   corners: fitted from the centre alone it extrapolates wildly (100 px at the corners
   on the fixture clip, against 2.5 px with k3 = 0 at the same RMS).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.detect import to_gray
from sotmeasure.geometry.errors import CalibrationViewsError
from sotmeasure.geometry.frames import open_frames
from sotmeasure.geometry.layout import CharucoBoardSpec
from sotmeasure.geometry.profile import CameraProfile, utc_now_iso

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int, int], None]

MIN_CORNERS_PER_VIEW = 8
BLUR_REL_THRESHOLD = 0.4
MIN_VIEW_DISTANCE = 0.01  # mean outline-corner distance / image diagonal
MIN_VIEWS = 8
MAX_VIEWS = 60
MAX_FOCAL_REL_STD = 0.01
PRINCIPAL_POINT_MAX_STD_PX = 2.0
MIN_COVERAGE = 0.15  # share of a 6x4 grid over the image the board's corners reach
_OUTLIER_VIEW_FACTOR = 3.0


@dataclass(frozen=True)
class BoardView:
    """One detected board: its ChArUco corners and what view selection needs."""

    frame_index: int
    object_points: npt.NDArray[np.float32]  # (N, 3) board mm
    image_points: npt.NDArray[np.float32]  # (N, 2) px
    sharpness: float
    outline: FloatArray  # (8,) board outline corners in px / image diagonal


@dataclass(frozen=True)
class IntrinsicsResult:
    """A calibration and the evidence for it (for the CLI report and the profile)."""

    profile: CameraProfile
    rms_px: float
    views_used: tuple[int, ...]
    views_detected: int
    views_sharp: int
    frames_checked: int
    std_px: dict[str, float]
    principal_point_fixed: bool
    k3_fixed: bool
    coverage: float
    per_view_rms_px: tuple[float, ...] = field(default=())


def detect_views(
    frames: Iterable[tuple[int, npt.NDArray[np.uint8]]],
    board: CharucoBoardSpec,
    progress: Progress | None = None,
    total: int = 0,
) -> tuple[list[BoardView], tuple[int, int], int]:
    """Board views in `frames` (those with >= MIN_CORNERS_PER_VIEW corners), the image size
    and how many frames were checked."""
    cv_board = board.cv_board()
    detector = cv2.aruco.CharucoDetector(cv_board)
    corners_3d = np.asarray(cv_board.getChessboardCorners(), dtype=np.float64)
    w_mm, h_mm = board.size_mm
    outline_mm = np.array([[0, 0], [w_mm, 0], [w_mm, h_mm], [0, h_mm]], dtype=np.float64)
    views: list[BoardView] = []
    size: tuple[int, int] | None = None
    checked = 0
    for index, image in frames:
        checked += 1
        if progress is not None:
            progress(checked, total)
        h, w = image.shape[:2]
        if size is None:
            size = (w, h)
        elif size != (w, h):
            raise CalibrationViewsError(
                f"frame {index} is {w}x{h} but earlier frames were {size[0]}x{size[1]}"
            )
        gray = to_gray(image)
        ch_corners, ch_ids, _, _ = detector.detectBoard(gray)
        if ch_ids is None or len(ch_ids) < MIN_CORNERS_PER_VIEW:
            continue
        ids = np.asarray(ch_ids).ravel()
        img_pts = np.asarray(ch_corners, dtype=np.float64).reshape(-1, 2)
        obj_pts = corners_3d[ids]
        if cv_board.checkCharucoCornersCollinear(ch_ids):
            continue
        hom, _ = cv2.findHomography(obj_pts[:, :2], img_pts, 0)
        if hom is None:
            continue
        ring = np.column_stack([outline_mm, np.ones(4)]) @ np.asarray(hom).T
        outline = np.asarray(
            (ring[:, :2] / ring[:, 2:3]).ravel() / float(np.hypot(w, h)), dtype=np.float64
        )
        x0, y0 = np.floor(img_pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(img_pts.max(axis=0)).astype(int)
        roi = gray[max(0, y0) : min(h, y1 + 1), max(0, x0) : min(w, x1 + 1)]
        sharpness = float(cv2.Laplacian(roi, cv2.CV_64F).var()) if roi.size else 0.0
        views.append(
            BoardView(
                frame_index=index,
                object_points=obj_pts.astype(np.float32),
                image_points=img_pts.astype(np.float32),
                sharpness=sharpness,
                outline=outline,
            )
        )
    if size is None:
        raise CalibrationViewsError("the video or folder holds no frames")
    return views, size, checked


def select_views(
    views: list[BoardView],
    *,
    max_views: int = MAX_VIEWS,
    min_distance: float = MIN_VIEW_DISTANCE,
) -> tuple[list[BoardView], int]:
    """Sharp, mutually distinct views, most different first; also the count of sharp views.

    Greedy farthest-point sampling starting from the sharpest view; a candidate closer
    than `min_distance` to an already chosen view is a near-duplicate and never chosen.
    """
    if not views:
        return [], 0
    sharp_limit = BLUR_REL_THRESHOLD * float(np.median([v.sharpness for v in views]))
    sharp = [v for v in views if v.sharpness >= sharp_limit]
    feats = np.stack([v.outline for v in sharp])
    chosen = [int(np.argmax([v.sharpness for v in sharp]))]
    nearest = _outline_distance(feats, feats[chosen[0]])
    while len(chosen) < max_views:
        cand = int(np.argmax(nearest))
        if nearest[cand] < min_distance:
            break
        chosen.append(cand)
        nearest = np.minimum(nearest, _outline_distance(feats, feats[cand]))
    return [sharp[i] for i in sorted(chosen)], len(sharp)


def _outline_distance(feats: FloatArray, one: FloatArray) -> FloatArray:
    """Mean distance between corresponding outline corners (normalised units)."""
    diff = (feats - one).reshape(len(feats), 4, 2)
    return np.asarray(np.linalg.norm(diff, axis=2).mean(axis=1), dtype=np.float64)


def _cells(
    views: list[BoardView], size: tuple[int, int], grid: tuple[int, int]
) -> set[tuple[int, int]]:
    w, h = size
    pts = np.concatenate([v.image_points for v in views])
    cx = np.clip((pts[:, 0] / w * grid[0]).astype(int), 0, grid[0] - 1)
    cy = np.clip((pts[:, 1] / h * grid[1]).astype(int), 0, grid[1] - 1)
    return set(zip(cx.tolist(), cy.tolist(), strict=True))


def coverage(
    views: list[BoardView], size: tuple[int, int], grid: tuple[int, int] = (6, 4)
) -> float:
    """Share of the cells of a grid over the image that some board corner falls in."""
    return len(_cells(views, size, grid)) / (grid[0] * grid[1])


def image_corners_reached(
    views: list[BoardView], size: tuple[int, int], grid: tuple[int, int] = (6, 4)
) -> list[str]:
    """Which image corners ("top left", ...) some board corner was seen in (grid cells)."""
    cells = _cells(views, size, grid)
    named = {
        "top left": (0, 0),
        "top right": (grid[0] - 1, 0),
        "bottom left": (0, grid[1] - 1),
        "bottom right": (grid[0] - 1, grid[1] - 1),
    }
    return [name for name, cell in named.items() if cell in cells]


def reaches_corners(
    views: list[BoardView], size: tuple[int, int], grid: tuple[int, int] = (6, 4)
) -> bool:
    """True when board corners were seen in all four corner cells of the image grid."""
    corners = {(0, 0), (grid[0] - 1, 0), (0, grid[1] - 1), (grid[0] - 1, grid[1] - 1)}
    return corners <= _cells(views, size, grid)


def calibrate_views(
    views: list[BoardView],
    size: tuple[int, int],
    board: CharucoBoardSpec,
    *,
    name: str,
    views_detected: int,
    views_sharp: int,
    frames_checked: int,
    min_views: int = MIN_VIEWS,
) -> IntrinsicsResult:
    """Fit intrinsics to selected views, or CalibrationViewsError with the reason."""
    if len(views) < min_views:
        raise CalibrationViewsError(
            f"only {len(views)} distinct sharp board views (found the board in "
            f"{views_detected} frames, {views_sharp} sharp); need at least {min_views}: "
            "film the board slowly in more positions and tilts, filling the image"
        )
    cover = coverage(views, size)
    fix_k3 = not reaches_corners(views, size)
    if cover < MIN_COVERAGE:
        raise CalibrationViewsError(
            f"the board covered only {cover:.0%} of the image in the views: move it over "
            "the whole image, including near the edges and corners"
        )
    rms, k, d, std, per_view = _calibrate(views, size, fix_principal_point=False, fix_k3=fix_k3)
    keep = per_view <= max(_OUTLIER_VIEW_FACTOR * float(np.median(per_view)), 0.5)
    if not keep.all() and keep.sum() >= min_views:
        log.info("dropping %d views with high error and refitting", int((~keep).sum()))
        views = [v for v, ok in zip(views, keep, strict=True) if ok]
        rms, k, d, std, per_view = _calibrate(views, size, fix_principal_point=False, fix_k3=fix_k3)

    rel_f = max(std["fx"] / k[0, 0], std["fy"] / k[1, 1])
    if rel_f > MAX_FOCAL_REL_STD:
        raise CalibrationViewsError(
            f"the board views are too similar: the focal length is uncertain by ±{rel_f:.1%}; "
            "tilt the board 20-45 degrees toward different sides in some views"
        )
    pp_fixed = max(std["cx"], std["cy"]) > PRINCIPAL_POINT_MAX_STD_PX
    free_note = ""
    if pp_fixed:
        free_note = (
            f"; principal point fixed at the image centre (the views determined it only to "
            f"±{std['cx']:.1f}/±{std['cy']:.1f} px: "
            f"free estimate {k[0, 2]:.1f}, {k[1, 2]:.1f})"
        )
        log.info("calibration%s", free_note)
        rms, k, d, std, per_view = _calibrate(
            views, size, fix_principal_point=True, fix_k3=fix_k3, start=k
        )

    if fix_k3:
        free_note += "; k3 fixed at 0 (the board did not reach the image corners)"
    board_text = (
        f"{board.name} ChArUco {board.squares_x}x{board.squares_y}, "
        f"{board.square_length_mm:g} mm squares, {board.marker_length_mm:g} mm "
        f"{board.dictionary} markers (sha256 {board.sha256[:12]}); {len(views)} views{free_note}"
    )
    profile = CameraProfile(
        name=name,
        image_size_px=size,
        matrix=k,
        distortion=d,
        rms_reprojection_px=rms,
        created_utc=utc_now_iso(),
        board=board_text,
    )
    return IntrinsicsResult(
        profile=profile,
        rms_px=rms,
        views_used=tuple(v.frame_index for v in views),
        views_detected=views_detected,
        views_sharp=views_sharp,
        frames_checked=frames_checked,
        std_px=std,
        principal_point_fixed=pp_fixed,
        k3_fixed=fix_k3,
        coverage=cover,
        per_view_rms_px=tuple(float(e) for e in per_view),
    )


def _calibrate(
    views: list[BoardView],
    size: tuple[int, int],
    *,
    fix_principal_point: bool,
    fix_k3: bool,
    start: FloatArray | None = None,
) -> tuple[float, FloatArray, FloatArray, dict[str, float], FloatArray]:
    obj = [v.object_points.reshape(-1, 1, 3) for v in views]
    img = [v.image_points.reshape(-1, 1, 2) for v in views]
    flags = 0
    k0 = np.eye(3)
    if fix_principal_point:
        assert start is not None
        k0 = start.copy()
        k0[0, 2] = (size[0] - 1) / 2.0
        k0[1, 2] = (size[1] - 1) / 2.0
        flags = cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_FIX_PRINCIPAL_POINT
    if fix_k3:
        flags |= cv2.CALIB_FIX_K3
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
    rms, k, d, _, _, std_in, _, per_view = cv2.calibrateCameraExtended(
        obj, img, size, k0, np.zeros(5), flags=flags, criteria=criteria
    )
    s = np.asarray(std_in, dtype=np.float64).ravel()
    std = {"fx": float(s[0]), "fy": float(s[1]), "cx": float(s[2]), "cy": float(s[3])}
    return (
        float(rms),
        np.asarray(k, dtype=np.float64),
        np.asarray(d, dtype=np.float64).ravel()[:5],
        std,
        np.asarray(per_view, dtype=np.float64).ravel(),
    )


def calibrate_intrinsics(
    source: str | Path,
    board: CharucoBoardSpec,
    *,
    name: str,
    max_frames: int = 300,
    max_views: int = MAX_VIEWS,
    min_views: int = MIN_VIEWS,
    progress: Progress | None = None,
) -> IntrinsicsResult:
    """Calibrate from a video or image folder of the board; see the module docstring."""
    frames = open_frames(source)
    stride = max(1, -(-frames.count // max_frames))
    total = -(-frames.count // stride)
    views, size, checked = detect_views(frames.read(stride), board, progress, total)
    chosen, n_sharp = select_views(views, max_views=max_views)
    return calibrate_views(
        chosen,
        size,
        board,
        name=name,
        views_detected=len(views),
        views_sharp=n_sharp,
        frames_checked=checked,
        min_views=min_views,
    )
