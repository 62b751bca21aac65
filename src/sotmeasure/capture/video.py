"""Frames from a video file, with the container's presentation times."""

from __future__ import annotations

import logging
import math
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.errors import FrameReadError, VideoOpenError
from sotmeasure.capture.frame import Frame

log = logging.getLogger(__name__)

#: A frame decoded but not converted to an image (`VideoFileSource.frames_where`).
_PASSED: npt.NDArray[np.uint8] = np.empty((0, 0, 3), dtype=np.uint8)


def _open_capture(path: Path) -> cv2.VideoCapture:
    """Open with FFmpeg explicitly: the same decoder on every Linux box, no GStreamer surprises."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoOpenError(
            f"cannot open video {path}: not a video, or a corrupt or unsupported container"
        )
    return cap


def check_video_path(path: Path) -> None:
    """Fail with a precise reason before handing a path to the decoder."""
    if not path.exists():
        raise VideoOpenError(f"video file not found: {path}")
    if stat.S_ISFIFO(path.stat().st_mode):
        return  # a video written into a pipe while it is read (capture/avi_stream.py)
    if not path.is_file():
        raise VideoOpenError(f"not a video file (it is a folder or device): {path}")
    if path.stat().st_size == 0:
        raise VideoOpenError(f"video file is empty (0 bytes): {path}")


class VideoFileSource(FrameSource):
    """A video file as a `FrameSource`.

    `t_s` is the container's presentation time of each frame (CAP_PROP_POS_MSEC);
    when a container carries no usable timestamps it falls back to index / fps and
    logs that once. The first frame is decoded in the constructor so that a file
    that opens but holds nothing decodable fails at once with `VideoOpenError`.

    Decoders cannot tell "end of file" from "the rest is corrupt", so when decoding
    stops before the frame count the container declares, iteration ends cleanly,
    logs a warning and sets `ended_early`; the last decoded frame is withheld because
    the frame at a cut is often damaged. `frames_read` says how many frames came out.
    Iterating again re-opens the file from the start.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_video_path(self.path)
        self._cap: cv2.VideoCapture | None = _open_capture(self.path)
        cap = self._cap
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        declared = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        # FFmpeg reports a negative or absurd count when the container has none.
        self.declared_frame_count: int | None = (
            int(declared) if math.isfinite(declared) and 0 < declared < 1e9 else None
        )
        first = self._read_image(cap)
        if first is None:
            cap.release()
            self._cap = None
            raise VideoOpenError(f"video has no decodable frame: {self.path}")
        self._first: tuple[npt.NDArray[np.uint8], float] | None = (
            first,
            float(cap.get(cv2.CAP_PROP_POS_MSEC)),
        )
        if width <= 0 or height <= 0:
            height, width = first.shape[:2]
        self._info = SourceInfo(
            kind="video",
            description=str(self.path),
            width=width,
            height=height,
            fps=fps if math.isfinite(fps) and fps > 0 else None,
            frame_count=self.declared_frame_count,
        )
        self.frames_read = 0
        self.ended_early = False

    @property
    def info(self) -> SourceInfo:
        return self._info

    @staticmethod
    def _read_image(cap: cv2.VideoCapture, keep: bool = True) -> npt.NDArray[np.uint8] | None:
        """The next frame (None at the end); `keep=False` decodes it (the decoder needs
        every frame) but skips the conversion to a BGR image: `_PASSED` stands for it."""
        if not keep:
            return _PASSED if cap.grab() else None
        ok, image = cap.read()
        if not ok or image is None:
            return None
        if image.ndim == 2:  # some decoders hand grey frames back as HxW
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return np.ascontiguousarray(image, dtype=np.uint8)

    def __iter__(self) -> Iterator[Frame]:
        return self._frames(None)

    def frames_where(self, keep: Callable[[int], bool]) -> Iterator[Frame]:
        """Only the frames `keep` accepts are converted to images (cap.read = grab +
        retrieve, so they are the same images); the rest are only decoded."""
        return self._frames(keep)

    def _frames(self, keep: Callable[[int], bool] | None) -> Iterator[Frame]:
        if self._first is not None and self._cap is not None:
            cap, (image, msec) = self._cap, self._first
            self._first = None
            current: npt.NDArray[np.uint8] | None = image
        else:  # second pass, or after close(): start over from the file
            self.close()
            cap = _open_capture(self.path)
            self._cap = cap
            current = self._read_image(cap, keep is None or keep(0))
            msec = float(cap.get(cv2.CAP_PROP_POS_MSEC))
        self.frames_read = 0
        self.ended_early = False
        declared = self.declared_frame_count
        fallback_logged = False
        last_t = -math.inf
        index = 0
        while current is not None:
            t_s = msec / 1000.0
            if not (math.isfinite(t_s) and t_s >= 0 and t_s > last_t):
                t_s = self._time_from_index(index)
                if not fallback_logged:
                    log.info("%s: no usable timestamps; using frame index / fps", self.path)
                    fallback_logged = True
            last_t = t_s
            # Look one frame ahead: when the stream stops short of its declared length,
            # the frame at the cut is often a concealed copy of the previous one or half
            # decoded (we saw both with MJPEG and MPEG-4), so it is withheld.
            following = self._read_image(cap, keep is None or keep(index + 1))
            following_msec = float(cap.get(cv2.CAP_PROP_POS_MSEC))
            if following is None and declared is not None and index + 1 < declared:
                self.ended_early = True
                log.warning(
                    "%s: decoding stopped after %d of %d declared frames (truncated or "
                    "corrupt?); frame %d at the cut was dropped as possibly damaged",
                    self.path,
                    index + 1,
                    declared,
                    index,
                )
                return
            self.frames_read = index + 1
            if current is not _PASSED:
                yield Frame(image=current, index=index, t_s=t_s)
            index += 1
            current, msec = following, following_msec

    def _time_from_index(self, index: int) -> float:
        fps = self._info.fps
        if fps is None:
            raise FrameReadError(f"video has neither timestamps nor a frame rate: {self.path}")
        return index / fps

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._first = None
