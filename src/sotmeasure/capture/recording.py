"""The recording folder format, its loader, and replay as a `FrameSource`.

A recording is a folder:

    meta.json         versioned description (see `RecordingMeta`), replaced atomically
    video.avi         Motion-JPEG (default) or PNG (lossless) frames, see `capture.avi`
    timestamps.csv    `index,t_s` per frame, each row fsync'ed after its frame

The recorder writes a frame to the video and syncs it before it writes the frame's
timestamp row, so every row on disk names a frame that is on disk. A recording cut
off by a crash keeps `status: "recording"`; it loads with `complete == False` and
replays min(frames in the video, timestamp rows) frames.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.errors import FrameReadError, RecordingError
from sotmeasure.capture.frame import Frame
from sotmeasure.provenance import sha256_file

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_FILE = "meta.json"
TIMESTAMPS_FILE = "timestamps.csv"
TIMESTAMPS_HEADER = "index,t_s"

Timing = Literal["fast", "realtime"]


class RecordingStatus(StrEnum):
    RECORDING = "recording"  # being written, or cut off by a crash
    COMPLETE = "complete"


STATUS_RECORDING = RecordingStatus.RECORDING
STATUS_COMPLETE = RecordingStatus.COMPLETE


class RecordingMetaV1(BaseModel):
    """meta.json, format version 1: what the recorder writes (see `Recorder`).

    Keys this model does not name (source_details, ...) are allowed and kept in `raw`.
    `duration_s`, `frame_count` and `video_sha256` are null while the status is
    "recording" and set when it is "complete" (checked by `parse_meta`).
    """

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    format_version: Literal[1]
    uuid: str
    started_utc: str
    status: RecordingStatus
    width: int
    height: int
    fps: float
    source: str
    codec: str
    video_file: str
    timestamps_file: str
    sotmeasure_version: str
    duration_s: float | None = None
    frame_count: int | None = None
    video_sha256: str | None = None
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """Everything in the file as it was written, including keys not named here."""
        return self._raw


#: The current format's model; `parse_meta` picks the model of the file's version.
RecordingMeta = RecordingMetaV1
META_MODELS: dict[int, type[RecordingMetaV1]] = {1: RecordingMetaV1}
SUPPORTED_FORMAT_VERSIONS = tuple(META_MODELS)
_SET_WHEN_COMPLETE = ("duration_s", "frame_count", "video_sha256")
_TYPE_WORDS = {int: "int", float: "int or number", str: "str"}


@dataclass(frozen=True, slots=True)
class Recording:
    """A loaded recording: what meta.json says plus what is actually usable on disk."""

    path: Path
    meta: RecordingMeta
    video_path: Path
    timestamps: tuple[float, ...]  # t_s of the usable frames, in order
    complete: bool  # False for a recording cut off by a crash (status "recording")

    @property
    def frame_count(self) -> int:
        """Frames that replay yields (for a crashed recording: what survived)."""
        return len(self.timestamps)

    @property
    def duration_s(self) -> float:
        """Span of the timestamps plus one nominal frame period (= frames / fps when regular)."""
        if not self.timestamps:
            return 0.0
        return self.timestamps[-1] - self.timestamps[0] + 1.0 / self.meta.fps


def _type_word(model: type[BaseModel], key: str) -> str:
    annotation = model.model_fields[key].annotation
    for python_type, word in _TYPE_WORDS.items():
        if annotation is python_type or annotation == python_type | None:
            return word
    return str(annotation)


def parse_meta(meta_path: Path) -> RecordingMeta:
    """Read and validate meta.json; every problem becomes a `RecordingError` saying which."""
    try:
        text = meta_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordingError(f"not a recording: {meta_path} is missing") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordingError(
            f"{meta_path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise RecordingError(f"{meta_path} must hold a JSON object, found {type(data).__name__}")
    version = data.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS or isinstance(version, bool):
        supported = ", ".join(str(v) for v in SUPPORTED_FORMAT_VERSIONS)
        raise RecordingError(
            f"{meta_path}: recording format_version {version!r} is not supported "
            f"(this sotmeasure reads version {supported})"
        )
    model = META_MODELS[version]
    try:
        meta = model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise RecordingError(_meta_problem(meta_path, model, data, exc)) from None
    status = meta.status
    if status is RecordingStatus.COMPLETE:
        for key in _SET_WHEN_COMPLETE:
            if getattr(meta, key) is None:
                raise RecordingError(
                    f"{meta_path}: {key} must be {_type_word(model, key)} in a "
                    f"{status.value} recording, found {data.get(key)!r}"
                )
    if meta.width <= 0 or meta.height <= 0 or not meta.fps > 0:
        raise RecordingError(
            f"{meta_path}: width, height and fps must be positive, found "
            f"{data['width']}x{data['height']} at {data['fps']} fps"
        )
    for key in ("video_file", "timestamps_file"):
        name = data[key]
        if Path(name).name != name or name in ("", ".", ".."):
            raise RecordingError(
                f"{meta_path}: {key} must be a file name in the folder, found {name!r}"
            )
    meta._raw = data
    return meta


def _meta_problem(
    meta_path: Path, model: type[BaseModel], data: dict[str, Any], exc: ValidationError
) -> str:
    """The first problem of a meta.json, in the words of the format (key and found value)."""
    errors = exc.errors()
    missing = [str(e["loc"][0]) for e in errors if e["type"] == "missing"]
    if missing:
        return f"{meta_path}: missing required key(s): {', '.join(missing)}"
    key = str(errors[0]["loc"][0])
    status = data.get("status")
    if key == "status" and isinstance(status, str):
        return (
            f"{meta_path}: status must be {STATUS_RECORDING.value!r} or "
            f"{STATUS_COMPLETE.value!r}, found {status!r}"
        )
    if key in _SET_WHEN_COMPLETE:
        return (
            f"{meta_path}: {key} must be {_type_word(model, key)} in a {status} recording, "
            f"found {data.get(key)!r}"
        )
    return f"{meta_path}: {key} must be {_type_word(model, key)}, found {data.get(key)!r}"


def parse_timestamps(path: Path, *, complete: bool) -> list[float]:
    """Read timestamps.csv. A crashed recording may end in a half-written row: dropped."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise RecordingError(f"recording is missing its timestamps file {path}") from None
    if lines[0].strip() != TIMESTAMPS_HEADER:
        raise RecordingError(
            f"{path}: first line must be {TIMESTAMPS_HEADER!r}, found {lines[0]!r}"
        )
    rows = lines[1:]
    # A file that ends with "\n" splits into a trailing "". Anything else after the last
    # newline is a row the recorder did not finish: only a crash leaves one.
    tail = rows.pop() if rows else ""
    if tail.strip():
        if complete:
            raise RecordingError(f"{path}: last row is not terminated: {tail!r}")
        log.warning("%s: dropping the half-written last row %r", path, tail)
    times: list[float] = []
    for number, row in enumerate(rows, start=2):
        parts = row.split(",")
        try:
            index, t_s = int(parts[0]), float(parts[1])
            if len(parts) != 2:
                raise ValueError
        except (ValueError, IndexError):
            raise RecordingError(
                f"{path}, line {number}: expected 'index,t_s', found {row!r}"
            ) from None
        if index != len(times):
            raise RecordingError(
                f"{path}, line {number}: expected frame index {len(times)}, found {index}"
            )
        if not math.isfinite(t_s) or (times and t_s < times[-1]):
            raise RecordingError(
                f"{path}, line {number}: time {t_s} is not finite and non-decreasing"
            )
        times.append(t_s)
    return times


