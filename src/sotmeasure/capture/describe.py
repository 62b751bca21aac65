"""What `sotmeasure info` reports about a video, a recording or an image folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2

from sotmeasure.capture.errors import CaptureError
from sotmeasure.capture.images import ImageFolderSource
from sotmeasure.capture.open import source_kind
from sotmeasure.capture.recording import load_recording
from sotmeasure.capture.video import VideoFileSource


def _fourcc_text(code: float) -> str | None:
    value = int(code)
    if value <= 0:
        return None
    text = "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() else None


def describe_path(path: str | Path) -> dict[str, Any]:
    """A JSON-ready description of a capture file or folder, without decoding it all.

    Frame counts of videos are what the container declares; recordings are validated
    by `load_recording` (hash included), so a recording that describes is one that replays.
    """
    target = Path(path)
    if not target.exists():
        raise CaptureError(f"no such file or folder: {target}")
    kind = source_kind(target)
    if kind == "recording":
        rec = load_recording(target)
        span = rec.timestamps[-1] - rec.timestamps[0]
        return {
            "kind": "recording",
            "path": str(target),
            "width": rec.meta.width,
            "height": rec.meta.height,
            "fps": rec.meta.fps,
            "measured_fps": (rec.frame_count - 1) / span if span > 0 else None,
            "frames": rec.frame_count,
            "duration_s": rec.duration_s,
            "complete": rec.complete,
            "video": rec.video_path.name,
            "meta": rec.meta.raw,
        }
    if kind == "images":
        with ImageFolderSource(target) as images:
            info = images.info
        return {
            "kind": "images",
            "path": str(target),
            "width": info.width,
            "height": info.height,
            "fps": None,
            "frames": info.frame_count,
            "duration_s": None,
            "first": images.files[0].name,
            "last": images.files[-1].name,
        }
    if kind != "video":
        raise CaptureError(f"{target} is a {kind}, not a file or folder that info can describe")
    with VideoFileSource(target) as video:
        info = video.info
        cap = cv2.VideoCapture(str(target), cv2.CAP_FFMPEG)
        try:
            fourcc = _fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        finally:
            cap.release()
    frames = info.frame_count
    return {
        "kind": "video",
        "path": str(target),
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "frames": frames,
        "duration_s": frames / info.fps if frames is not None and info.fps else None,
        "codec": fourcc,
        "size_bytes": target.stat().st_size,
    }
