"""Named capture errors.

Frame sources raise these instead of returning None, so that a caller (CLI, API,
web page) can tell the user exactly what went wrong and exit non-zero.
"""

from sotmeasure.errors import SotmeasureError


class CaptureError(SotmeasureError):
    """Base class of every error raised by the capture layer."""


class CameraNotFoundError(CaptureError):
    """The requested camera (index or device path) does not exist or cannot be opened."""


class VideoOpenError(CaptureError):
    """A video file is missing, empty, not a video, or cannot be decoded."""


class FrameReadError(CaptureError):
    """A source that was open failed to deliver a frame it should have had."""


class ImageFolderError(CaptureError):
    """An image-sequence folder is missing, empty, or holds unreadable images."""


class RecordingError(CaptureError):
    """A recording folder is malformed: missing files, wrong format version, bad meta."""
