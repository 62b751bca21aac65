"""The annotated frame of a stored measurement for the report page (PNG, cached on disk).

The stored result names its still window and, per frame, whether it was used; the frame
in the middle of the used frames is drawn. When the stored result carries the window's
median points (`window_points_px`) they are drawn; otherwise the points are found again on
that frame by the live analyser with the setup version and mode the measurement used (the
installation setup only for a measurement that recorded none), and the caption says so.
Numbers printed on the frame are the stored ones, never recomputed.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sotmeasure.capture.open import open_source
from sotmeasure.errors import SotmeasureError
from sotmeasure.measure.result import ResultRecord
from sotmeasure.private_files import private_dir, write_private_bytes
from sotmeasure.processing.params import checked_mode
from sotmeasure.processing.setup import load_files
from sotmeasure.services.context import AppContext, stored_setup
from sotmeasure.services.measurements import stored_result
from sotmeasure.services.setups import version_label
from sotmeasure.store.models import Measurement
from sotmeasure.web.overlay import Image, draw_points, encode_png, fit_width

FRAME_WIDTH_PX = 960


class ReportFrameError(SotmeasureError):
    """The annotated frame cannot be drawn (recording missing, frame not found)."""


def representative_index(result: ResultRecord) -> int:
    """The frame the measurement chose to show, else the middle of its still window."""
    if result.representative_frame is not None:
        return result.representative_frame
    used = result.window_frame_indices
    if used:
        return used[len(used) // 2]
    start, end = result.window_start_s, result.window_end_s
    timed = [f for f in result.frames or () if f.index is not None and f.t_s is not None]
    if timed and start is not None and end is not None:
        mid = (start + end) / 2
        return int(min(timed, key=lambda f: abs((f.t_s or 0.0) - mid)).index or 0)
    return 0


def _read_frame(video: Path, index: int) -> tuple[Image, float]:
    with open_source(video) as src:
        for frame in src:
            if frame.index == index:
                return frame.image.copy(), frame.t_s
    raise ReportFrameError(f"frame {index} is not in the stored recording")


def _with_caption(img: Image, lines: list[str]) -> Image:
    """The frame with a caption band above it (nothing of the picture is covered)."""
    scale = img.shape[1] / 1280
    band = np.zeros((round((20 + 30 * len(lines)) * scale) + 6, img.shape[1], 3), np.uint8)
    y = round(30 * scale) + 4
    for line in lines:
        cv2.putText(
            band,
            line,
            (10, y),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.7 * scale,
            (255, 255, 255),
            max(1, round(2 * scale)),
            cv2.LINE_AA,
        )
        y += round(30 * scale)
    return np.ascontiguousarray(np.vstack([band, img]))


def annotated_frame_png(ctx: AppContext, row: Measurement) -> bytes:
    """PNG bytes of the annotated frame (cached under <data_dir>/web-cache/)."""
    rec = row.recording
    if rec is None:
        raise ReportFrameError("this measurement has no stored recording to show")
    # The caption names the phase, so a relabelled measurement gets a new picture.
    cache = ctx.settings.report_cache_dir / f"m{row.id}-{row.phase}-{rec.sha256[:16]}.png"
    if cache.is_file():
        return cache.read_bytes()
    result = stored_result(row)
    video = ctx.files.video_path(rec.kind, rec.stored_name, rec.media or {})
    if not video.is_file():
        raise ReportFrameError("the stored recording file is missing from the data folder")
    index = representative_index(result)
    image, t_s = _read_frame(video, index)
    if result.window_points_px:
        points = dict(result.window_points_px)
        how = "points: medians over the still window"
    else:
        points, how = _points_found_again(ctx, row, image, index, t_s)
    img, f = fit_width(image, FRAME_WIDTH_PX)
    draw_points(img, points, f)
    low, high = row.lld_ci95_low_mm, row.lld_ci95_high_mm
    tlow, thigh = row.pelvic_tilt_ci95_low_deg, row.pelvic_tilt_ci95_high_deg
    lines = [f"{row.phase.upper()} (measurement #{row.id}), frame {index} at {t_s:.2f} s", how]
    if row.lld_mm is not None and low is not None and high is not None:
        lines.append(f"LLD {row.lld_mm:+.1f} mm (95% CI {low:+.1f} to {high:+.1f})")
    if row.pelvic_tilt_deg is not None and tlow is not None and thigh is not None:
        lines.append(
            f"pelvic tilt {row.pelvic_tilt_deg:+.1f} deg (95% CI {tlow:+.1f} to {thigh:+.1f})"
        )
    png = encode_png(_with_caption(img, lines))
    private_dir(cache.parent)
    tmp = cache.with_suffix(".tmp")
    write_private_bytes(tmp, png)
    tmp.replace(cache)
    return png


def _points_found_again(
    ctx: AppContext, row: Measurement, image: Image, index: int, t_s: float
) -> tuple[dict[str, tuple[float, float]], str]:
    """The points of an old result (stored without its window's points), found again on the
    frame with the measurement's own setup version and mode, and the caption's words."""
    from sotmeasure.capture.frame import Frame
    from sotmeasure.web.live_analysis import LiveAnalyser, LiveSetup  # loads the pose model

    mode = row.mode or ctx.settings.measure_mode
    files = stored_setup(ctx, row.setup_version_id)
    setup = (
        LiveSetup.from_settings(ctx.settings, mode=mode)
        if files is None
        else load_files(files, mode=checked_mode(mode))
    )
    with LiveAnalyser(setup) as analyser:
        reading = analyser.analyse(Frame(image=image, index=index, t_s=t_s))
    label = version_label(row.setup_version)
    if reading.points_px:
        return reading.points_px, f"points: found again on this frame with {label}"
    return {}, f"points: {reading.quality} ({label})"


def plain_frame_png(ctx: AppContext, row: Measurement) -> tuple[bytes, int]:
    """The representative frame at full resolution with nothing drawn on it, and its index:
    the picture the practitioner places landmarks on (pixels must be the recording's own)."""
    rec = row.recording
    if rec is None:
        raise ReportFrameError("this measurement has no stored recording to show")
    video = ctx.files.video_path(rec.kind, rec.stored_name, rec.media or {})
    if not video.is_file():
        raise ReportFrameError("the stored recording file is missing from the data folder")
    index = representative_index(stored_result(row))
    image, _t_s = _read_frame(video, index)
    return encode_png(image), index
