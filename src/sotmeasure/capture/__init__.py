"""Capture layer: every way frames enter sotmeasure, behind one `FrameSource` interface."""

from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.errors import (
    CameraNotFoundError,
    CaptureError,
    FrameReadError,
    ImageFolderError,
    RecordingError,
    VideoOpenError,
)
from sotmeasure.capture.frame import Frame

__all__ = [
    "CameraNotFoundError",
    "CaptureError",
    "Frame",
    "FrameReadError",
    "FrameSource",
    "ImageFolderError",
    "RecordingError",
    "SourceInfo",
    "VideoOpenError",
]
