"""Calibrate a setup's camera from a ChArUco clip and store the profile as a new version.

The clip is an upload, or frames recorded from the room's camera on the page (a recorded
file stands in for a camera in tests, as on the live page). The calibration is the CLI's
(`geometry.intrinsics.calibrate_intrinsics`); its quality is reported in numbers (RMS
reprojection px, views used, image coverage, focal length SD) and in words, and stored with
the version (`calibration_report`), so a setup shows how good its profile is.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import tomli_w
from sqlalchemy.orm import Session

from sotmeasure.capture.base import FrameSource
from sotmeasure.errors import SotmeasureError
from sotmeasure.services.errors import InvalidInputError
from sotmeasure.services.setup_inputs import SetupVersionCreate
from sotmeasure.services.setups import add_version, get_setup
from sotmeasure.store.models import SetupVersion, User

#: Below this RMS reprojection error a calibration is good; above the second, redo it.
GOOD_RMS_PX = 0.5
USABLE_RMS_PX = 1.0
#: Fewer accepted views than this, or less of the image covered, and the words say so.
ENOUGH_VIEWS = 20
ENOUGH_COVERAGE = 0.3
#: A recording from the camera: every 3rd frame, 60 frames (about 6 s at 30 frames/s).
RECORD_FRAMES = 60
RECORD_EVERY = 3


def quality_report(result: Any) -> dict[str, Any]:
    """Numbers and words for an `IntrinsicsResult` (what the page and the API show)."""
    k = result.profile.matrix
    rms = float(result.rms_px)
    views = len(result.views_used)
    if rms <= GOOD_RMS_PX and views >= ENOUGH_VIEWS:
        verdict = "good"
    elif rms <= USABLE_RMS_PX:
        verdict = "usable"
    else:
        verdict = "poor"
    words = [
        f"{verdict}: the board's corners are re-projected within {rms:.2f} px on average "
        f"(RMS) over {views} views"
    ]
    if views < ENOUGH_VIEWS:
        words.append(f"few views were accepted ({views}; aim for {ENOUGH_VIEWS} or more)")
    if result.coverage < ENOUGH_COVERAGE:
        words.append(
            f"the board covered {result.coverage:.0%} of the image: move it towards the image "
            "edges and corners"
        )
    if result.principal_point_fixed:
        words.append(
            "the views did not determine the principal point; it was fixed at the image centre"
        )
    if result.k3_fixed:
        words.append("the board did not reach the image corners, so k3 was fixed at 0")
    if rms > USABLE_RMS_PX:
        words.append(f"above {USABLE_RMS_PX:g} px: record the clip again (sharper, slower)")
    return {
        "verdict": verdict,
        "words": words,
        "rms_reprojection_px": round(rms, 4),
        "views_used": views,
        "board_found_in_frames": int(result.views_detected),
        "frames_checked": int(result.frames_checked),
        "coverage": round(float(result.coverage), 3),
        "image_size_px": list(result.profile.image_size_px),
        "fx_px": round(float(k[0, 0]), 2),
        "fy_px": round(float(k[1, 1]), 2),
        "cx_px": round(float(k[0, 2]), 2),
        "cy_px": round(float(k[1, 2]), 2),
        "fx_sd_px": round(float(result.std_px.get("fx", 0.0)), 3),
        "principal_point_fixed_at_centre": bool(result.principal_point_fixed),
        "k3_fixed_at_zero": bool(result.k3_fixed),
    }


def calibrate_setup(
    session: Session,
    user: User,
    setup_id: int,
    clip: Path,
    board_json: Path,
    *,
    source_label: str,
) -> SetupVersion:
    """Calibrate from `clip` (video or image folder) and store a new version with the profile.

    A calibration that fails (too few views, no board) stores nothing and says why."""
    from sotmeasure.geometry.intrinsics import calibrate_intrinsics
    from sotmeasure.geometry.layout import load_board

    setup = get_setup(session, user, setup_id)
    session.commit()  # no transaction held while the clip is calibrated
    try:
        board = load_board(board_json)
        result = calibrate_intrinsics(clip, board, name=f"{setup.name} camera")
    except SotmeasureError as exc:
        raise InvalidInputError(f"calibration failed: {exc}") from None
    report = quality_report(result)
    report["source"] = source_label
    body = SetupVersionCreate(
        profile_toml=tomli_w.dumps(result.profile.to_toml_dict()),
        note=f"camera calibrated on the page from {source_label} "
        f"({report['verdict']}, RMS {report['rms_reprojection_px']:.2f} px)",
    )
    return add_version(session, user, setup_id, body, calibration_report=report)


class RecordingGuide:
    """What the page shows while the ChArUco clip is recorded: frames so far, frames with
    the board, the image coverage (share of a 6 x 4 grid with a board corner) and which
    image corners the board has reached, with the next thing to do. Thread-safe to read."""

    def __init__(self, board: Any, max_frames: int) -> None:
        self._board = board
        self._max_frames = max_frames
        self._views: list[Any] = []
        self._size: tuple[int, int] | None = None
        self._frames = 0
        self._lock = threading.Lock()

    def add(self, index: int, image: Any) -> None:
        from sotmeasure.geometry.intrinsics import detect_views

        views, size, _ = detect_views([(index, image)], self._board)
        with self._lock:
            self._frames += 1
            self._size = size
            self._views.extend(views)

    def snapshot(self) -> dict[str, Any]:
        from sotmeasure.geometry.intrinsics import coverage, image_corners_reached

        with self._lock:
            views, size, frames = list(self._views), self._size, self._frames
        cover = coverage(views, size) if views and size else 0.0
        corners = image_corners_reached(views, size) if views and size else []
        if frames and not views:
            hint = "the board is not found: hold it flat and fully in view, well lit"
        elif len(corners) < 4:
            missing = [c for c in IMAGE_CORNERS if c not in corners]
            hint = "move the board into the " + ", ".join(missing) + " corner(s) of the image"
        elif cover < ENOUGH_COVERAGE:
            hint = "move the board over the rest of the image"
        else:
            hint = "good coverage: keep tilting the board in different directions"
        return {
            "frames_recorded": frames,
            "frames_planned": self._max_frames,
            "views_found": len(views),
            "coverage": round(cover, 3),
            "corners_reached": corners,
            "hint": hint,
        }


IMAGE_CORNERS = ("top left", "top right", "bottom left", "bottom right")


def record_frames(
    source: FrameSource,
    folder: Path,
    *,
    max_frames: int,
    every: int,
    guide: RecordingGuide | None = None,
) -> int:
    """Every `every`-th frame of a live source as PNG files in `folder` (lossless, for the
    corner detector), at most `max_frames`; returns how many were written."""
    written = 0
    with source:
        for frame in source:
            if frame.index % every:
                continue
            cv2.imwrite(str(folder / f"{written:05d}.png"), frame.image)
            if guide is not None:
                guide.add(frame.index, frame.image)
            written += 1
            if written >= max_frames:
                break
    return written


def calibrate_from_camera(
    session: Session,
    user: User,
    setup_id: int,
    source: FrameSource,
    board_json: Path,
    *,
    source_label: str,
    scratch_dir: Path,
    max_frames: int = RECORD_FRAMES,
    every: int = RECORD_EVERY,
    guide: RecordingGuide | None = None,
    on_recorded: Callable[[], None] | None = None,
) -> SetupVersion:
    """Record a ChArUco clip from the camera (or its stand-in) and calibrate from it;
    `guide` follows the recording for the page, `on_recorded` is told when it ends."""
    get_setup(session, user, setup_id)  # not found before a camera is opened
    session.commit()  # no transaction held while recording
    with tempfile.TemporaryDirectory(prefix="calibration-", dir=scratch_dir) as folder:
        written = record_frames(
            source, Path(folder), max_frames=max_frames, every=every, guide=guide
        )
        if on_recorded is not None:
            on_recorded()
        if written == 0:
            raise InvalidInputError("the camera gave no frames")
        return calibrate_setup(
            session, user, setup_id, Path(folder), board_json, source_label=source_label
        )
