"""How far the image itself moved at the four points: motion that detector noise cannot fake.

The motion gate (measure/window.py) was judged on the points the pose pipeline finds. On a
still patient those points jitter: a heel's lateral position or a hip joint centre can jump
by 5-30 mm between frames when the outline is soft or the hips are low in contrast (measured
on rendered clips whose true motion was 0.1 mm), and the patient reads as moving. Whether
the body moved is a property of the pixels, not of the detector: a grey patch around each
point is compared with the same point's patch `baseline_s` earlier: normalised
cross-correlation of a template from the earlier frame, searched for in the later one,
finds the shift of the content to a fraction of a pixel and is not inflated by noise or
blur (both lower the correlation peak, they do not move it). The shift is turned into
millimetres on the point's own plane through the table pose.

A patch whose correlation peak is weak (flat skin, dark shorts: nothing to lock on to), or
whose point jumped so far that the two patches barely overlap, gives no figure: that point
is then judged by its landmark motion as before (processing/video.py combines the two).

Memory: `ImageMotion` holds the patches of the last `baseline_s` (plus a few frames) only and
strips them from every frame it has measured, so it is independent of the video's length.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.processing.budget import map_points

if TYPE_CHECKING:
    from sotmeasure.geometry.table_pose import TablePose
    from sotmeasure.processing.frame_step import FrameMeasurement
    from sotmeasure.processing.params import MeasureParams

FloatArray = npt.NDArray[np.float64]

#: Side of the square grey template compared around each point, in pixels (about 80 mm at
#: 720p of a 2 m table, 55 mm at 1080p): a heel's outline or a hip's fold with its
#: surroundings.
PATCH_PX = 48
#: How far the template is searched for, each way, in pixels over one motion baseline
#: (about 27 mm at 720p in 0.2 s: a faster move is left to the landmark motion, which
#: sees it plainly).
SEARCH_PX = 16
#: Each frame keeps a crop wide enough to cut the template and the search region at the
#: same image position even when the detector moved the point by up to `_MAX_POINT_MOVE`.
_CROP_PX = 128
_MAX_POINT_MOVE = (_CROP_PX - PATCH_PX) // 2 - SEARCH_PX
#: The normalised correlation the best match must reach: below it, the patch has too
#: little texture, or changed too much, for its shift to mean anything (random noise on a
#: flat patch reaches about 0.2).
MIN_CORRELATION = 0.6
#: Matches within this much of the best correlation fit the content as well as the best,
#: within the spread of the best score between frames of a still patient (0.01-0.03 on
#: rendered clips); beyond `_UNIQUE_PX` of the peak, a textured patch's correlation has
#: fallen to its noise floor (the band-pass's outer sigma is 3 px), an edge's has not.
EQUALLY_GOOD = 0.05
_UNIQUE_PX = 4.0


@dataclass(frozen=True, slots=True)
class PointPatches:
    """Grey crops (uint8, _CROP_PX square) around the four points, None where a crop would
    leave the image, with the integer pixel centre each was cut at."""

    centres: npt.NDArray[np.int64]  # (4, 2) x, y
    crops: tuple[npt.NDArray[np.float32] | None, ...]


def _band_pass(grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Fine texture only (difference of Gaussians, sigma 1 and 3 px).

    Why: skin and cloth are smooth at the scale of a few pixels, so plain grey levels match
    along a whole ridge (the aperture problem: a hip patch "moved" 2-4 px along its shading
    on a still rendered patient); the fine texture pins the match in both directions, and
    where there is none the correlation peak drops and the point is left to its landmarks.
    """
    g = grey.astype(np.float32)
    return np.asarray(cv2.GaussianBlur(g, (0, 0), 1.0) - cv2.GaussianBlur(g, (0, 0), 3.0))


def point_patches(image_bgr: npt.NDArray[np.uint8], points_px: FloatArray) -> PointPatches:
    """The four crops of one frame (only the crops are converted to grey)."""
    h, w = image_bgr.shape[:2]
    half = _CROP_PX // 2
    centres = np.rint(np.asarray(points_px, dtype=np.float64)).astype(np.int64)
    crops: list[npt.NDArray[np.float32] | None] = []
    for cx, cy in centres:
        x0, y0 = int(cx) - half, int(cy) - half
        if x0 < 0 or y0 < 0 or x0 + _CROP_PX > w or y0 + _CROP_PX > h:
            crops.append(None)
            continue
        grey = cv2.cvtColor(image_bgr[y0 : y0 + _CROP_PX, x0 : x0 + _CROP_PX], cv2.COLOR_BGR2GRAY)
        crops.append(_band_pass(np.asarray(grey, dtype=np.uint8)))
    return PointPatches(centres, tuple(crops))


def _cut(
    patches: PointPatches, k: int, centre: npt.NDArray[np.int64], side: int
) -> npt.NDArray[np.float32] | None:
    """The `side`-square region of crop k centred at image pixel `centre`, if it holds it."""
    crop = patches.crops[k]
    if crop is None:
        return None
    x0, y0 = (centre - patches.centres[k]) + (_CROP_PX - side) // 2
    if min(x0, y0) < 0 or max(x0, y0) + side > _CROP_PX:
        return None
    return crop[y0 : y0 + side, x0 : x0 + side]


def _vertex(left: float, mid: float, right: float) -> float:
    """Sub-sample offset of a parabola's vertex through three samples (0 when flat)."""
    den = left - 2.0 * mid + right
    return 0.0 if den >= 0 else float(np.clip(0.5 * (left - right) / den, -0.5, 0.5))


