"""Full-resolution heel refinement: from the model's heel landmark to the heel's caudal edge.

The pose model sees a ~256 px crop of the whole body, so its heel landmark is several
millimetres off the heel's most caudal point (and it marks the back of the heel, not the
caudal extremity). Here we go back to the full-resolution frame around that landmark:

1. coarse: the person silhouette (the model's segmentation mask, upsampled) gives the foot
   region; its extreme pixel along the caudal direction, within a band around the
   heel landmark, is the coarse heel extremity ("mask"). Without a mask, the landmark
   itself seeds the search.
2. fine: along lines parallel to the caudal direction, a few pixels apart laterally, the
   colour-gradient profile of the lightly smoothed image is sampled at sub-pixel steps;
   its OUTERMOST strong edge (a local maximum at least `outer_edge_fraction` of the
   line's strongest) is the silhouette crossing (parabolic peak interpolation). Not the
   strongest edge: a heel's outline is a darker shaded rim, and where the rim's colour is
   close to the background's the skin-to-rim step wins, putting the "edge" a rim's width
   (2-4 px, several mm) short of the silhouette. The apex of the crossings (quadratic fit
   over the lateral lines) is the caudal extremity ("edge").

In a near-overhead view the heel's caudal extremity lies on the silhouette, so this finds
it. In a steep oblique view from beyond the feet the plantar heel faces the camera and its
caudal extremity lies INSIDE the silhouette; the caller says so through `view_ok=False`
and gets the raw landmark back with that reason, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.pose.numeric import gradient_magnitude, row_percentile
from sotmeasure.pose.orientation import unit_vector

STATUS_EDGE = "refined-edge"
STATUS_MASK = "refined-mask"
RAW_PREFIX = "raw-landmark"
#: The person mask does not end within a foot's length beyond the heel landmark: the foot's
#: outline runs on into something else (a hand holding the foot, another person, a towel
#: the model takes for skin), so no edge found there is the heel's.
RAW_OUTLINE_RUNS_ON = "the foot's outline runs on past the heel (something touches the foot)"


#: The edge found runs straight across the heel's width: not a heel's round outline.
RAW_STRAIGHT_EDGE = (
    "the edge at the heel runs straight across it (a towel edge or a line beyond the heel?)"
)


#: The crossings do not form one continuous, turning outline: no heel apex on the image.
#: The refinement cannot tell which of these it was; the user can, so all are named (hands
#: at the heels are common in SOT: the practitioner compares the heels by holding them).
RAW_BROKEN_OUTLINE = (
    "no continuous heel outline (too little contrast at the heel's edge, or texture, a line "
    "or a hand just beyond it)"
)


class FootOutlineError(Exception):
    """The heel's own outline cannot be isolated (internal to refinement; becomes a status)."""


FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class HeelRefineParams:
    """Search sizes relative to the foot scale s = |heel - ankle| landmark distance (px).

    Relative sizes keep the method independent of resolution and camera distance.
    """

    band_half_width: float = 0.45  # lateral half-width (x s) of the heel band in the mask
    band_back: float = 1.0  # how far behind the heel landmark (x s) the band starts
    band_ahead: float = 1.2  # how far beyond it (x s) the band reaches
    edge_window_back: float = 0.6  # fine search lines around the coarse point (x s)
    edge_window_ahead: float = 0.3
    mask_edge_tolerance: float = 0.15  # edge must lie this near (x s) the line's mask crossing
    seed_window_ahead: float = 0.8  # without a mask, the window beyond the landmark (x s)
    line_half_width: float = 0.45  # lateral half-width (x s) covered by the fine lines
    apex_depth_px: float = 2.0  # crossings this close (px) to the furthest one shape the apex
    line_step_px: float = 1.0
    sample_step_px: float = 0.25
    smooth_sigma_px: float = 0.7  # small: rim (~2 px) and silhouette edges stay apart
    min_edge_contrast: float = 4.0  # floor of colour-gradient magnitude (0-255 units per px)
    edge_to_noise: float = 6.0  # an edge is at least this x its line's median gradient
    outer_edge_fraction: float = 0.6  # outermost edge at least this x the line's strongest
    min_foot_scale_px: float = 6.0
    max_outline_jump: float = 0.12  # neighbouring crossings of one outline: depth step (x s)
    min_outline_span: float = 0.25  # the heel's outline run spans at least this (x s)
    straight_span_fraction: float = 0.65  # a straight edge is judged over this share of
    max_straight_residual_px: float = 0.5  # the search width; median distance from a line
    mask_threshold: float = 0.5


