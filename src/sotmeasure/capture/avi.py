"""A crash-safe AVI writer for recordings (Motion-JPEG or PNG frames).

Why not `cv2.VideoWriter`: FFmpeg buffers its output (32 KiB and more) and a muxer
may hold whole clusters in memory, so a recorder killed with `kill -9` loses its
last frames, and an MP4 without its final `moov` atom cannot be read at all. We
measured it: with OpenCV's writer, small frames left a 0-byte file after 20 frames.

This writer encodes each frame itself (`cv2.imencode`, JPEG or PNG), appends it as
one AVI chunk, rewrites the header counts in place and flushes + fsyncs before it
returns. At every moment the file is a valid index-less AVI holding every frame
whose `write` returned; `close()` adds the `idx1` index. OpenCV's bundled FFmpeg
reads both states (tests/capture cover it), and so do common players.

Layout (AVI 1.0, one video stream):
RIFF 'AVI ' [ LIST 'hdrl' [ avih, LIST 'strl' [ strh, strf ] ], LIST 'movi' [ 00dc ... ], idx1 ]
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.capture.errors import RecordingError
from sotmeasure.closing import ClosesOnExit

AviCodec = Literal["mjpeg", "png"]

# AVI 1.0 keeps sizes in 32-bit fields; stay clear of the 4 GiB wrap with a margin.
MAX_AVI_BYTES = (1 << 32) - (64 << 20)

_FOURCC: dict[str, bytes] = {"mjpeg": b"MJPG", "png": b"MPNG"}
_AVIF_HASINDEX = 0x10
_AVIIF_KEYFRAME = 0x10
_FPS_SCALE = 1000  # the frame rate is stored as dwRate / dwScale

# Byte offsets of the fields rewritten after every frame (fixed by the header layout below).
_OFF_RIFF_SIZE = 4
_OFF_AVIH_FLAGS = 32 + 12
_OFF_AVIH_TOTAL_FRAMES = 32 + 16
_OFF_STRH_LENGTH = 32 + 56 + 12 + 8 + 32
_HEADER_BYTES = 12 + 12 + 64 + 12 + 64 + 48 + 12  # up to and including 'movi'
_OFF_MOVI_SIZE = _HEADER_BYTES - 8


def _header(width: int, height: int, fps: float, codec: AviCodec) -> bytes:
    """The fixed-size AVI header, with zero frame counts that `write` keeps up to date."""
    fourcc = _FOURCC[codec]
    rate = round(fps * _FPS_SCALE)
    usec_per_frame = round(1_000_000 / fps)
    avih = struct.pack(
        "<4sI10I4I",
        b"avih",
        56,
        usec_per_frame,
        0,  # max bytes per second (unknown, optional)
        0,  # padding granularity
        0,  # flags: AVIF_HASINDEX is set on close, when idx1 exists
        0,  # total frames, rewritten after every frame
        0,  # initial frames
        1,  # streams
        0,  # suggested buffer size
        width,
        height,
        0,
        0,
        0,
        0,
    )
    strh = struct.pack(
        "<4sI4s4sIHHIIIIIIIIhhhh",
        b"strh",
        56,
        b"vids",
        fourcc,
        0,  # flags
        0,  # priority
        0,  # language
        0,  # initial frames
        _FPS_SCALE,
        rate,
        0,  # start
        0,  # length in frames, rewritten after every frame
        0,  # suggested buffer size
        0xFFFFFFFF,  # quality: default
        0,  # sample size: variable
        0,
        0,
        width,
        height,
    )
    strf = struct.pack(
        "<4sIIiiHH4sIiiII",
        b"strf",
        40,
        40,
        width,
        height,
        1,
        24,
        fourcc,
        width * height * 3,
        0,
        0,
        0,
        0,
    )
    strl = b"LIST" + struct.pack("<I", 4 + len(strh) + len(strf)) + b"strl" + strh + strf
    hdrl_body = b"hdrl" + avih + strl
    hdrl = b"LIST" + struct.pack("<I", len(hdrl_body)) + hdrl_body
    out = b"RIFF" + struct.pack("<I", 0) + b"AVI " + hdrl + b"LIST" + struct.pack("<I", 4) + b"movi"
    if len(out) != _HEADER_BYTES:  # guards the fixed offsets above
        raise AssertionError(f"AVI header is {len(out)} bytes, expected {_HEADER_BYTES}")
    return out


def stream_header(width: int, height: int, fps: float, codec: AviCodec = "mjpeg") -> bytes:
    """The header of an AVI that is read as a stream while it is written (web/capture's
    live measurement): the same header as a file's, with RIFF and 'movi' sizes that say
    "more follows" instead of the zero a fresh file holds, so a demuxer reading a pipe
    does not stop before the first frame."""
    out = bytearray(_header(width, height, fps, codec))
    for offset in (_OFF_RIFF_SIZE, _OFF_MOVI_SIZE):
        out[offset : offset + 4] = struct.pack("<I", MAX_AVI_BYTES)
    return bytes(out)


def frame_chunk(data: bytes) -> bytes:
    """One encoded frame as the AVI chunk the writer appends (the stream repeats it)."""
    return b"00dc" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1)


#: Called with each frame's encoded bytes once the frame is on disk (see AviFrameWriter).
FrameTap = Callable[[bytes], None]


class AviFrameWriter(ClosesOnExit):
    """Append BGR frames to an AVI file so that every written frame survives a crash.

    `tap`, if given, gets each frame's encoded bytes after the frame is on disk: the
    same bytes the file holds, so a reader of the tap decodes exactly the stored frames.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float,
        codec: AviCodec = "mjpeg",
        jpeg_quality: int = 95,
        png_compression: int = 1,
        tap: FrameTap | None = None,
    ) -> None:
        if codec not in _FOURCC:
            raise RecordingError(f"unknown recording codec {codec!r}; use 'mjpeg' or 'png'")
        if width <= 0 or height <= 0:
            raise RecordingError(f"frame size must be positive, got {width}x{height}")
        if not fps > 0:
            raise RecordingError(f"frame rate must be positive, got {fps}")
        self.path = Path(path)
        self.width = width
        self.height = height
        self.codec: AviCodec = codec
        self.frame_count = 0
        self._tap = tap
        if codec == "mjpeg":
            self._ext = ".jpg"
            self._params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        else:
            self._ext = ".png"
            self._params = [cv2.IMWRITE_PNG_COMPRESSION, png_compression]
        self._index: list[tuple[int, int]] = []  # (offset from 'movi' fourcc, chunk size)
        self._fh: BinaryIO | None = self.path.open("xb")
        self._fh.write(_header(width, height, fps, codec))
        self._end = _HEADER_BYTES
        self._sync()

    def write(self, image: npt.NDArray[np.uint8]) -> None:
        """Encode and append one frame; when this returns the frame is on disk."""
        fh = self._require_open()
        if image.shape[:2] != (self.height, self.width):
            raise RecordingError(
                f"frame is {image.shape[1]}x{image.shape[0]} but the recording is "
                f"{self.width}x{self.height}"
            )
        ok, encoded = cv2.imencode(self._ext, image, self._params)
        if not ok:
            raise RecordingError(f"could not encode frame {self.frame_count} as {self.codec}")
        data = encoded.tobytes()
        pad = len(data) & 1
        if self._end + 8 + len(data) + pad + 16 * (len(self._index) + 1) + 8 > MAX_AVI_BYTES:
            raise RecordingError(
                f"recording reached the 4 GiB AVI size limit after {self.frame_count} frames"
            )
        fh.seek(self._end)
        fh.write(frame_chunk(data))
        self._index.append((self._end - (_HEADER_BYTES - 4), len(data)))
        self._end += 8 + len(data) + pad
        self.frame_count += 1
        self._write_counts(fh)
        self._sync()
        if self._tap is not None:
            self._tap(data)

    def close(self) -> None:
        """Append the index and final sizes. Safe to call twice."""
        fh = self._fh
        if fh is None:
            return
        try:
            fh.seek(self._end)
            idx = b"".join(
                b"00dc" + struct.pack("<III", _AVIIF_KEYFRAME, off, size)
                for off, size in self._index
            )
            fh.write(b"idx1" + struct.pack("<I", len(idx)) + idx)
            self._end += 8 + len(idx)
            self._write_counts(fh)
            fh.seek(_OFF_AVIH_FLAGS)
            fh.write(struct.pack("<I", _AVIF_HASINDEX))
            self._sync()
        finally:
            fh.close()
            self._fh = None

    def _write_counts(self, fh: BinaryIO) -> None:
        """Rewrite the sizes and frame counts so the file is valid as it stands."""
        movi_size = 4 + sum(8 + size + (size & 1) for _, size in self._index)
        for offset, value in (
            (_OFF_RIFF_SIZE, self._end - 8),
            (_OFF_AVIH_TOTAL_FRAMES, self.frame_count),
            (_OFF_STRH_LENGTH, self.frame_count),
            (_OFF_MOVI_SIZE, movi_size),
        ):
            fh.seek(offset)
            fh.write(struct.pack("<I", value))

    def _sync(self) -> None:
        fh = self._require_open()
        fh.flush()
        os.fsync(fh.fileno())

    def _require_open(self) -> BinaryIO:
        if self._fh is None:
            raise RecordingError(f"the recording video {self.path} is already closed")
        return self._fh