def content_shift_px(earlier: PointPatches, later: PointPatches, k: int) -> FloatArray | None:
    """How far the image content at point k moved from `earlier` to `later`, in pixels, or
    None when the crops cannot tell (off the image, the point jumped too far, a move
    beyond the search range, no match good enough).

    The earlier frame's template and the later frame's search region are cut at the same
    image position (the earlier frame's point), so the match measures the content, not the
    detector: a shift measured between regions cut at each frame's own point would carry
    the point's jitter, the very thing this must not see. Normalised cross-correlation,
    not phase correlation: it is a matched filter, so noise lowers the peak instead of
    moving it, and a flat patch shows as a low peak.
    """
    centre = earlier.centres[k]
    if float(np.max(np.abs(later.centres[k] - centre))) > _MAX_POINT_MOVE:
        return None
    template = _cut(earlier, k, centre, PATCH_PX)
    region = _cut(later, k, centre, PATCH_PX + 2 * SEARCH_PX)
    if template is None or region is None or float(template.std()) < 0.5:
        return None
    scores = cv2.matchTemplate(region, template, cv2.TM_CCOEFF_NORMED)
    _lo, best, _lo_at, (bx, by) = cv2.minMaxLoc(scores)
    last = scores.shape[0] - 1
    if best < MIN_CORRELATION or bx in (0, last) or by in (0, last):
        return None  # no match, or the best lies on the search border (moved further)
    along_a_ridge = _shortest_equally_good_shift(scores, best, (bx, by))
    if along_a_ridge is not None:
        return along_a_ridge
    dx = bx - SEARCH_PX + _vertex(scores[by, bx - 1], scores[by, bx], scores[by, bx + 1])
    dy = by - SEARCH_PX + _vertex(scores[by - 1, bx], scores[by, bx], scores[by + 1, bx])
    return np.array([dx, dy], dtype=np.float64)


def _shortest_equally_good_shift(
    scores: npt.NDArray[Any], best: float, at: tuple[int, int]
) -> FloatArray | None:
    """For a patch whose content is one edge (the aperture problem: it matches as well
    anywhere along the edge), the shortest shift that matches as well as the best: only the
    motion across the edge is seen, and noise no longer picks a point far along it. None
    for a patch with a single clear peak (texture pins it in both directions).

    Seen (held-out clip rand9859_04, smooth pale shorts at 1080p): on a still patient the
    best match of a hip patch lay 10-22 mm along the shorts' edge in one frame of five,
    with matches far from it within 0.02 of its score, and the recording was refused as
    "hip points jumped".
    """
    ys, xs = np.nonzero(scores >= best - EQUALLY_GOOD)
    if float(np.max(np.hypot(xs - at[0], ys - at[1]))) < _UNIQUE_PX:
        return None
    dx, dy = xs - SEARCH_PX, ys - SEARCH_PX
    k = int(np.argmin(np.hypot(dx, dy)))
    return np.array([dx[k], dy[k]], dtype=np.float64)


class ImageMotion:
    """Per-frame, per-point image motion in mm over `baseline_s`, fed frames in time
    order (measure/window.body_motion_mm turns it into the frame's motion)."""

    def __init__(self, pose: TablePose, params: MeasureParams) -> None:
        self._pose = pose
        self._params = params
        self._motion = params.motion()
        self._recent: deque[tuple[float, FloatArray, PointPatches]] = deque()

    def feed(self, track: FrameMeasurement) -> FrameMeasurement:
        """The frame with its per-point image motion set and its patches dropped."""
        patches = track.patches
        motion = np.full(4, np.nan)
        if patches is None or track.px is None:
            return replace(track, patches=None, image_motion_mm=motion)
        reference = self._reference(track.t_s)
        if reference is not None:
            motion = self._motion_mm(reference, track.px, patches, track.mm)
        self._recent.append((track.t_s, track.px, patches))
        while len(self._recent) > 2 and self._recent[1][0] <= track.t_s - self._motion.baseline_s:
            self._recent.popleft()
        return replace(track, patches=None, image_motion_mm=motion)

    def _reference(self, t_s: float) -> PointPatches | None:
        """The latest earlier frame at least `baseline_s` back; None at the clip's start."""
        found = None
        for t, _px, patches in self._recent:
            if t <= t_s - self._motion.baseline_s + 1e-9:
                found = patches
        return found

    def _motion_mm(
        self,
        earlier: PointPatches,
        px: FloatArray,
        later: PointPatches,
        mm: FloatArray | None = None,
    ) -> FloatArray:
        """Each point's content motion in mm on its plane; NaN where the image cannot tell.

        `mm`: the frame's points already mapped to their planes (frame_step.map_frame maps
        `px` exactly as `map_points` here would), so they are not mapped twice."""
        moved = np.full((4, 2), np.nan)
        for k in range(4):
            shift = content_shift_px(earlier, later, k)
            if shift is not None:
                moved[k] = shift
        ok = np.all(np.isfinite(moved), axis=1)
        out = np.full(4, np.nan)
        if not ok.any():
            return out
        heel, hip = self._params.heel_plane_mm, self._params.hip_plane_mm
        now = map_points(self._pose, px, heel, hip) if mm is None else mm
        before = map_points(self._pose, np.where(ok[:, None], px - moved, px), heel, hip)
        out[ok] = np.linalg.norm((now - before)[ok, :2], axis=1)
        return out
