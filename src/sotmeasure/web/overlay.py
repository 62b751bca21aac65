"""Drawing on preview frames: heel points and line, hip points and line, numbers, quality.

Drawn on the downscaled preview copy (cheap) with the points scaled to it. Colours match the
report's annotated frames (amber heels, azure hips) so the two read the same way.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.web.live_reading import LiveReading

Image = npt.NDArray[np.uint8]

HEEL_COLOUR = (0, 200, 255)  # BGR amber
HIP_COLOUR = (255, 160, 0)  # BGR azure
OK_COLOUR = (60, 200, 60)
WARN_COLOUR = (40, 40, 230)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def fit_width(image: Image, width: int) -> tuple[Image, float]:
    """The image scaled to `width` (never up) and the scale factor used."""
    h, w = image.shape[:2]
    if w <= width:
        return image.copy(), 1.0
    f = width / w
    small = cv2.resize(image, (width, round(h * f)), interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.uint8), f


def _pt(p: tuple[float, float], f: float) -> tuple[int, int]:
    return (round(p[0] * f), round(p[1] * f))


def _text(
    img: Image, text: str, org: tuple[int, int], scale: float, colour: tuple[int, ...]
) -> None:
    """Text with a dark outline: readable on a bright table or a dark background."""
    thick = max(1, round(2 * scale))
    cv2.putText(img, text, org, FONT, scale, (0, 0, 0), thick + 3, cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, scale, colour, thick, cv2.LINE_AA)


def draw_points(img: Image, points: dict[str, tuple[float, float]], f: float) -> None:
    """Heel line through both heels, hip line through both hips, L/R labels."""
    if not points:
        return
    r = max(3, round(img.shape[1] / 160))
    thick = max(1, round(img.shape[1] / 480))
    for a, b, colour in (
        ("heel_left", "heel_right", HEEL_COLOUR),
        ("hip_left", "hip_right", HIP_COLOUR),
    ):
        if a in points and b in points:
            pa, pb = np.array(points[a]), np.array(points[b])
            d = (pb - pa) * 0.2
            cv2.line(img, _pt(tuple(pa - d), f), _pt(tuple(pb + d), f), colour, thick, cv2.LINE_AA)
    for name, colour in (
        ("heel_left", HEEL_COLOUR),
        ("heel_right", HEEL_COLOUR),
        ("hip_left", HIP_COLOUR),
        ("hip_right", HIP_COLOUR),
    ):
        if name in points:
            c = _pt(points[name], f)
            cv2.circle(img, c, r, colour, -1, cv2.LINE_AA)
            cv2.circle(img, c, r, (0, 0, 0), 1, cv2.LINE_AA)
            label = "L" if name.endswith("left") else "R"
            _text(img, label, (c[0] + r + 2, c[1] - r - 2), img.shape[1] / 1600, colour)


def draw_live(image: Image, reading: LiveReading | None, width: int, note: str) -> Image:
    """The preview frame: points and lines on the picture, the quality word and the live
    numbers on a band above it and the source below it (nothing of the picture is covered)."""
    img, f = fit_width(image, width)
    scale = img.shape[1] / 900  # text sized for a ~600-900 px wide preview on the page
    if reading is not None:
        draw_points(img, reading.points_px, f)
    if reading is None:
        word, colour, numbers = "starting...", (255, 255, 255), ""
    else:
        word = reading.quality
        colour = OK_COLOUR if reading.ready else WARN_COLOUR
        numbers = ""
        if reading.lld_mm is not None and reading.pelvic_tilt_deg is not None:
            numbers = f"live LLD {reading.lld_mm:+.1f} mm   tilt {reading.pelvic_tilt_deg:+.1f} deg"
    top = np.zeros((round(44 * scale), img.shape[1], 3), np.uint8)
    _text(top, word.upper(), (10, round(31 * scale)), 0.85 * scale, colour)
    if numbers:
        size = cv2.getTextSize(numbers, FONT, 0.7 * scale, max(1, round(2 * scale)))[0]
        _text(
            top,
            numbers,
            (img.shape[1] - size[0] - 12, round(31 * scale)),
            0.7 * scale,
            (255, 255, 255),
        )
    bottom = np.zeros((round(26 * scale), img.shape[1], 3), np.uint8)
    if note:
        _text(bottom, note, (10, round(18 * scale)), 0.45 * scale, (220, 220, 220))
    return np.ascontiguousarray(np.vstack([top, img, bottom]))


def message_card(text: str, width: int = 960, height: int = 540) -> Image:
    """A plain frame with a message, sent when there is no camera picture to show."""
    img = np.full((height, width, 3), 40, dtype=np.uint8)
    words = text.split()
    lines: list[str] = []
    current = ""
    for w in words:
        if len(current) + len(w) + 1 > 48:
            lines.append(current)
            current = w
        else:
            current = f"{current} {w}".strip()
    if current:
        lines.append(current)
    y = height // 2 - 20 * len(lines)
    for line in lines:
        _text(img, line, (30, y), 0.8, (255, 255, 255))
        y += 40
    return img


def encode_jpeg(img: Image, quality: int = 75) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


def encode_png(img: Image) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(buf.tobytes())
