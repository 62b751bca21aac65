"""Coloured round stickers (heels, PSIS): detection with sub-pixel centres, left/right labels.

Detection does not need the pose model: a colour test finds candidate blobs, which are
kept when their size and roundness fit a disc. The colour test works on colours relative to
the table markers' white and black squares (pose/photometry.py), with relative tolerances,
so that a dim room, a bright window or a warm lamp does not lose the stickers, and a colour
channel that clipped counts as "at least this bright" (`StickerColour`).

The centre is not the binary blob's centroid (which moves by whole pixels as the threshold
flips edge pixels) but a colour-unmixing centroid: every pixel around the blob gets the
fraction of sticker colour it contains (its position between the local background colour and
the sticker's core colour), and the centre is the fraction-weighted mean position. Edge
pixels thereby count by how much of the disc they cover, which makes the centre sub-pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.pose.errors import PoseError
from sotmeasure.pose.photometry import CLIP_LEVEL, Photometry, to_levels, to_linear

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StickerColour:
    """A sticker colour relative to the marker white, with relative tolerances.

    `rgb` is the 8-bit colour the sticker has in an image whose marker white reads 255 in
    every channel, i.e. exposure and white balance taken out (pose/photometry.py). A pixel is
    the sticker's colour when some brightness `s` (between `min_brightness` and
    `max_brightness` times the calibrated one: shading, a brighter or dimmer light) makes
    every channel of its linear colour match `s` times the sticker's within `tolerance` of
    the sticker's brightest channel. A channel that clipped only says "at least": it must not
    be darker than the sticker would make it, which keeps a bright blue whose blue clipped a
    blue (a hue test took it for cyan). A pixel with all three channels clipped is white.
    `max_white_share` bounds the brightness from above in the markers' terms: a sticker lit
    by the table's light is not brighter than that share of the marker paper in any channel
    (the margin covers a glossy sticker, one facing the light more squarely, and a white
    estimated from its black). Without it a pixel whose strong channel clipped could be any
    pale colour.
    """

    rgb: tuple[int, int, int]
    tolerance: float = 0.25
    min_brightness: float = 0.4
    max_white_share: float = 1.5

    def linear_bgr(self) -> FloatArray:
        """The colour as linear light relative to the marker white, BGR."""
        r, g, b = self.rgb
        return to_linear((b, g, r))

    def loosened(self) -> StickerColour:
        """A wider test that finds the stickers when their colour is only roughly known
        (auto-calibration), still not grey, skin or white."""
        return StickerColour(self.rgb, tolerance=0.4, min_brightness=0.15, max_white_share=2.0)

    def accepts(
        self, relative: FloatArray, clipped: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """Which colours (N, 3) BGR, linear relative to the marker white, are this sticker's.

        For each channel the brightnesses `s` that fit form an interval; the colour fits when
        the intervals of its three channels and the brightness range overlap."""
        t = self.linear_bgr()
        slack = self.tolerance * float(t.max())
        lo = np.full(len(relative), self.min_brightness)
        hi = np.full(len(relative), self.max_white_share / max(float(t.max()), 1e-6))
        for c in range(3):
            n = relative[:, c]
            lo = np.maximum(lo, n / (t[c] + slack))  # s (t + slack) >= n: clipped or not
            if t[c] > slack:  # unclipped: s (t - slack) <= n
                hi = np.where(clipped[:, c], hi, np.minimum(hi, n / (t[c] - slack)))
        return (lo <= hi) & ~clipped.all(axis=1)


#: Levels per channel of the colour table (8-bit levels binned by 8: 32^3 entries, 32 kB,
#: which stay in the processor's cache; 64^3 made the look-up 3x slower).
_SHIFT = 3
_BINS = 256 >> _SHIFT
#: A pixel whose brightest channel is below this 8-bit level has no colour to test: its
#: channels are a few levels apart, noise and compression decide its hue (a dark blue-grey
#: table under a dim light would otherwise pass for a blue sticker).
MIN_LEVEL = 40.0


class ColourTable:
    """Which 8-bit camera colours are which sticker's, for one camera reference.

    The test of `StickerColour.accepts` is worked out once for every colour of a 32-level
    grid per channel (32^3 entries) and kept as bit flags; a frame's masks are then a table
    look-up per pixel (~10 ms for both colours of a 1080p frame, about what the HSV
    conversion and thresholds it replaces took, instead of the test itself on 2 Mpx).
    Binning by 8 levels moves a colour by at most 4 levels, inside the tolerances above
    `MIN_LEVEL` (darker pixels have no colour to test); bins reaching `CLIP_LEVEL` count as
    clipped.
    """

    def __init__(self, colours: Sequence[StickerColour], photometry: Photometry | None) -> None:
        if len(colours) > 8:
            raise ValueError("at most 8 colours in one table")
        self.photometry = photometry or Photometry.full_scale()
        levels = np.arange(_BINS, dtype=np.float64) * (1 << _SHIFT) + (1 << _SHIFT) / 2 - 0.5
        b, g, r = np.meshgrid(levels, levels, levels, indexing="ij")
        bgr = np.stack([b.ravel(), g.ravel(), r.ravel()], axis=1)
        clipped = bgr + (1 << _SHIFT) / 2 >= CLIP_LEVEL
        rel = self.photometry.relative(bgr)
        lit = bgr.max(axis=1) >= MIN_LEVEL
        flags = np.zeros(len(bgr), np.uint8)
        for k, colour in enumerate(colours):
            flags |= (colour.accepts(rel, clipped) & lit).astype(np.uint8) << k
        self._flags = flags
        self.colours = tuple(colours)

    def masks(self, image_bgr: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.uint8]]:
        """One mask per colour (255 where the pixel has that colour)."""
        # whole-plane operations on contiguous channels (~2x faster than on the BGR views),
        # a 16-bit index (numpy's fancy indexing is ~3x faster with it than np.take)
        b, g, r = (np.asarray(c, np.uint8) for c in cv2.split(image_bgr))
        idx = (b >> _SHIFT).astype(np.uint16) << (16 - 2 * _SHIFT)
        idx |= (g >> _SHIFT).astype(np.uint16) << (8 - _SHIFT)
        idx |= r >> _SHIFT
        flags = self._flags[idx]
        masks = []
        for k in range(len(self.colours)):
            bit = np.bitwise_and(flags, np.uint8(1 << k))
            masks.append(np.asarray(cv2.threshold(bit, 0, 255, cv2.THRESH_BINARY)[1], np.uint8))
        return masks


HEEL_GREEN = StickerColour((20, 220, 40))
PSIS_BLUE = StickerColour((30, 90, 255))


@dataclass(frozen=True, slots=True)
class StickerBlobParams:
    """Which blobs count as a disc sticker."""

    min_area_px: float = 20.0  # a 20 mm disc at >= 0.25 px/mm
    max_area_px: float = 20000.0
    min_circularity: float = 0.6  # 4*pi*area/perimeter^2 (outline smoothed by 1 px)
    max_axis_ratio: float = 3.0  # ellipse major/minor (oblique views flatten discs)


@dataclass(frozen=True, slots=True)
class Sticker:
    """One detected sticker: sub-pixel centre, blob area, roundness, and the median camera
    colour (BGR, 8-bit) of its core (what auto-calibration measures)."""

    centre_px: FloatArray
    area_px: float
    circularity: float
    core_bgr: FloatArray


def _unmixed_centroid(
    img_roi: npt.NDArray[np.uint8], blob: npt.NDArray[np.uint8], origin: tuple[int, int]
) -> tuple[FloatArray, FloatArray] | None:
    """Colour-unmixing centroid of one blob and its core colour; `img_roi`/`blob` cover the
    same padded box."""
    img = img_roi.astype(np.float64)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    core = cv2.erode(blob, kernel)
    near = cv2.dilate(blob, kernel, iterations=2)
    ring = (cv2.dilate(blob, kernel, iterations=4) > 0) & (
        cv2.dilate(blob, kernel, iterations=3) == 0
    )
    if not core.any() or not ring.any():
        return None
    fg = np.median(img[core > 0], axis=0)
    bg = np.median(img[ring], axis=0)
    d = fg - bg
    dd = float(d @ d)
    if dd < 100.0:  # sticker indistinguishable from its surroundings
        return None
    alpha = np.clip(((img - bg) @ d) / dd, 0.0, 1.0) * (near > 0)
    total = float(alpha.sum())
    if total <= 0:
        return None
    ys, xs = np.mgrid[0 : blob.shape[0], 0 : blob.shape[1]]
    x0, y0 = origin
    centre = np.array([(alpha * xs).sum() / total + x0, (alpha * ys).sum() / total + y0])
    return centre, fg


def _window(
    labels: npt.NDArray[np.int32], origin: tuple[int, int], x0: int, y0: int, x1: int, y1: int
) -> npt.NDArray[np.int32]:
    """Labels of frame pixels [y0:y1, x0:x1] from `labels` placed at `origin` (0 outside)."""
    out = np.zeros((y1 - y0, x1 - x0), np.int32)
    ox, oy = origin
    h, w = labels.shape
    ax0, ay0, ax1, ay1 = max(x0, ox), max(y0, oy), min(x1, ox + w), min(y1, oy + h)
    if ax1 > ax0 and ay1 > ay0:
        out[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = labels[
            ay0 - oy : ay1 - oy, ax0 - ox : ax1 - ox
        ]
    return out


def find_stickers(
    image_bgr: npt.NDArray[np.uint8],
    colour: StickerColour,
    params: StickerBlobParams | None = None,
    photometry: Photometry | None = None,
    mask: npt.NDArray[np.uint8] | None = None,
    limit: int | None = None,
) -> list[Sticker]:
    """All disc-like blobs of `colour` (relative to the marker white of `photometry`),
    largest first. `mask`: the colour's mask, if already made (`ColourTable.masks`).
    `limit`: only the largest this many (blobs are tried largest first, so the answer is the
    head of the full list; a frame's specks of sticker-like colour then cost nothing)."""
    prm = params or StickerBlobParams()
    m = ColourTable([colour], photometry).masks(image_bgr)[0] if mask is None else mask
    m = np.asarray(cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)), np.uint8)
    # Compressed video codes colour per 2x2 block: a block of a sticker whose colour rang
    # outside the test leaves a hole or a notch that breaks the disc's roundness.
    m = np.asarray(cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)), np.uint8)
    # Blobs are labelled inside the box holding every pixel of the colour, not over the
    # whole frame: labelling 2 Mpx took two thirds of sticker mode's time at 1080p.
    bx, by, bw, bh = cv2.boundingRect(m)
    if bw == 0 or bh == 0:
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        m[by : by + bh, bx : bx + bw], connectivity=8
    )
    stats[:, 0] += bx
    stats[:, 1] += by
    out: list[Sticker] = []
    for i in sorted(range(1, n), key=lambda j: -int(stats[j, cv2.CC_STAT_AREA])):
        if limit is not None and len(out) >= limit:
            break
        area = float(stats[i, cv2.CC_STAT_AREA])
        if not prm.min_area_px <= area <= prm.max_area_px:
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        pad = max(6, w // 2, h // 2)  # room for the background ring around the disc
        x0, y0 = max(0, x - pad), max(0, y - pad)
        x1, y1 = min(m.shape[1], x + w + pad), min(m.shape[0], y + h + pad)
        window = _window(np.asarray(labels, np.int32), (bx, by), x0, y0, x1, y1)
        blob = (window == i).astype(np.uint8) * 255
        contours, _ = cv2.findContours(blob.copy(), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if not contours:
            continue
        cnt = max(contours, key=cv2.contourArea)
        # the outline smoothed by a pixel: the staircase of pixel edges and one-pixel bumps
        # of noise or compression do not lengthen it, a ragged or elongated blob still is long
        perim = cv2.arcLength(cv2.approxPolyDP(cnt, 1.0, True), True)
        circ = 4 * np.pi * area / (perim * perim) if perim > 0 else 0.0
        if circ < prm.min_circularity:
            continue
        if len(cnt) >= 5:
            (_, _), (a1, a2), _ = cv2.fitEllipse(cnt)
            if min(a1, a2) <= 0 or max(a1, a2) / min(a1, a2) > prm.max_axis_ratio:
                continue
        found = _unmixed_centroid(image_bgr[y0:y1, x0:x1], blob, (x0, y0))
        if found is None:
            continue
        out.append(Sticker(found[0], area, float(circ), found[1]))
    return out


def patient_right_dir(caudal_dir_px: npt.ArrayLike) -> FloatArray:
    """Image direction of the patient's right, for a prone patient seen from above.

    Table frame (PROVENANCE): x toward the feet, y toward the patient's right (prone), z up,
    right-handed. A camera above the table looking down, with an unmirrored image (x right,
    y down), sees that frame with a reflection, so the image direction of +y is the caudal
    direction turned by -90 degrees in image coordinates: (cx, cy) -> (cy, -cx).
    (Feet toward image right, (1, 0), gives patient right = image up, (0, -1).)
    A mirrored ("selfie") webcam image breaks this: do not mirror the camera.
    """
    c = np.asarray(caudal_dir_px, dtype=np.float64)
    n = float(np.hypot(c[0], c[1]))
    return np.array([c[1], -c[0]]) / n


def label_pair(stickers: list[Sticker], right_dir_px: FloatArray) -> tuple[Sticker, Sticker] | None:
    """(left, right) from the two largest stickers by their order along the right direction."""
    if len(stickers) < 2:
        return None
    a, b = stickers[0], stickers[1]
    if float(np.dot(a.centre_px - b.centre_px, right_dir_px)) > 0:
        return b, a
    return a, b


class StickerColourError(PoseError):
    """The stickers whose colour was to be measured were not found (or not measurable)."""


#: A sticker's core at or above this level in a channel has clipped: no colour to measure.
_CORE_CLIPPED = 254.0


def calibrate_sticker_colour(
    images: Sequence[npt.NDArray[np.uint8]],
    guess: StickerColour,
    photometry: Photometry,
    what: str,
    params: StickerBlobParams | None = None,
) -> StickerColour:
    """The colour of a pair of stickers (relative to the marker white), measured in `images`.

    In each image the two largest discs of roughly the `guess` colour (a looser test, see
    `StickerColour.loosened`) are the pair; the colour is the median of their cores over
    every image that shows both. Refused (StickerColourError, naming `what`) when fewer than
    half of the images show the pair, or when their cores clipped (over-exposed: a clipped
    colour is not the sticker's).
    """
    cores: list[FloatArray] = []
    shown = 0
    for image in images:
        found = find_stickers(image, guess.loosened(), params, photometry)
        if len(found) >= 2:
            shown += 1
            cores += [s.core_bgr for s in found[:2]]
    hex_guess = "#{:02x}{:02x}{:02x}".format(*guess.rgb)
    if not images or shown * 2 < len(images):
        raise StickerColourError(
            f"the {what} stickers were not found: two discs of about the colour {hex_guess} "
            f"were seen in {shown} of {len(images)} frame(s); both stickers must be in view "
            "and roughly of that colour"
        )
    core = np.median(np.stack(cores), axis=0)
    if (core >= _CORE_CLIPPED).any():
        raise StickerColourError(
            f"the {what} stickers are over-exposed (a colour channel at 255): their colour "
            "cannot be measured; use a recording with less light or a shorter exposure"
        )
    b, g, r = (round(float(v)) for v in to_levels(photometry.relative(core)))
    return StickerColour((r, g, b), guess.tolerance, guess.min_brightness, guess.max_white_share)
