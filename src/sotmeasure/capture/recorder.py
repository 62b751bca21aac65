"""Write a recording folder frame by frame, so that a crash loses nothing already written."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sotmeasure import __version__
from sotmeasure.capture.avi import AviCodec, AviFrameWriter, FrameTap
from sotmeasure.capture.base import FrameSource
from sotmeasure.capture.errors import RecordingError
from sotmeasure.capture.frame import Frame
from sotmeasure.capture.recording import (
    FORMAT_VERSION,
    META_FILE,
    STATUS_COMPLETE,
    STATUS_RECORDING,
    TIMESTAMPS_FILE,
    TIMESTAMPS_HEADER,
    Recording,
    load_recording,
)
from sotmeasure.closing import ClosesOnExit
from sotmeasure.provenance import sha256_file

log = logging.getLogger(__name__)

VIDEO_FILE = "video.avi"


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON via a synced temp file and os.replace: readers see old or new, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable: on Linux the directory entry needs its own fsync."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Recorder(ClosesOnExit):
    """Context manager that writes frames into a new recording folder.

    Each `write(frame)` encodes the frame into video.avi and syncs it, then appends
    and syncs its `index,t_s` row; meta.json says `status: "recording"` until
    `close()` writes frame count, duration and the video's sha256 and flips it to
    `"complete"`. Recorded `t_s` is the source's time minus that of the first frame.
    `lossless=True` stores PNG frames (pixel-exact replay, ~5-10x larger files).
    `tap` gets each frame's encoded bytes once it is on disk (`AviFrameWriter`).
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        fps: float,
        size: tuple[int, int],
        source_description: str,
        lossless: bool = False,
        source_details: Mapping[str, Any] | None = None,
        tap: FrameTap | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and (not self.out_dir.is_dir() or any(self.out_dir.iterdir())):
            raise RecordingError(f"output folder {self.out_dir} already exists and is not empty")
        width, height = size
        if not fps > 0:
            raise RecordingError(f"recording frame rate must be positive, got {fps}")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.codec: AviCodec = "png" if lossless else "mjpeg"
        self._meta: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "uuid": str(uuid.uuid4()),
            "started_utc": _utc_now(),
            "finished_utc": None,
            "status": STATUS_RECORDING,
            "duration_s": None,
            "frame_count": None,
            "width": width,
            "height": height,
            "fps": float(fps),
            "source": source_description,
            "source_details": dict(source_details) if source_details else {},
            "codec": self.codec,
            "lossless": lossless,
            "container": "avi",
            "video_file": VIDEO_FILE,
            "timestamps_file": TIMESTAMPS_FILE,
            "sotmeasure_version": __version__,
            "video_sha256": None,
        }
        write_json_atomic(self.out_dir / META_FILE, self._meta)
        self._video: AviFrameWriter | None = AviFrameWriter(
            self.out_dir / VIDEO_FILE,
            width=width,
            height=height,
            fps=fps,
            codec=self.codec,
            tap=tap,
        )
        self._times: TextIO | None = (self.out_dir / TIMESTAMPS_FILE).open("x", encoding="utf-8")
        self._times.write(TIMESTAMPS_HEADER + "\n")
        self._times.flush()
        os.fsync(self._times.fileno())
        self._t0: float | None = None
        self._last_t = 0.0
        self.frame_count = 0

    @property
    def uuid(self) -> str:
        return str(self._meta["uuid"])

    def write(self, frame: Frame) -> None:
        """Append one frame; when this returns, the frame and its timestamp are on disk."""
        if self._video is None or self._times is None:
            raise RecordingError(f"recording {self.out_dir} is already closed")
        if self._t0 is None:
            self._t0 = frame.t_s
        t_rel = frame.t_s - self._t0
        if t_rel < self._last_t:
            raise RecordingError(
                f"frame times must not go backwards ({t_rel:.6f} s after {self._last_t:.6f} s)"
            )
        self._video.write(frame.image)  # synced before its timestamp row exists
        self._times.write(f"{self.frame_count},{t_rel:.6f}\n")
        self._times.flush()
        os.fsync(self._times.fileno())
        self._last_t = t_rel
        self.frame_count += 1

    def close(self) -> None:
        """Finish the video, hash it, and mark meta.json complete. Safe to call twice."""
        if self._video is None or self._times is None:
            return
        self._video.close()
        self._times.close()
        self._video = None
        self._times = None
        video = self.out_dir / VIDEO_FILE
        self._meta.update(
            finished_utc=_utc_now(),
            status=STATUS_COMPLETE,
            frame_count=self.frame_count,
            duration_s=(self._last_t + 1.0 / self._meta["fps"]) if self.frame_count else 0.0,
            video_sha256=sha256_file(video),
        )
        write_json_atomic(self.out_dir / META_FILE, self._meta)
        log.info("recorded %d frames to %s", self.frame_count, self.out_dir)


def record_from_source(
    source: FrameSource,
    out_dir: str | Path,
    *,
    seconds: float | None = None,
    max_frames: int | None = None,
    lossless: bool = False,
    fps: float | None = None,
    progress: Callable[[int], None] | None = None,
    tap: FrameTap | None = None,
) -> Recording:
    """Record `source` into `out_dir` until it ends, `seconds` of source time, or `max_frames`.

    The nominal fps comes from `fps`, else from the source; a source without a rate
    (an image folder without fps) needs `fps`. `progress(n)` is called after each frame;
    `tap` gets each frame's encoded bytes (`Recorder`). Ctrl+C stops the recording and
    keeps what was written.
    """
    info = source.info
    rate = fps if fps is not None else info.fps
    if rate is None or not rate > 0:
        raise RecordingError(f"{info.description} has no frame rate; give one to record it")
    if seconds is not None and not seconds > 0:
        raise RecordingError(f"recording length must be positive, got {seconds} s")
    if max_frames is not None and max_frames <= 0:
        raise RecordingError(f"max_frames must be positive, got {max_frames}")
    details: dict[str, Any] = {"kind": info.kind}
    negotiated = getattr(source, "negotiated", None)
    if negotiated is not None:
        details["negotiated"] = {
            name: getattr(negotiated, name)
            for name in (
                "requested_width",
                "requested_height",
                "requested_fps",
                "width",
                "height",
                "fps",
            )
        }
    with Recorder(
        out_dir,
        fps=rate,
        size=(info.width, info.height),
        source_description=f"{info.kind}:{info.description}",
        lossless=lossless,
        source_details=details,
        tap=tap,
    ) as recorder:
        first_t: float | None = None
        try:
            for frame in source:
                if first_t is None:
                    first_t = frame.t_s
                if seconds is not None and frame.t_s - first_t >= seconds:
                    break
                recorder.write(frame)
                if progress is not None:
                    progress(recorder.frame_count)
                if max_frames is not None and recorder.frame_count >= max_frames:
                    break
        except KeyboardInterrupt:
            log.warning("recording stopped by the user after %d frames", recorder.frame_count)
        if recorder.frame_count == 0:
            raise RecordingError(f"{info.description} delivered no frames; nothing was recorded")
    return load_recording(out_dir)
