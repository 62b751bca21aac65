"""Content-addressed recording files under `<data_dir>/recordings/`.

A stored file is named after the sha256 of its bytes and nothing else (the client's file
name never reaches the file system). Bytes are first written to `<data_dir>/tmp/`, checked
by opening them, then moved into place with os.replace (atomic on one file system), so a
crash leaves either nothing or a complete file, never a half-written one. The same bytes
uploaded twice are stored once. Bytes whose database row was never committed (the commit
failed, or the server died first) are removed: see `RecordingFiles.store`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sotmeasure.errors import SotmeasureError
from sotmeasure.private_files import open_private, private_dir
from sotmeasure.settings import megabytes
from sotmeasure.store.media_checks import (
    LengthLimits,
    UploadRejectedError,
    ZipLimits,
    check_length,
    check_recording_folder,
    check_video,
    extract_zip,
    find_recording_video,
    remove_tree_quietly,
    sniff_kind,
)

log = logging.getLogger(__name__)

PLACING_DIR = ".placing"  # markers of bytes placed whose row is not committed yet
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


@dataclass(frozen=True, slots=True)
class _Staged:
    """Checked bytes in the scratch folder and where they go when placed."""

    stored: StoredRecording
    moves: tuple[tuple[Path, Path], ...]


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
        length_limits: LengthLimits,
    ) -> None:
        self.recordings_dir = recordings_dir
        self.length_limits = length_limits
        self.tmp_dir = tmp_dir
        self.max_upload_bytes = max_upload_bytes
        self.zip_limits = zip_limits
        self.max_video_side_px = max_video_side_px
        self._placing_lock = threading.Lock()
        self._placing: dict[str, int] = {}  # sha256 -> stores of those bytes in progress

    @contextmanager
    def store(
        self, stream: BinaryIO, is_referenced: Callable[[str], bool]
    ) -> Iterator[StoredRecording]:
        """Copy, hash, check and place an upload, then let the caller commit its row.

        The bytes are checked in `tmp/` (no database transaction is open meanwhile), placed
        in the recordings folder with a marker in `.placing/`, and the block runs (it writes
        and commits the row). When the last concurrent store of the same bytes ends, the
        marker goes, and so do the bytes unless a committed row (`is_referenced(sha256)`)
        points at them: a failed commit leaves no orphan file. A server killed inside the
        block leaves the marker, and `sweep_unfinished` removes such files at start-up.
        Bad bytes raise before anything is placed.
        """
        scratch = self.tmp_dir / f"upload-{uuid.uuid4().hex}"
        try:
            staged = self._stage(stream, scratch)
            self._begin_placing(staged)
            try:
                yield staged.stored
            finally:
                self._end_placing(staged.stored.sha256, is_referenced)
        finally:
            for leftover in (
                scratch.with_suffix(".part"),
                *scratch.parent.glob(scratch.name + ".*"),
            ):
                if leftover.is_dir():
                    remove_tree_quietly(leftover)
                else:
                    leftover.unlink(missing_ok=True)

    def _stage(self, stream: BinaryIO, scratch: Path) -> _Staged:
        private_dir(self.recordings_dir)
        private_dir(self.tmp_dir)
        part = scratch.with_suffix(".part")
        digest, size, head = self._copy_limited(stream, part)
        if size == 0:
            raise UploadRejectedError("the uploaded file is empty")
        kind, suffix = sniff_kind(head)
        checked = part.rename(scratch.with_suffix(suffix))
        if kind == "video":
            return self._stage_video(checked, digest, size, suffix)
        return self._stage_zip(checked, digest, size, scratch.with_suffix(".d"))

    def _begin_placing(self, staged: _Staged) -> None:
        """Marker first, then the moves (atomic renames; existing bytes are kept)."""
        sha = staged.stored.sha256
        with self._placing_lock:
            self._placing[sha] = self._placing.get(sha, 0) + 1
            marker = self._marker(sha)
            if not marker.exists():
                private_dir(marker.parent)
                with open_private(marker, exclusive=False) as out:
                    out.flush()
                    os.fsync(out.fileno())
            for source, final in staged.moves:
                if not final.exists():
                    source.replace(final)

    def _end_placing(self, sha: str, is_referenced: Callable[[str], bool]) -> None:
        with self._placing_lock:
            self._placing[sha] -= 1
            if self._placing[sha] > 0:
                return  # another request is storing the same bytes: it decides
            del self._placing[sha]
            try:
                referenced = is_referenced(sha)
            except Exception:
                log.exception("could not check recording %s; left for the start-up sweep", sha)
                return
            if not referenced:
                self._remove_content(sha)
            self._unmark(sha)

    def sweep_unfinished(self, is_referenced: Callable[[str], bool]) -> list[str]:
        """Start-up: remove bytes a killed server placed but never committed a row for.

        Only content named by a `.placing` marker is considered, so files of a database
        that merely is not the one configured are never touched. Run before requests.
        """
        folder = self.recordings_dir / PLACING_DIR
        if not folder.is_dir():
            return []
        removed: list[str] = []
        for marker in sorted(folder.iterdir()):
            if not is_referenced(marker.name):
                self._remove_content(marker.name)
                removed.append(marker.name)
            self._unmark(marker.name)
        if removed:
            log.warning("removed %d recording(s) stored by an interrupted upload", len(removed))
        return removed

    def _marker(self, sha: str) -> Path:
        return self.recordings_dir / PLACING_DIR / sha

    def _unmark(self, sha: str) -> None:
        marker = self._marker(sha)
        marker.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            marker.parent.rmdir()  # only when empty: no marker folder left lying around

    def _remove_content(self, sha: str) -> None:
        for path in self.recordings_dir.glob(f"{sha}*"):
            if path.name != sha and not path.name.startswith(f"{sha}."):
                continue
            if path.is_dir() and not path.is_symlink():
                remove_tree_quietly(path)
            else:
                path.unlink(missing_ok=True)

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

    def _stage_video(self, checked: Path, digest: str, size: int, suffix: str) -> _Staged:
        info = check_video(checked, max_side_px=self.max_video_side_px)
        check_length(info, self.length_limits)
        name = f"{digest}{suffix}"
        stored = StoredRecording(digest, "video", name, size, info.to_dict())
        return _Staged(stored, ((checked, self.recordings_dir / name),))

    def _stage_zip(self, checked: Path, digest: str, size: int, unpack: Path) -> _Staged:
        extract_zip(checked, unpack, self.zip_limits)
        video = find_recording_video(unpack)
        check_recording_folder(video.parent, unpack)
        info = check_video(video, max_side_px=self.max_video_side_px)
        check_length(info, self.length_limits)
        media = info.to_dict() | {"video": video.relative_to(unpack).as_posix()}
        name = f"{digest}.zip"
        stored = StoredRecording(digest, "recording_zip", name, size, media)
        return _Staged(
            stored,
            ((unpack, self.recordings_dir / digest), (checked, self.recordings_dir / name)),
        )

    def file_path(self, stored_name: str) -> Path:
        """The stored file (video or zip) of a recording row."""
        return self._inside(self.recordings_dir / stored_name)

    def video_path(self, kind: str, stored_name: str, media: dict[str, Any]) -> Path:
        """The video to measure: the file itself, or the video inside an unpacked zip."""
        if kind == "video":
            return self.file_path(stored_name)
        folder = self.recordings_dir / stored_name.removesuffix(".zip")
        return self._inside(folder / str(media.get("video", "")))

    def erase(self, kind: str, stored_name: str) -> None:
        """Remove a recording's bytes for good: the file, and a zip's unpacked folder.

        Called only after the row is deleted and committed (services/erasure.py); a file
        already gone is fine (erasure is idempotent)."""
        self.file_path(stored_name).unlink(missing_ok=True)
        if kind == "recording_zip":
            folder = self._inside(self.recordings_dir / stored_name.removesuffix(".zip"))
            if folder != self.recordings_dir and folder.is_dir():
                remove_tree_quietly(folder)

    def _inside(self, path: Path) -> Path:
        """Refuse any path that would leave the recordings folder (defence in depth)."""
        if not path.resolve().is_relative_to(self.recordings_dir.resolve()):
            raise SotmeasureError("a stored recording path points outside the data folder")
        return path