@dataclass(frozen=True, slots=True)
class MaskPatch:
    """A person mask (values in [0, 1]) over part of the frame, `origin` = its (x0, y0).

    Refinement needs the mask only around the feet, so the pipeline samples the model's
    (small, possibly rotated) mask into a patch of full-frame pixels there instead of
    warping a whole frame-sized mask every frame.
    """

    values: npt.NDArray[np.float32]
    origin: tuple[int, int] = (0, 0)

    def crop(self, x0: int, y0: int, x1: int, y1: int) -> npt.NDArray[np.float32]:
        """Mask values of frame pixels [y0:y1, x0:x1] (0 where the patch has none)."""
        out = np.zeros((max(0, y1 - y0), max(0, x1 - x0)), np.float32)
        ox, oy = self.origin
        ph, pw = self.values.shape
        ax0, ay0 = max(x0, ox), max(y0, oy)
        ax1, ay1 = min(x1, ox + pw), min(y1, oy + ph)
        if ax1 > ax0 and ay1 > ay0:
            out[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = self.values[
                ay0 - oy : ay1 - oy, ax0 - ox : ax1 - ox
            ]
        return out


@dataclass(frozen=True, slots=True)
class HeelResult:
    """The heel extremity (pixels of the full frame) and how it was obtained."""

    point_px: FloatArray
    status: str


def _raw(point: FloatArray, reason: str) -> HeelResult:
    return HeelResult(np.asarray(point, dtype=np.float64).copy(), f"{RAW_PREFIX} ({reason})")


def _mask_extremity(
    mask: MaskPatch,
    frame_size: tuple[int, int],
    heel: FloatArray,
    c: FloatArray,
    p: FloatArray,
    s: float,
    prm: HeelRefineParams,
) -> FloatArray | None:
    """The mask pixel furthest along c inside a band around the heel landmark, or None."""
    w, h = frame_size
    r = s * max(prm.band_back, prm.band_ahead, prm.band_half_width) + 2
    x0, x1 = int(max(0, heel[0] - r)), int(min(w, heel[0] + r + 1))
    y0, y1 = int(max(0, heel[1] - r)), int(min(h, heel[1] + r + 1))
    if x1 <= x0 or y1 <= y0:
        return None
    roi = mask.crop(x0, y0, x1, y1) >= prm.mask_threshold
    ys, xs = np.nonzero(roi)
    if xs.size == 0:
        return None
    d = np.stack([xs + x0 - heel[0], ys + y0 - heel[1]], axis=1).astype(np.float64)
    along, across = d @ c, d @ p
    keep = (
        (np.abs(across) <= prm.band_half_width * s)
        & (along >= -prm.band_back * s)
        & (along <= prm.band_ahead * s)
    )
    if not np.any(keep):
        return None
    along_k, across_k = along[keep], across[keep]
    if along_k.max() >= prm.band_ahead * s - 1.5:
        raise FootOutlineError(RAW_OUTLINE_RUNS_ON)
    top = along_k >= along_k.max() - 1.0
    return np.asarray(heel + c * along_k.max() + p * float(np.mean(across_k[top])))


def _edge_apex(
    image_bgr: npt.NDArray[np.uint8],
    start: FloatArray,
    c: FloatArray,
    p: FloatArray,
    back: float,
    ahead: float,
    half_width: float,
    prm: HeelRefineParams,
    mask: MaskPatch | None = None,
    mask_tolerance: float = 0.0,
) -> FloatArray | None:
    """Sub-pixel apex of the silhouette edge crossed by lines along c, or None.

    Each line's edge is its strongest colour gradient; with a mask, only within
    `mask_tolerance` px of the line's own mask crossing, and lines that do not cross the
    mask are dropped (they run beside the foot, where the strongest edge is noise).
    """
    h, w = image_bgr.shape[:2]
    offs = np.arange(-half_width, half_width + 1e-9, prm.line_step_px)
    ts = np.arange(-back, ahead + 1e-9, prm.sample_step_px)
    if offs.size < 3 or ts.size < 8:
        return None
    pts = start[None, None, :] + offs[:, None, None] * p + ts[None, :, None] * c
    pad = 3.0 * prm.smooth_sigma_px + 2
    x0 = int(np.floor(max(0.0, pts[..., 0].min() - pad)))
    x1 = int(np.ceil(min(w - 1.0, pts[..., 0].max() + pad)))
    y0 = int(np.floor(max(0.0, pts[..., 1].min() - pad)))
    y1 = int(np.ceil(min(h - 1.0, pts[..., 1].max() + pad)))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    roi = np.asarray(
        cv2.GaussianBlur(
            image_bgr[y0 : y1 + 1, x0 : x1 + 1].astype(np.float32), (0, 0), prm.smooth_sigma_px
        ),
        dtype=np.float32,
    )
    mx = (pts[..., 0] - x0).astype(np.float32)
    my = (pts[..., 1] - y0).astype(np.float32)
    prof = cv2.remap(roi, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # np.sqrt(np.sum(np.gradient(prof, step, axis=1) ** 2, axis=2)), the same numbers
    mag = gradient_magnitude(prof, prm.sample_step_px)  # (lines, samples)
    inside = (
        (pts[..., 0] >= 0) & (pts[..., 0] <= w - 1) & (pts[..., 1] >= 0) & (pts[..., 1] <= h - 1)
    )
    mag = np.where(inside, mag, 0.0)
    # An edge counts by its contrast against its own line's noise (the gradient level of the
    # line's flattest fifth: grain and compression, not the skin's shading), not by an
    # absolute level: halving the image contrast or adding noise changes both alike, and a
    # slight blur lowers the edge but not the grain's floor below it.
    noise = row_percentile(mag, 20)  # np.percentile(mag, 20, axis=1), the same numbers
    line_ok = np.ones(offs.size, dtype=bool)
    allowed = np.ones(mag.shape, dtype=bool)
    if mask is not None:
        mroi = np.ascontiguousarray(mask.crop(x0, y0, x1 + 1, y1 + 1), dtype=np.float32)
        mprof = cv2.remap(mroi, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        fg = mprof >= prm.mask_threshold
        # the last foreground sample of each line = its mask crossing
        last = fg.shape[1] - 1 - np.argmax(fg[:, ::-1], axis=1)
        line_ok = fg[:, 0] & (last < fg.shape[1] - 1)
        cross = ts[last]
        allowed = np.abs(ts[None, :] - cross[:, None]) <= mask_tolerance
    k, has_peak = _outermost_edge(mag, prm.outer_edge_fraction, allowed)
    line_ok &= has_peak
    rows = np.arange(mag.shape[0])
    peak = mag[rows, k]
    # parabolic sub-sample interpolation of each line's peak
    a, b, cc = mag[rows, k - 1], peak, mag[rows, k + 1]
    den = a - 2 * b + cc
    safe = np.where(np.abs(den) > 1e-9, den, 1.0)
    frac = np.where(np.abs(den) > 1e-9, 0.5 * (a - cc) / safe, 0.0)
    pos = ts[k] + np.clip(frac, -0.5, 0.5) * prm.sample_step_px
    valid = line_ok & (peak >= np.maximum(prm.min_edge_contrast, prm.edge_to_noise * noise))
    if np.any(valid):
        valid &= peak >= 0.35 * float(np.max(peak[valid]))
    if np.count_nonzero(valid) < 3:
        return None
    o, e = offs[valid], pos[valid]
    if _straight(o, e, half_width, prm):
        raise FootOutlineError(RAW_STRAIGHT_EDGE)
    o, e = _outline_run(o, e, half_width / prm.line_half_width, prm)
    return _apex_of_crossings(o, e, start, c, p, prm)


def _outline_run(
    o: FloatArray, e: FloatArray, s: float, prm: HeelRefineParams
) -> tuple[FloatArray, FloatArray]:
    """The crossings that form one continuous outline around the apex.

    A heel's outline is continuous: neighbouring lines cross it at nearby depths. A crossing
    far from its neighbours' median is a speck (grain, a stray edge) and is dropped; where
    whole groups of lines jump apart, they are different contours (background texture where
    the heel's own edge is faint) and the longest continuous run is the heel's. That run must
    have reached the apex: either its most caudal crossing lies inside it, or it ends on a
    flat top of several lines. A run still climbing at its end never found the apex, and no
    heel point can be given.
    """
    jump = prm.max_outline_jump * s
    near = np.abs(o[:, None] - o[None, :]) <= _NEIGHBOUR_LINES * prm.line_step_px + 1e-6
    np.fill_diagonal(near, False)
    local = _neighbour_medians(e, near)
    speck = (near.sum(axis=1) >= 2) & (np.abs(e - local) > jump)
    o, e = o[~speck], e[~speck]
    # Lines without a valid edge may leave gaps (even across the apex); only a jump in depth
    # separates two contours.
    breaks = np.flatnonzero(np.abs(np.diff(e)) > jump)
    best = max(np.split(np.arange(o.size), breaks + 1), key=len)
    eb = e[best]
    # Enough of the outline to hold an apex: a quarter of the foot scale across, and some
    # curvature (a run at one depth throughout is a straight segment, not a heel).
    if (
        best.size < _MIN_OUTLINE_LINES
        or np.ptp(o[best]) < prm.min_outline_span * s
        or np.ptp(eb) < _FLAT_TOP_PX
    ):
        raise FootOutlineError(RAW_BROKEN_OUTLINE)
    top = int(np.argmax(eb))
    flat_top = int(np.count_nonzero(eb >= eb.max() - _FLAT_TOP_PX))
    if top in (0, best.size - 1) and flat_top < _MIN_OUTLINE_LINES:
        raise FootOutlineError(RAW_BROKEN_OUTLINE)
    return o[best], eb


def _neighbour_medians(e: FloatArray, near: npt.NDArray[np.bool_]) -> FloatArray:
    """Row i: the median of `e` over the columns `near[i]` marks (NaN where none).

    Exactly np.nanmedian(np.where(near, e, nan), axis=1) (the middle value, or the mean of
    the two middle ones as (lo + hi) / 2), without its masked-array path: that took ~2 ms
    a heel at 1080p, a sixth of the refinement.
    """
    k = near.sum(axis=1)
    ranked = np.sort(np.where(near, e[None, :], np.inf), axis=1)
    hi = k // 2
    lo = np.where(k % 2 == 1, hi, hi - 1).clip(0)
    two = np.take_along_axis(ranked, np.stack([lo, hi.clip(max=max(near.shape[1] - 1, 0))], 1), 1)
    return np.where(k > 0, (two[:, 0] + two[:, 1]) / 2.0, np.nan)


_NEIGHBOUR_LINES = 3
_FLAT_TOP_PX = 1.0
_MIN_OUTLINE_LINES = 5


_MIN_STRAIGHT_LINES = 8


def _straight(o: FloatArray, e: FloatArray, half_width: float, prm: HeelRefineParams) -> bool:
    """True when most of the crossings lie on one straight line across the heel's width: a
    heel's outline is round (its sides recede from the apex), a towel's edge or a line on
    the floor is straight, at whatever angle it crosses the foot.

    Judged on the largest set of crossings within `max_straight_residual_px` of one line
    (every line through two crossings is tried), not on a least-squares fit of all of them:
    a dark band across the middle of the search with the heel's sides showing beside it
    pulls a fit off the band, and the band was then taken for the heel. Straight when that
    set spans most of the search width (both sides of the heel): the heel's caudal outline
    alone is nearly flat only across its middle.
    """
    span_needed = prm.straight_span_fraction * 2 * half_width
    if o.size < _MIN_STRAIGHT_LINES or np.ptp(o) < span_needed:
        return False
    if not _may_hold_straight_stretch(o, e, span_needed, prm.max_straight_residual_px):
        return False
    return _straight_by_pairs(o, e, span_needed, prm)


def _straight_by_pairs(
    o: FloatArray, e: FloatArray, span_needed: float, prm: HeelRefineParams
) -> bool:
    """The search behind `_straight`: lines through every pair of crossings far apart."""
    i, j = np.triu_indices(o.size, k=1)
    far = np.abs(o[j] - o[i]) >= 0.25 * span_needed  # steady slopes, not from neighbours
    i, j = i[far], j[far]
    slope = (e[j] - e[i]) / (o[j] - o[i])
    # (pairs, crossings): distance along the caudal direction of each crossing from each line
    residual = np.abs(e[None, :] - (e[i, None] + slope[:, None] * (o[None, :] - o[i, None])))
    inliers = residual <= prm.max_straight_residual_px
    o_in = np.where(inliers, o[None, :], np.nan)
    with np.errstate(all="ignore"):
        spans = np.nanmax(o_in, axis=1) - np.nanmin(o_in, axis=1)
    counts = inliers.sum(axis=1)
    candidates = np.flatnonzero((counts >= _MIN_STRAIGHT_LINES) & (spans >= span_needed))
    # The straight edge must be one stretch of neighbouring crossings: the two sides of a
    # round heel at one depth lie on a common line too, with the apex between them off it.
    order = np.argsort(o)
    for k in candidates[np.argsort(-counts[candidates])][:_STRAIGHT_CANDIDATES]:
        if _longest_stretch(o[order], inliers[k, order], prm) >= span_needed:
            return True
    return False


_STRAIGHT_CANDIDATES = 8


def _may_hold_straight_stretch(
    o: FloatArray, e: FloatArray, span_needed: float, residual_px: float
) -> bool:
    """A cheap necessary condition for `_straight` (whose pair search costs ~1-2 ms a heel).

    A straight stretch spanning `span_needed` holds a run of consecutive crossings, from its
    first one to the first one `span_needed` away, all within `residual_px` of one line. No
    line comes within r of three points when the middle one lies more than 2 r from the
    chord of the outer two, so every crossing of such a run lies within 2 * residual_px of
    the run's end-to-end chord. A round heel's run bulges several px off it.
    """
    order = np.argsort(o)
    os_, es_ = o[order], e[order]
    n = os_.size
    ends = np.searchsorted(os_, os_ + span_needed - 1e-9)
    starts = np.flatnonzero(ends < n)
    if starts.size == 0:
        return False
    width = int(np.max(ends[starts] - starts)) + 1
    idx = np.minimum(starts[:, None] + np.arange(width)[None, :], n - 1)
    inside = idx <= ends[starts][:, None]
    o0, e0 = os_[starts][:, None], es_[starts][:, None]
    o1, e1 = os_[ends[starts]][:, None], es_[ends[starts]][:, None]
    chord = e0 + (e1 - e0) * (os_[idx] - o0) / (o1 - o0)
    off = np.where(inside, np.abs(es_[idx] - chord), 0.0)
    return bool(np.any(np.max(off, axis=1) <= 2.0 * residual_px + 1e-9))


def _longest_stretch(
    o_sorted: FloatArray, member: npt.NDArray[np.bool_], prm: HeelRefineParams
) -> float:
    """Lateral extent of the longest run of members, gaps of up to 2 lines without a
    crossing allowed (lines without a clear edge), any non-member crossing ending it."""
    best, start, last = 0.0, None, None
    for x, m in zip(o_sorted, member, strict=True):
        if m and start is not None and last is not None and x - last <= 2 * prm.line_step_px + 1e-6:
            last = x
        elif m:
            start = last = x
        else:
            start = last = None
        if start is not None and last is not None:
            best = max(best, last - start)
    return best


def _outermost_edge(
    mag: FloatArray, fraction: float, allowed: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Per line, the sample index of the most caudal strong local maximum of `mag` among
    the `allowed` samples, and whether the line has one.

    A maximum must be one of the whole profile, not of the allowed stretch: an edge that
    keeps rising past the stretch's end (a dark band just beyond the heel) has its peak
    outside, and the stretch's last sample is no edge at all.

    A heel's outline is a shaded rim: skin -> darker rim -> background. The skin-to-rim
    step can be stronger than the rim-to-background step (when the rim's colour is close
    to the background's), so the strongest edge may be the rim's INNER side, a few px
    short of the silhouette. The silhouette is the outermost edge of comparable strength.
    """
    inner = mag[:, 1:-1]
    ok = allowed[:, 1:-1]
    is_peak = (inner >= mag[:, :-2]) & (inner > mag[:, 2:]) & ok
    top = np.where(is_peak, inner, 0.0).max(axis=1, keepdims=True)
    cand = is_peak & (inner >= fraction * top)
    last = inner.shape[1] - 1 - np.argmax(cand[:, ::-1], axis=1)
    found = cand.any(axis=1)
    k = np.where(found, last, 0)
    return np.asarray(k + 1, dtype=np.intp), found


def _apex_of_crossings(
    o: FloatArray,
    e: FloatArray,
    start: FloatArray,
    c: FloatArray,
    p: FloatArray,
    prm: HeelRefineParams,
) -> FloatArray:
    """The caudal apex of the edge crossings e(o): a parabola over the top of the outline.

    Taking the single furthest line would bias the point caudally (max of noisy values) and
    pick an arbitrary lateral spot on a flat heel; the parabola through all crossings near
    the top averages the noise and puts the apex where the outline turns.
    """
    top = e >= e.max() - prm.apex_depth_px
    ot, et = o[top], e[top]
    if np.count_nonzero(top) >= 3 and np.ptp(ot) > 2 * prm.line_step_px:
        coef = np.polyfit(ot, et, 2)
        if coef[0] < 0:
            ov = float(np.clip(-coef[1] / (2 * coef[0]), ot.min(), ot.max()))
        else:  # flat or noisy top: its middle
            ov = float(np.mean(ot))
        ev = float(np.polyval(coef, ov))
        return np.asarray(start + c * ev + p * ov)
    best = int(np.argmax(e))
    return np.asarray(start + c * float(e[best]) + p * float(o[best]))


def _on_heel_midline(heel: FloatArray, extremity: FloatArray, c: FloatArray) -> FloatArray:
    """The extremity's caudal coordinate on the landmark's lateral line.

    The heel's caudal outline is nearly flat across the heel, so WHERE along it the
    extremity lies is ill-conditioned (noise moves it by many px), while the model, which
    sees the whole foot, puts its heel landmark on the heel's mid-line within ~1-2 px.
    Only the caudal coordinate matters for the heel line; it comes from the edge.
    """
    return np.asarray(heel + c * float(np.dot(extremity - heel, c)))


def refine_heel(
    image_bgr: npt.NDArray[np.uint8],
    heel_px: FloatArray,
    ankle_px: FloatArray,
    caudal_dir_px: npt.ArrayLike,
    mask: MaskPatch | npt.NDArray[np.float32] | None = None,
    view_ok: bool = True,
    params: HeelRefineParams | None = None,
) -> HeelResult:
    """The heel's caudal extremity near the model's heel landmark, with its status.

    `caudal_dir_px` is the image direction toward the feet (unit, any length accepted).
    The status is "refined-edge", "refined-mask" or "raw-landmark (<reason>)".
    """
    prm = params or HeelRefineParams()
    heel = np.asarray(heel_px, dtype=np.float64)
    if not view_ok:
        return _raw(heel, "oblique view: the heel's caudal extremity is not on the silhouette")
    c = unit_vector(caudal_dir_px)
    p = np.array([-c[1], c[0]])
    s = float(np.hypot(*(heel - np.asarray(ankle_px, dtype=np.float64))))
    if not np.isfinite(s) or s < prm.min_foot_scale_px:
        return _raw(heel, "foot too small in the image to refine")
    if isinstance(mask, np.ndarray):
        mask = MaskPatch(np.asarray(mask, dtype=np.float32))
    coarse = None
    if mask is not None:
        size = (int(image_bgr.shape[1]), int(image_bgr.shape[0]))
        try:
            coarse = _mask_extremity(mask, size, heel, c, p, s, prm)
        except FootOutlineError as exc:
            return _raw(heel, str(exc))
    try:
        return _refine_from(image_bgr, heel, coarse, mask, c, p, s, prm)
    except FootOutlineError as exc:
        return _raw(heel, str(exc))


def _refine_from(
    image_bgr: npt.NDArray[np.uint8],
    heel: FloatArray,
    coarse: FloatArray | None,
    mask: MaskPatch | None,
    c: FloatArray,
    p: FloatArray,
    s: float,
    prm: HeelRefineParams,
) -> HeelResult:
    """Edge apex from the mask's coarse extremity, or from the landmark without a mask."""
    if coarse is not None:
        apex = _edge_apex(
            image_bgr,
            coarse,
            c,
            p,
            prm.edge_window_back * s,
            prm.edge_window_ahead * s,
            prm.line_half_width * s,
            prm,
            mask=mask,
            mask_tolerance=prm.mask_edge_tolerance * s,
        )
        if apex is not None:
            return HeelResult(_on_heel_midline(heel, apex, c), STATUS_EDGE)
        return HeelResult(_on_heel_midline(heel, coarse, c), STATUS_MASK)
    apex = _edge_apex(
        image_bgr,
        heel,
        c,
        p,
        prm.edge_window_back * s,
        prm.seed_window_ahead * s,
        prm.line_half_width * s,
        prm,
    )
    if apex is not None:
        return HeelResult(_on_heel_midline(heel, apex, c), STATUS_EDGE)
    reason = "no foot silhouette and no edge near the heel" if mask is not None else "no edge"
    return _raw(heel, reason)
