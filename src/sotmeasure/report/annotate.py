"""Draw the measured points, lines and numbers on a frame of the window."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.capture.open import open_source
from sotmeasure.measure.errors import MeasurementError
from sotmeasure.measure.result import MeasurementResult

Image = npt.NDArray[np.uint8]

HEEL_COLOUR = (0, 200, 255)  # BGR amber
HIP_COLOUR = (255, 160, 0)  # BGR azure
AXIS_COLOUR = (80, 220, 80)
TEXT_COLOUR = (255, 255, 255)


def read_frame(video: str | Path, index: int) -> Image:
    """The frame with this index (decoded in order: exact for any codec)."""
    with open_source(video) as src:
        for frame in src:
            if frame.index == index:
                return frame.image.copy()
    raise MeasurementError(f"frame {index} not found in {Path(video).name}")


def _pt(p: tuple[float, float]) -> tuple[int, int]:
    return (round(p[0]), round(p[1]))


def _extend(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], frac: float
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The segment a-b lengthened by `frac` of its length at both ends."""
    d = (b - a) * frac
    return _pt((a - d)[0:2].tolist()), _pt((b + d)[0:2].tolist())


def annotate(image: Image, result: MeasurementResult, title: str) -> Image:
    """Heel points and heel line, hip points and hip line, body axis, and the numbers."""
    out = image.copy()
    pts = result.window_points_px
    if not pts:
        return out
    scale = max(out.shape[:2]) / 1280.0
    thick = max(1, round(2 * scale))
    hl, hr = np.array(pts["heel_left"]), np.array(pts["heel_right"])
    pl, pr = np.array(pts["hip_left"]), np.array(pts["hip_right"])
    cv2.line(out, *_extend(hl, hr, 0.25), HEEL_COLOUR, thick, cv2.LINE_AA)
    cv2.line(out, *_extend(pl, pr, 0.25), HIP_COLOUR, thick, cv2.LINE_AA)
    cv2.line(out, _pt(tuple((pl + pr) / 2)), _pt(tuple((hl + hr) / 2)), AXIS_COLOUR, thick)
    for p, colour, label in (
        (hl, HEEL_COLOUR, "L"),
        (hr, HEEL_COLOUR, "R"),
        (pl, HIP_COLOUR, "L"),
        (pr, HIP_COLOUR, "R"),
    ):
        cv2.circle(out, _pt(tuple(p)), round(6 * scale), colour, -1, cv2.LINE_AA)
        cv2.putText(
            out,
            label,
            _pt(tuple(p + 10 * scale)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 * scale,
            colour,
            thick,
            cv2.LINE_AA,
        )
    lo, hi = result.lld_ci95_mm
    tlo, thi = result.pelvic_tilt_ci95_deg
    lines = [
        title,
        f"LLD {result.lld_mm:+.1f} mm (95% CI {lo:+.1f} to {hi:+.1f}), short side: "
        f"{result.short_side}",
        f"pelvic tilt {result.pelvic_tilt_deg:+.1f} deg (95% CI {tlo:+.1f} to {thi:+.1f})",
        f"window {result.window.start_s:.1f}-{result.window.end_s:.1f} s, "
        f"{result.frames_used} frames, {result.calibration}",
    ]
    y = round(28 * scale)
    for text in lines:
        cv2.putText(
            out,
            text,
            (round(12 * scale), y),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.65 * scale,
            (0, 0, 0),
            thick + 2,
            cv2.LINE_AA,
        )
        cv2.putText(
            out,
            text,
            (round(12 * scale), y),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.65 * scale,
            TEXT_COLOUR,
            thick,
            cv2.LINE_AA,
        )
        y += round(26 * scale)
    return out


def write_annotated(video: str | Path, result: MeasurementResult, title: str, path: Path) -> Path:
    """Annotate the window's middle frame and write it as PNG."""
    image = annotate(read_frame(video, result.representative_frame), result, title)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")
    return path
