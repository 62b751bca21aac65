"""The foot's own part of the person mask around a heel: the mask cut where it bridges the
floor to something else.

The model's person mask is coarse (its ~256 px crop of the body, upsampled), and where an
object lies close beyond a heel it can run from the heel over the floor between them into
the object. Seen: pre_block with a second person pasted 40 mm beyond the heels (a
practitioner standing at the foot end); the left heel's mask ran over ~30 px of floor into
the other person's shoe, its extremity lay on the shoe, and the edge search, kept near the
mask's outline, took the shoe's edge for the heel (42 px, ~65 mm beyond it). The
heel-disagreement check rejected those frames, so the recording was refused; a heel
measured on such a mask would have been wrong.

The image tells what the mask cannot: a bridge over the floor shows the floor's colour. A
mask pixel whose colour lies within `background_fraction` of the foot-to-background colour
distance from the background's colour is not the foot. The foot is the connected part of
the remaining mask that holds the foot behind the heel landmark. The mask is cut only when
a part apart from the foot lies farther from it than `near_part` foot scales (twice the
edge search's reach beyond the mask: a thing the mask reached over the floor; the person
at the feet's shoe lay 0.75-1.0 s away): then everything apart from the foot is dropped,
shoe and islands over floor lines alike, and what remains is widened back by `regrow` foot
scales (the shaded rim, anti-aliasing, the mask's own softness), so on the heel's own
outline the mask is the model's and the edge search, kept near the mask's outline, looks
at the heel. Where colour cannot tell (too little foot-background contrast against the
background's own noise, too few samples), or nothing lies far apart, the mask is left as
the model gave it.

Tried and not kept (bench/robustness.py): cutting near parts too (a soft dark band 5-10 mm
beyond a heel lay 0.03-0.25 s away): on rotated_body with the bench's dark band the search
then took the band's far edge in enough frames to measure, LLD 11 mm off with a CI missing
the truth (refused before); and limiting the edge search to a sample step beyond the cut
mask's end, which turned such frames into heel points 6-7 mm beyond the heel marked
"refined-edge".

Accepted risk: a floor-coloured stripe lying fully across the heel (a sock the floor's
colour) would cut the heel's cap off the foot; the cap then is not searched and the heel
point falls short, which the two-heel and over-time agreement checks are there to catch.

All sizes are in foot scales s (|heel - ankle| landmark distance) and colours are judged
against the foot-to-background contrast, not in absolute units: resolution, exposure and
contrast changes scale both alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.pose.heel_refine import FloatArray, MaskPatch


@dataclass(frozen=True, slots=True)
class FootMaskParams:
    """Sizes in foot scales s, colour thresholds relative to the foot-background contrast."""

    background_fraction: float = 0.3  # colour this near the background's (x contrast): floor
    min_contrast: float = 15.0  # foot-background colour distance (0-255) colour can use
    contrast_to_noise: float = 4.0  # ... and at least this x the background's own spread
    foot_behind: tuple[float, float] = (-1.0, -0.25)  # foot colour: along the foot (x s)
    foot_half_width: float = 0.35  # ... within this lateral half-width (x s)
    background_along: tuple[float, float] = (-0.3, 1.2)  # background: beyond the heel (x s)
    background_half_width: float = 0.9
    min_samples: int = 30  # colour samples needed for each of foot and background
    regrow: float = 0.1  # the foot's part is widened back by this (x s)
    # Parts apart from the foot no farther than this (x s) are kept: the edge search reaches
    # `regrow` + HeelRefineParams.mask_edge_tolerance (0.15) beyond the foot's mask anyway.
    near_part: float = 0.25
    smooth_sigma_px: float = 1.0  # colour noise averaged before judging a pixel
    mask_threshold: float = 0.5
    outside_threshold: float = 0.1  # background samples: mask below this


def foot_only_mask(
    image_bgr: npt.NDArray[np.uint8],
    mask: MaskPatch,
    heel: FloatArray,
    ankle: FloatArray,
    caudal: FloatArray,
    params: FootMaskParams | None = None,
) -> MaskPatch:
    """`mask` keeping only the heel's own foot (see module docstring); the same `mask` object
    when colour cannot tell or nothing lies apart from the foot."""
    prm = params or FootMaskParams()
    h_img, w_img = image_bgr.shape[:2]
    ph, pw = mask.values.shape
    ox, oy = mask.origin
    x1, y1 = min(w_img, ox + pw), min(h_img, oy + ph)
    if x1 - ox < 3 or y1 - oy < 3:
        return mask
    s = float(np.hypot(*(np.asarray(heel) - np.asarray(ankle))))
    if not np.isfinite(s) or s <= 0:
        return mask
    values = mask.values[: y1 - oy, : x1 - ox]
    inside = values >= prm.mask_threshold
    c = np.asarray(caudal, dtype=np.float32)
    p = np.array([-c[1], c[0]], dtype=np.float32)
    xs = np.arange(ox, x1, dtype=np.float32) - np.float32(heel[0])
    ys = np.arange(oy, y1, dtype=np.float32) - np.float32(heel[1])
    along = xs[None, :] * c[0] + ys[:, None] * c[1]
    across = np.abs(xs[None, :] * p[0] + ys[:, None] * p[1])
    image = cv2.GaussianBlur(
        image_bgr[oy:y1, ox:x1].astype(np.float32), (0, 0), prm.smooth_sigma_px
    )
    foot_zone = (
        (along >= prm.foot_behind[0] * s)
        & (along <= prm.foot_behind[1] * s)
        & (across <= prm.foot_half_width * s)
        & inside
    )
    back_zone = (
        (along >= prm.background_along[0] * s)
        & (along <= prm.background_along[1] * s)
        & (across <= prm.background_half_width * s)
        & (values < prm.outside_threshold)
    )
    if foot_zone.sum() < prm.min_samples or back_zone.sum() < prm.min_samples:
        return mask
    foot_colour = np.median(image[foot_zone], axis=0)
    back_colour = np.median(image[back_zone], axis=0)
    diff = image - back_colour.astype(np.float32)
    to_back_sq = np.einsum("ijk,ijk->ij", diff, diff)  # squared: no root over the patch
    contrast = float(np.linalg.norm(foot_colour - back_colour))
    spread = 1.4826 * float(np.median(np.sqrt(to_back_sq[back_zone])))
    if contrast < max(prm.min_contrast, prm.contrast_to_noise * spread):
        return mask
    solid = inside & (to_back_sq > (prm.background_fraction * contrast) ** 2)
    n, labels = cv2.connectedComponents(solid.astype(np.uint8), connectivity=8)
    counts = np.bincount(labels[foot_zone & solid], minlength=n)
    counts[0] = 0
    foot_label = int(np.argmax(counts))
    if counts[foot_label] == 0:
        return mask
    apart = (labels != foot_label) & solid
    if not np.any(apart):
        return mask
    # Parts the edge search could reach anyway (a band or a line just beyond the heel) stay
    # as the model gave them; only parts the mask reached over the floor are cut away.
    to_foot = cv2.distanceTransform((labels != foot_label).astype(np.uint8), cv2.DIST_L2, 5)
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, labels[apart], to_foot[apart])
    far = np.isfinite(nearest) & (nearest > prm.near_part * s)  # the foot's own: inf
    if not np.any(far):
        return mask
    radius = max(1, round(prm.regrow * s))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    keep = cv2.dilate((solid & ~far[labels]).astype(np.uint8), kernel) > 0
    out = mask.values.copy()
    out[: y1 - oy, : x1 - ox] = np.where(keep, values, 0.0)
    return MaskPatch(out, mask.origin)
