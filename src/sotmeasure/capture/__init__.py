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
from sotmeasure.capture.images import ImageFolderSource
from sotmeasure.capture.open import open_source, source_kind
from sotmeasure.capture.recorder import Recorder, record_from_source
from sotmeasure.capture.recording import (
    Recording,
    RecordingMeta,
    RecordingSource,
    load_recording,
)
from sotmeasure.capture.video import VideoFileSource
from sotmeasure.capture.webcam import Negotiated, WebcamSource

__all__ = [
    "CameraNotFoundError",
    "CaptureError",
    "Frame",
    "FrameReadError",
    "FrameSource",
    "ImageFolderError",
    "ImageFolderSource",
    "Negotiated",
    "Recorder",
    "Recording",
    "RecordingError",
    "RecordingMeta",
    "RecordingSource",
    "SourceInfo",
    "VideoFileSource",
    "VideoOpenError",
    "WebcamSource",
    "load_recording",
    "open_source",
    "record_from_source",
    "source_kind",
]