def _video_frame_count(video_path: Path) -> int:
    """Frames the AVI header declares (the recorder keeps it current after every frame)."""
    cap = cv2.VideoCapture(str(video_path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise RecordingError(f"recording video {video_path} cannot be opened (corrupt?)")
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
        cap.release()
    return int(count) if math.isfinite(count) and count > 0 else 0


def load_recording(path: str | Path, *, verify_hash: bool = True) -> Recording:
    """Load and check a recording folder; raise `RecordingError` saying exactly what is wrong.

    For a complete recording the frame counts of meta.json, timestamps.csv and the video
    must agree and (with `verify_hash`) the video must match its sha256. A crashed one
    is trimmed to the frames that both the video and the timestamps hold.
    """
    folder = Path(path)
    if not folder.exists():
        raise RecordingError(f"recording folder not found: {folder}")
    if not folder.is_dir():
        raise RecordingError(f"a recording is a folder, but {folder} is a file")
    meta = parse_meta(folder / META_FILE)
    complete = meta.status == STATUS_COMPLETE
    video_path = folder / meta.video_file
    if not video_path.is_file():
        raise RecordingError(f"recording is missing its video file {video_path}")
    times = parse_timestamps(folder / meta.timestamps_file, complete=complete)
    in_video = _video_frame_count(video_path)
    if complete:
        if meta.frame_count != len(times) or meta.frame_count != in_video:
            raise RecordingError(
                f"{folder}: frame counts disagree: meta.json {meta.frame_count}, "
                f"timestamps.csv {len(times)}, video {in_video}"
            )
        if verify_hash and sha256_file(video_path) != meta.video_sha256:
            raise RecordingError(
                f"{video_path} does not match the video_sha256 in meta.json (modified or corrupt)"
            )
    else:
        usable = min(in_video, len(times))
        log.warning(
            "%s was not closed (crash or kill?): %d frames usable (video %d, timestamps %d)",
            folder,
            usable,
            in_video,
            len(times),
        )
        times = times[:usable]
    if not times:
        raise RecordingError(f"recording {folder} holds no frames")
    return Recording(
        path=folder,
        meta=meta,
        video_path=video_path,
        timestamps=tuple(times),
        complete=complete,
    )


class RecordingSource(FrameSource):
    """Replay a recording: its frames with the recorded timestamps.

    `timing="fast"` yields frames as fast as they decode (tests, batch work);
    `timing="realtime"` sleeps so that frame i comes out t_s[i] - t_s[0] seconds after
    the first, like the live camera did (demos). `frames_read` counts what came out.
    """

    def __init__(self, path: str | Path | Recording, timing: Timing = "fast") -> None:
        if timing not in ("fast", "realtime"):
            raise RecordingError(f"timing must be 'fast' or 'realtime', got {timing!r}")
        self.recording = path if isinstance(path, Recording) else load_recording(path)
        self.timing: Timing = timing
        rec = self.recording
        self._info = SourceInfo(
            kind="recording",
            description=str(rec.path),
            width=rec.meta.width,
            height=rec.meta.height,
            fps=rec.meta.fps,
            frame_count=rec.frame_count,
        )
        self._cap: cv2.VideoCapture | None = None
        self.frames_read = 0

    @property
    def info(self) -> SourceInfo:
        return self._info

    def __iter__(self) -> Iterator[Frame]:
        return self._frames(None)

    def frames_where(self, keep: Callable[[int], bool]) -> Iterator[Frame]:
        """Only the frames `keep` accepts are converted to images (cap.read = grab +
        retrieve, so they are the same images); the rest are only decoded."""
        return self._frames(keep)

    def _frames(self, keep: Callable[[int], bool] | None) -> Iterator[Frame]:
        self.close()
        rec = self.recording
        cap = cv2.VideoCapture(str(rec.video_path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise RecordingError(f"recording video {rec.video_path} cannot be opened")
        self._cap = cap
        self.frames_read = 0
        start = time.monotonic()
        t0 = rec.timestamps[0]
        for index, t_s in enumerate(rec.timestamps):
            wanted = keep is None or keep(index)
            ok, image = cap.read() if wanted else (cap.grab(), None)
            if not ok or (wanted and image is None):
                message = f"{rec.video_path}: frame {index} of {rec.frame_count} cannot be decoded"
                if rec.complete:
                    raise FrameReadError(message)
                log.warning("%s; replay ends early", message)
                return
            if self.timing == "realtime":
                delay = start + (t_s - t0) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self.frames_read = index + 1
            if wanted:
                yield Frame(np.ascontiguousarray(image, dtype=np.uint8), index=index, t_s=t_s)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
