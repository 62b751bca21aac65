"""Turn whatever the user typed (0, /dev/video1, a file, a folder) into a `FrameSource`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from sotmeasure.capture.base import FrameSource
from sotmeasure.capture.errors import VideoOpenError
from sotmeasure.capture.images import ImageFolderSource
from sotmeasure.capture.recording import META_FILE, RecordingSource, Timing
from sotmeasure.capture.video import VideoFileSource
from sotmeasure.capture.webcam import WebcamSource

SourceKind = Literal["webcam", "recording", "images", "video"]

_VIDEO_DEVICE = re.compile(r"^/dev/video\d+$")


def source_kind(spec: str | Path | int) -> SourceKind:
    """Which source a spec names, by the rules of docs/internal-apis.md.

    An int, a digit string or /dev/video* is a webcam; a folder with meta.json a
    recording; any other folder an image sequence; anything else a video file.
    """
    if isinstance(spec, bool):
        raise VideoOpenError(f"not a source: {spec!r}")
    if isinstance(spec, int):
        return "webcam"
    text = str(spec)
    if text.strip().isdigit() or _VIDEO_DEVICE.match(text):
        return "webcam"
    path = Path(text)
    if path.is_dir():
        return "recording" if (path / META_FILE).exists() else "images"
    return "video"


def open_source(spec: str | Path | int, *, timing: Timing = "fast") -> FrameSource:
    """Open the source `spec` names; `timing` applies to recordings (others run as they come)."""
    kind = source_kind(spec)
    if kind == "webcam":
        return WebcamSource(spec if isinstance(spec, int) else str(spec))
    path = Path(str(spec))
    if kind == "recording":
        return RecordingSource(path, timing=timing)
    if kind == "images":
        return ImageFolderSource(path)
    return VideoFileSource(path)
