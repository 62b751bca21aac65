"""Content-addressed recording files under `<data_dir>/recordings/`.

A stored file is named after the sha256 of its bytes and nothing else (the client's file
name never reaches the file system). Bytes are first written to `<data_dir>/tmp/`, checked
by opening them, then moved into place with os.replace (atomic on one file system), so a
crash leaves either nothing or a complete file, never a half-written one. The same bytes
uploaded twice are stored once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sotmeasure.errors import SotmeasureError
from sotmeasure.private_files import open_private, private_dir
from sotmeasure.settings import megabytes
from sotmeasure.store.media_checks import (
    UploadRejectedError,
    ZipLimits,
    check_recording_folder,
    check_video,
    extract_zip,
    find_recording_video,
    remove_tree_quietly,
    sniff_kind,
)

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_SNIFF_BYTES = 64


class UploadTooLargeError(SotmeasureError):
    """The upload is larger than the configured limit (HTTP 413)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class StoredRecording:
    """What was stored: enough to create the `recordings` row."""

    sha256: str
    kind: str  # "video" | "recording_zip"
    stored_name: str  # relative to the recordings folder
    size_bytes: int
    media: dict[str, Any] = field(default_factory=dict)


class RecordingFiles:
    """The recordings folder: store a stream, find a stored recording's video."""

    def __init__(
        self,
        recordings_dir: Path,
        tmp_dir: Path,
        *,
        max_upload_bytes: int,
        zip_limits: ZipLimits,
        max_video_side_px: int,
    ) -> None:
        self.recordings_dir = recordings_dir
        self.tmp_dir = tmp_dir
        self.max_upload_bytes = max_upload_bytes
        self.zip_limits = zip_limits
        self.max_video_side_px = max_video_side_px

    def store_stream(self, stream: BinaryIO) -> StoredRecording:
        """Copy, hash, check and store an upload; raise (storing nothing) when it is bad."""
        private_dir(self.recordings_dir)
        private_dir(self.tmp_dir)
        scratch = self.tmp_dir / f"upload-{uuid.uuid4().hex}"
        part = scratch.with_suffix(".part")
        try:
            digest, size, head = self._copy_limited(stream, part)
            if size == 0:
                raise UploadRejectedError("the uploaded file is empty")
            kind, suffix = sniff_kind(head)
            checked = part.rename(scratch.with_suffix(suffix))
            if kind == "video":
                return self._store_video(checked, digest, size, suffix)
            return self._store_zip(checked, digest, size, scratch.with_suffix(".d"))
        finally:
            for leftover in (part, *scratch.parent.glob(scratch.name + ".*")):
                if leftover.is_dir():
                    remove_tree_quietly(leftover)
                else:
                    leftover.unlink(missing_ok=True)

    def _copy_limited(self, stream: BinaryIO, target: Path) -> tuple[str, int, bytes]:
        digest = hashlib.sha256()
        size = 0
        head = b""
        with open_private(target) as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > self.max_upload_bytes:
                    raise UploadTooLargeError(
                        f"the upload is larger than the limit of {megabytes(self.max_upload_bytes)}"
                    )
                if len(head) < _SNIFF_BYTES:
                    head += chunk[: _SNIFF_BYTES - len(head)]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return digest.hexdigest(), size, head

    def _store_video(self, checked: Path, digest: str, size: int, suffix: str) -> StoredRecording:
        info = check_video(checked, max_side_px=self.max_video_side_px)
        name = f"{digest}{suffix}"
        final = self.recordings_dir / name
        if not final.exists():
            checked.replace(final)
        return StoredRecording(digest, "video", name, size, info.to_dict())

    def _store_zip(self, checked: Path, digest: str, size: int, unpack: Path) -> StoredRecording:
        extract_zip(checked, unpack, self.zip_limits)
        video = find_recording_video(unpack)
        check_recording_folder(video.parent, unpack)
        info = check_video(video, max_side_px=self.max_video_side_px)
        media = info.to_dict() | {"video": video.relative_to(unpack).as_posix()}
        final_dir = self.recordings_dir / digest
        if not final_dir.exists():
            unpack.replace(final_dir)
        name = f"{digest}.zip"
        final = self.recordings_dir / name
        if not final.exists():
            checked.replace(final)
        return StoredRecording(digest, "recording_zip", name, size, media)

    def file_path(self, stored_name: str) -> Path:
        """The stored file (video or zip) of a recording row."""
        return self._inside(self.recordings_dir / stored_name)

    def video_path(self, kind: str, stored_name: str, media: dict[str, Any]) -> Path:
        """The video to measure: the file itself, or the video inside an unpacked zip."""
        if kind == "video":
            return self.file_path(stored_name)
        folder = self.recordings_dir / stored_name.removesuffix(".zip")
        return self._inside(folder / str(media.get("video", "")))

    def _inside(self, path: Path) -> Path:
        """Refuse any path that would leave the recordings folder (defence in depth)."""
        if not path.resolve().is_relative_to(self.recordings_dir.resolve()):
            raise SotmeasureError("a stored recording path points outside the data folder")
        return path
