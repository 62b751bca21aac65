"""A recording's AVI, written into a named pipe while it is read: a live copy of its frames.

Why a pipe: the live measurement of a capture (web/capture.py) must see exactly the frames a
later measurement of the stored file sees. A JPEG decoded with `cv2.imdecode` differs from
the same JPEG decoded by FFmpeg (what `VideoFileSource` reads a file with) by up to 45 grey
levels, so the copy is decoded by the same `VideoFileSource` code, reading an AVI made of
the stored header and chunk bytes (`AviFrameWriter`'s tap). Frames and presentation times
come out identical to the file's.

The writer end is opened read-write and non-blocking, so neither side waits for the other
to open; a feeder thread holds the chunks the reader has not taken yet (encoded frames:
~100-200 kB each at 720p) and closes its end only once the reader took everything, which is
the reader's end of file.
"""

from __future__ import annotations

import array
import fcntl
import os
import select
import termios
import threading
from collections import deque
from pathlib import Path

from sotmeasure.capture.avi import AviCodec, frame_chunk, stream_header
from sotmeasure.capture.video import VideoFileSource
from sotmeasure.closing import ClosesOnExit

_WAIT_S = 0.05


class AviStream(ClosesOnExit):
    """Frames pushed as encoded bytes, read back as a `VideoFileSource` over a named pipe."""

    def __init__(
        self, fifo: Path, *, width: int, height: int, fps: float, codec: AviCodec = "mjpeg"
    ) -> None:
        self.path = fifo
        os.mkfifo(fifo, 0o600)
        self._fd: int | None = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self._chunks: deque[bytes] = deque([stream_header(width, height, fps, codec)])
        self._cond = threading.Condition()
        self._ended = False
        self._stop = False
        self._thread = threading.Thread(target=self._feed, name="sotmeasure-avi-feed", daemon=True)
        self._thread.start()

    def push(self, encoded: bytes) -> None:
        """Append one frame's encoded bytes (as `AviFrameWriter` wrote them)."""
        with self._cond:
            self._chunks.append(frame_chunk(encoded))
            self._cond.notify()

    def end(self) -> None:
        """No more frames: the reader gets its end of file once it has read them all."""
        with self._cond:
            self._ended = True
            self._cond.notify()

    def source(self) -> VideoFileSource:
        """The reader (its constructor waits for the first frame)."""
        return VideoFileSource(self.path)

    def _next(self) -> bytes | None:
        with self._cond:
            while not self._chunks and not self._ended and not self._stop:
                self._cond.wait()
            if self._stop or not self._chunks:
                return None
            return self._chunks.popleft()

    def _feed(self) -> None:
        fd = self._fd
        assert fd is not None
        try:
            while (chunk := self._next()) is not None:
                view = memoryview(chunk)
                while view and not self._stop:
                    try:
                        view = view[os.write(fd, view) :]
                    except BlockingIOError:
                        select.select([], [fd], [], _WAIT_S)
            # Close only once the reader has taken every byte: closing earlier would drop
            # what is still in the pipe.
            while not self._stop and _unread(fd) > 0:
                select.select([], [], [], _WAIT_S)
        finally:
            with self._cond:
                self._fd = None
            os.close(fd)

    def close(self) -> None:
        """Stop feeding (a reader still reading gets its end of file) and remove the pipe."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join()
        self.path.unlink(missing_ok=True)


def _unread(fd: int) -> int:
    """Bytes in the pipe that no reader has taken yet."""
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int(buf[0])
