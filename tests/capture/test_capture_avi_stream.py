"""The recorder's tap read back through an AVI stream (a named pipe) gives exactly the frames
and times of the stored file: what the live measurement of a capture relies on."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from capture_frames_util import noise_image

from sotmeasure.capture.avi_stream import AviStream
from sotmeasure.capture.frame import Frame
from sotmeasure.capture.recorder import VIDEO_FILE, Recorder
from sotmeasure.capture.video import VideoFileSource


def test_frames_read_through_the_stream_equal_the_stored_files(tmp_path: Path) -> None:
    height, width = noise_image(0).shape[:2]
    stream = AviStream(tmp_path / "copy.avi", width=width, height=height, fps=30.0)
    read: list[Frame] = []

    def reader() -> None:
        with stream.source() as source:
            read.extend(source)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with Recorder(
            tmp_path / "rec",
            fps=30.0,
            size=(width, height),
            source_description="test",
            tap=stream.push,
        ) as recorder:
            for k in range(12):
                recorder.write(Frame(noise_image(k), k, k / 30.0))
        stream.end()
        thread.join()
    finally:
        stream.close()
    stored = list(VideoFileSource(tmp_path / "rec" / VIDEO_FILE))
    assert [f.index for f in read] == [f.index for f in stored] == list(range(12))
    assert [f.t_s for f in read] == [f.t_s for f in stored]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(read, stored, strict=True))
    assert not (tmp_path / "copy.avi").exists()  # the pipe is gone with the stream
