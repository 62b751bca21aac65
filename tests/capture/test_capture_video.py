"""VideoFileSource: which frame comes out, at what time, and how broken files fail."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from capture_frames_util import decode_index, write_video

from sotmeasure.capture import VideoFileSource, VideoOpenError


def test_frames_come_out_in_order_with_container_times(indexed_mp4: Path) -> None:
    with VideoFileSource(indexed_mp4) as src:
        info = src.info
        frames = list(src)
    assert (info.kind, info.width, info.height, info.fps, info.frame_count) == (
        "video",
        160,
        96,
        10.0,
        12,
    )
    assert [f.index for f in frames] == list(range(12))
    assert [decode_index(f.image) for f in frames] == list(range(12))
    assert [f.t_s for f in frames] == pytest.approx([i / 10 for i in range(12)], abs=1e-6)
    assert src.frames_read == 12
    assert not src.ended_early


def test_iterating_again_starts_from_the_first_frame(indexed_mp4: Path) -> None:
    with VideoFileSource(indexed_mp4) as src:
        first = [decode_index(f.image) for f in src]
        second = [decode_index(f.image) for f in src]
    assert first == second == list(range(12))


def test_content_not_starting_at_zero_is_reported_as_is(tmp_path: Path) -> None:
    """The test pattern itself: a video of indices 40..44 must decode as 40..44."""
    path = write_video(tmp_path / "offset.avi", 5, fourcc="MJPG", indices=range(40, 45))
    with VideoFileSource(path) as src:
        assert [decode_index(f.image) for f in src] == [40, 41, 42, 43, 44]


def test_truncated_avi_ends_early_at_a_good_frame_and_says_so(
    indexed_avi: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cut = tmp_path / "cut.avi"
    shutil.copy(indexed_avi, cut)
    with cut.open("r+b") as fh:  # drop the last 30 % (frames and the idx1 index)
        fh.truncate(int(indexed_avi.stat().st_size * 0.7))
    with caplog.at_level(logging.WARNING), VideoFileSource(cut) as src:
        frames = list(src)
    assert src.declared_frame_count == 30
    assert src.ended_early
    assert 0 < src.frames_read == len(frames) < 30
    # Every frame that came out is the frame it claims to be (the one at the cut is withheld).
    assert [decode_index(f.image) for f in frames] == list(range(len(frames)))
    assert "decoding stopped" in caplog.text


def test_mp4_cut_before_its_index_cannot_be_opened(indexed_mp4: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    shutil.copy(indexed_mp4, cut)
    with cut.open("r+b") as fh:  # OpenCV's MP4 writer puts the moov atom last
        fh.truncate(indexed_mp4.stat().st_size // 2)
    with pytest.raises(VideoOpenError, match=r"cannot open video .*cut\.mp4"):
        VideoFileSource(cut)


def test_garbage_named_mp4_is_not_a_video(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(VideoOpenError, match="not a video"):
        VideoFileSource(garbage)


def test_zero_length_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VideoOpenError, match=r"empty \(0 bytes\)"):
        VideoFileSource(empty)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(VideoOpenError, match="not found"):
        VideoFileSource(tmp_path / "nope.mp4")
    with pytest.raises(VideoOpenError, match="folder"):
        VideoFileSource(tmp_path)


def test_real_clip_pose_1(pose_1_mp4: Path) -> None:
    with VideoFileSource(pose_1_mp4) as src:
        info = src.info
        times = [f.t_s for f in src]
    assert (info.width, info.height, info.fps, info.frame_count) == (576, 576, 30.0, 120)
    assert len(times) == 120
    assert times == pytest.approx([i / 30 for i in range(120)], abs=1e-3)


def test_frames_where_gives_the_chosen_frames_as_iteration_does(pose_1_mp4: Path) -> None:
    """The table pose's pass passes over unused frames without converting them: the frames
    it keeps are those of a full iteration, pixel for pixel, at the same times."""
    with VideoFileSource(pose_1_mp4) as src:
        every = {f.index: f for f in src}
        chosen = list(src.frames_where(lambda i: i % 15 == 0))
        again = list(src.frames_where(lambda i: i in (1, 119)))
    assert [f.index for f in chosen] == list(range(0, 120, 15))
    for f in chosen + again:
        assert f.t_s == every[f.index].t_s
        assert np.array_equal(f.image, every[f.index].image)
    assert [f.index for f in again] == [1, 119]


def test_frames_where_on_a_cut_file_withholds_the_frame_at_the_cut(
    indexed_avi: Path, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.avi"
    shutil.copy(indexed_avi, cut)
    with cut.open("r+b") as fh:
        fh.truncate(int(indexed_avi.stat().st_size * 0.7))
    with VideoFileSource(cut) as src:
        shown = [f.index for f in src]
        chosen = [f.index for f in src.frames_where(lambda i: True)]
        odd = [decode_index(f.image) for f in src.frames_where(lambda i: i % 2 == 1)]
    assert chosen == shown
    assert odd == [i for i in shown if i % 2 == 1]
