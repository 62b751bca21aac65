"""Is this upload what it claims to be? Decided by opening it, never by its name.

Two kinds are accepted: a video file (MP4/MOV, AVI, Matroska/WebM; the container is
recognised from its first bytes, then OpenCV must open it and decode a frame of sane size)
and a zip of a recording folder (every member name checked, sizes and compression ratios
bounded before and during extraction, exactly one video inside that passes the same check).
"""

from __future__ import annotations

import logging
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sotmeasure.errors import SotmeasureError
from sotmeasure.private_files import DIR_MODE, open_private, private_dir
from sotmeasure.settings import megabytes

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")
_COPY_CHUNK = 1 << 20


class UploadRejectedError(SotmeasureError):
    """The upload is not a readable video or recording (HTTP 422)."""

    exit_code = 2


class UnsupportedMediaError(UploadRejectedError):
    """The bytes are neither a known video container nor a zip (HTTP 415)."""


@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_members: int
    max_total_bytes: int
    max_ratio: float


@dataclass(frozen=True, slots=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    container: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "frame_count": self.frame_count,
            "container": self.container,
        }


@dataclass(frozen=True, slots=True)
class LengthLimits:
    """The longest recording this installation measures (settings: max_recording_s,
    max_recording_frames): one worker must not be blocked for every clinic by one file."""

    max_frames: int
    max_duration_s: float


class RecordingTooLongError(UploadRejectedError):
    """The recording is longer than the installation measures (HTTP 422)."""


def check_length(info: VideoInfo, limits: LengthLimits) -> None:
    """Refuse a video whose container says it is too long (no frame is decoded for this).

    Some containers state no frame count (OpenCV then reports none or an estimate); such a
    video passes here and the measurement stops at the same limits while it streams."""
    if info.frame_count > limits.max_frames:
        raise RecordingTooLongError(
            f"the recording has {info.frame_count} frames; this installation measures "
            f"recordings of at most {limits.max_frames} frames (SOTMEASURE_MAX_RECORDING_FRAMES)"
        )
    if info.fps > 0 and info.frame_count > 1:
        seconds = info.frame_count / info.fps
        if seconds > limits.max_duration_s:
            raise RecordingTooLongError(
                f"the recording is {seconds:.1f} s long; this installation measures recordings "
                f"of at most {limits.max_duration_s:g} s (SOTMEASURE_MAX_RECORDING_S): "
                "upload the still part around the measurement"
            )


def sniff_kind(head: bytes) -> tuple[str, str]:
    """(kind, file suffix) from the first bytes: ("video", ".mp4") or ("recording_zip", ".zip")."""
    if head.startswith(b"PK\x03\x04"):
        return "recording_zip", ".zip"
    if head.startswith(b"PK\x05\x06"):
        raise UploadRejectedError("the zip file is empty: zip the whole recording folder")
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        return "video", ".mov" if head[8:12] == b"qt  " else ".mp4"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video", ".avi"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", ".mkv"
    raise UnsupportedMediaError(
        "this file is not a video (MP4, MOV, AVI, MKV/WebM) or a zipped recording folder"
    )


def check_video(path: Path, *, max_side_px: int) -> VideoInfo:
    """Open the video with OpenCV and decode its first frame; raise if that is impossible."""
    import cv2  # imported here: the API process does not need OpenCV until an upload arrives

    container = path.suffix.lstrip(".") or "unknown"
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise UploadRejectedError("the video cannot be opened: it is damaged or incomplete")
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            raise UploadRejectedError("the video has no picture size: it is damaged")
        if max(width, height) > max_side_px:
            raise UploadRejectedError(
                f"the video is {width}x{height} pixels; the largest side allowed is {max_side_px}"
            )
        ok, frame = cap.read()
        if not ok or frame is None:
            raise UploadRejectedError("no frame of the video could be decoded: it is damaged")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    return VideoInfo(width, height, round(fps, 3), max(frame_count, 1), container)


def _safe_member_path(name: str) -> PurePosixPath:
    """The member's relative path, or an error for absolute, parent-escaping or odd names."""
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UploadRejectedError(f"the zip holds an unsafe file name: {name[:80]!r}")
    parts = PurePosixPath(name).parts
    if not parts or any(part in ("..", "") for part in parts):
        raise UploadRejectedError(f"the zip holds an unsafe file name: {name[:80]!r}")
    return PurePosixPath(*parts)


