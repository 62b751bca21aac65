"""Coloured round stickers (heels, PSIS): detection with sub-pixel centres, left/right labels.

Detection does not need the pose model: an HSV threshold finds candidate blobs, which are
kept when their size and roundness fit a disc. The centre is not the binary blob's
centroid (which moves by whole pixels as the threshold flips edge pixels) but a
colour-unmixing centroid: every pixel around the blob gets the fraction of sticker colour
it contains (its position between the local background colour and the sticker's core
colour), and the centre is the fraction-weighted mean position. Edge pixels thereby count
by how much of the disc they cover, which is what makes the centre sub-pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StickerColour:
    """A sticker colour as RGB plus an HSV tolerance (OpenCV units: H 0-179, S/V 0-255)."""

    rgb: tuple[int, int, int]
    hue_tolerance: int = 10
    min_saturation: int = 110
    min_value: int = 70

    @property
    def hue(self) -> int:
        r, g, b = self.rgb
        hsv = cv2.cvtColor(np.array([[[b, g, r]]], dtype=np.uint8), cv2.COLOR_BGR2HSV)
        return int(hsv[0, 0, 0])

    def mask(self, hsv: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """255 where a pixel has this colour (hue wrap-around handled)."""
        lo, hi = self.hue - self.hue_tolerance, self.hue + self.hue_tolerance
        ranges = [(max(lo, 0), min(hi, 179))]
        if lo < 0:
            ranges.append((lo + 180, 179))
        if hi > 179:
            ranges.append((0, hi - 180))
        out = np.zeros(hsv.shape[:2], np.uint8)
        for a, b in ranges:  # cv2.inRange: ~10x faster than numpy on a full frame
            low = np.array([a, self.min_saturation, self.min_value], np.uint8)
            high = np.array([b, 255, 255], np.uint8)
            out |= np.asarray(cv2.inRange(hsv, low, high), np.uint8)
        return out


HEEL_GREEN = StickerColour((20, 220, 40))
PSIS_BLUE = StickerColour((30, 90, 255))


@dataclass(frozen=True, slots=True)
class StickerBlobParams:
    """Which blobs count as a disc sticker."""

    min_area_px: float = 20.0  # a 20 mm disc at >= 0.25 px/mm
    max_area_px: float = 20000.0
    min_circularity: float = 0.6  # 4*pi*area/perimeter^2 of the thresholded blob
    max_axis_ratio: float = 3.0  # ellipse major/minor (oblique views flatten discs)


@dataclass(frozen=True, slots=True)
class Sticker:
    """One detected sticker: sub-pixel centre, blob area, roundness."""

    centre_px: FloatArray
    area_px: float
    circularity: float


def _unmixed_centroid(
    img_roi: npt.NDArray[np.uint8], blob: npt.NDArray[np.uint8], origin: tuple[int, int]
) -> FloatArray | None:
    """Colour-unmixing centroid of one blob; `img_roi`/`blob` cover the same padded box."""
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
    return np.array([(alpha * xs).sum() / total + x0, (alpha * ys).sum() / total + y0])


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
    hsv: npt.NDArray[np.uint8] | None = None,
) -> list[Sticker]:
    """All disc-like blobs of `colour`, largest first."""
    prm = params or StickerBlobParams()
    if hsv is None:
        hsv = np.asarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2HSV), dtype=np.uint8)
    m = colour.mask(hsv)
    m = np.asarray(cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)), np.uint8)
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
    for i in range(1, n):
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
        perim = cv2.arcLength(cnt, True)
        circ = 4 * np.pi * area / (perim * perim) if perim > 0 else 0.0
        if circ < prm.min_circularity:
            continue
        if len(cnt) >= 5:
            (_, _), (a1, a2), _ = cv2.fitEllipse(cnt)
            if min(a1, a2) <= 0 or max(a1, a2) / min(a1, a2) > prm.max_axis_ratio:
                continue
        centre = _unmixed_centroid(image_bgr[y0:y1, x0:x1], blob, (x0, y0))
        if centre is None:
            continue
        out.append(Sticker(centre, area, float(circ)))
    out.sort(key=lambda s: -s.area_px)
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