def check_zip_listing(path: Path, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """Refuse traversal names, links, encrypted members and zip bombs before extracting."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise UploadRejectedError("the zip file is damaged and cannot be read") from exc
    with archive:
        members = archive.infolist()
    if not members:
        raise UploadRejectedError("the zip file is empty: zip the whole recording folder")
    if len(members) > limits.max_members:
        raise UploadRejectedError(
            f"the zip holds {len(members)} files; at most {limits.max_members} are allowed"
        )
    total = 0
    for info in members:
        _safe_member_path(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UploadRejectedError(
                f"the zip holds a link, which is not allowed: {info.filename}"
            )
        if info.flag_bits & 0x1:
            raise UploadRejectedError("the zip is encrypted; upload an unencrypted zip")
        total += info.file_size
        if info.file_size > 0 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UploadRejectedError(
                "the zip expands far more than any recording does (a zip bomb?); rejected"
            )
    if total > limits.max_total_bytes:
        raise UploadRejectedError(
            f"the zip would expand to {megabytes(total)}; at most "
            f"{megabytes(limits.max_total_bytes)} are allowed"
        )
    return members


def extract_zip(path: Path, target: Path, limits: ZipLimits) -> None:
    """Extract into `target` (new folder), counting real bytes: headers can lie."""
    members = check_zip_listing(path, limits)
    target.mkdir(parents=True, mode=DIR_MODE)
    target.chmod(DIR_MODE)
    written = 0
    with zipfile.ZipFile(path) as archive:
        for info in members:
            relative = _safe_member_path(info.filename)
            destination = target.joinpath(*relative.parts)
            if not destination.resolve().is_relative_to(target.resolve()):
                raise UploadRejectedError(f"the zip holds an unsafe file name: {info.filename!r}")
            if info.is_dir():
                private_dir(destination)
                continue
            private_dir(destination.parent)
            member_written = 0
            try:
                with archive.open(info) as src, open_private(destination) as dst:
                    while chunk := src.read(_COPY_CHUNK):
                        member_written += len(chunk)
                        written += len(chunk)
                        if member_written > info.file_size or written > limits.max_total_bytes:
                            raise UploadRejectedError(
                                "the zip expands beyond its declared size (a zip bomb?); rejected"
                            )
                        dst.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise UploadRejectedError(
                    f"the zip member {info.filename!r} cannot be extracted: {exc}"
                ) from exc
            except RuntimeError as exc:  # zipfile raises RuntimeError for unsupported methods
                raise UploadRejectedError(f"the zip cannot be extracted: {exc}") from exc


def find_recording_video(folder: Path) -> Path:
    """The single video of an extracted recording folder (at most two folder levels deep)."""
    videos = sorted(
        p
        for pattern in ("*", "*/*", "*/*/*")
        for p in folder.glob(pattern)
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
    )
    if not videos:
        raise UploadRejectedError("the zipped recording holds no video file")
    if len(videos) > 1:
        raise UploadRejectedError(
            f"the zipped recording holds {len(videos)} videos; zip one recording at a time"
        )
    return videos[0]


def check_recording_folder(folder: Path, unpacked_root: Path) -> None:
    """A folder with meta.json must load as a recording (known format version, timestamps
    that parse, frame counts and video hash that agree); a plain video folder passes.

    Why: a recording's meta.json and timestamps describe how to read its video; one of an
    unknown version or with damaged timestamps cannot be measured as the recorder meant.
    """
    if not (folder / "meta.json").is_file():
        return
    from sotmeasure.capture.errors import RecordingError
    from sotmeasure.capture.recording import load_recording

    try:
        load_recording(folder)
    except RecordingError as exc:
        reason = str(exc).replace(f"{unpacked_root}/", "").replace(str(unpacked_root), "")
        raise UploadRejectedError(f"the zipped recording is not valid: {reason}") from exc


def remove_tree_quietly(path: Path) -> None:
    """Best-effort clean-up of scratch folders (a failure here must not hide the real error)."""
    shutil.rmtree(path, ignore_errors=True)
