"""Recorder -> recording folder -> load_recording -> replay, and every way loading refuses."""

from __future__ import annotations

import csv
import json
import re
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from capture_frames_util import HEIGHT, WIDTH, decode_index, index_image, noise_image

from sotmeasure import __version__
from sotmeasure.capture import (
    Frame,
    Recorder,
    RecordingError,
    RecordingSource,
    VideoFileSource,
    load_recording,
    open_source,
    record_from_source,
)
from sotmeasure.capture.recording import RecordingStatus
from sotmeasure.provenance import sha256_file


@pytest.fixture
def recording(indexed_mp4: Path, tmp_path: Path) -> Path:
    """A complete Motion-JPEG recording of the 12-frame indexed video."""
    with VideoFileSource(indexed_mp4) as src:
        record_from_source(src, tmp_path / "rec")
    return tmp_path / "rec"


def _meta(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "meta.json").read_text())
    return data


def _rewrite_meta(folder: Path, **changes: Any) -> None:
    data = _meta(folder)
    data.update(changes)
    (folder / "meta.json").write_text(json.dumps(data))


def test_video_to_recording_to_replay_keeps_index_time_and_content(recording: Path) -> None:
    rec = load_recording(recording)
    assert rec.complete
    assert rec.frame_count == 12
    with RecordingSource(recording) as src:
        frames = list(src)
    assert [f.index for f in frames] == list(range(12))
    assert [decode_index(f.image) for f in frames] == list(range(12))
    assert [f.t_s for f in frames] == pytest.approx([i / 10 for i in range(12)], abs=1e-6)
    assert src.info.kind == "recording"
    assert (src.info.width, src.info.height, src.info.fps) == (WIDTH, HEIGHT, 10.0)


def test_meta_json_describes_the_recording(recording: Path) -> None:
    meta = _meta(recording)
    assert meta["format_version"] == 1
    assert meta["status"] == "complete"
    assert uuid.UUID(meta["uuid"]).version == 4
    started = datetime.fromisoformat(meta["started_utc"].replace("Z", "+00:00"))
    offset = started.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert (meta["width"], meta["height"], meta["fps"], meta["frame_count"]) == (
        WIDTH,
        HEIGHT,
        10.0,
        12,
    )
    assert meta["duration_s"] == pytest.approx(1.2)  # 11 intervals of 0.1 s + one frame period
    assert meta["codec"] == "mjpeg"
    assert meta["source"].startswith("video:") and meta["source"].endswith("indexed.mp4")
    assert meta["sotmeasure_version"] == __version__
    assert meta["video_sha256"] == sha256_file(recording / "video.avi")
    with (recording / "timestamps.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["index"]) for r in rows] == list(range(12))
    assert [float(r["t_s"]) for r in rows] == pytest.approx([i / 10 for i in range(12)])
    assert not list(recording.glob("*.tmp"))


def test_lossless_recording_is_pixel_exact(tmp_path: Path) -> None:
    images = [noise_image(seed) for seed in range(6)]
    with Recorder(
        tmp_path / "rec", fps=25.0, size=(WIDTH, HEIGHT), source_description="test", lossless=True
    ) as rec:
        for i, image in enumerate(images):
            rec.write(Frame(image=image, index=i, t_s=100.0 + i * 0.04))
    assert _meta(tmp_path / "rec")["codec"] == "png"
    with RecordingSource(tmp_path / "rec") as src:
        frames = list(src)
    assert len(frames) == 6
    assert all(np.array_equal(f.image, img) for f, img in zip(frames, images, strict=True))
    # Times are kept relative to the first frame.
    assert [f.t_s for f in frames] == pytest.approx([i * 0.04 for i in range(6)], abs=1e-6)


def test_default_codec_is_lossy_on_noise(tmp_path: Path) -> None:
    """The counterpart of the lossless test: proves the equality check above can fail."""
    image = noise_image(0)
    with Recorder(tmp_path / "rec", fps=25.0, size=(WIDTH, HEIGHT), source_description="t") as rec:
        rec.write(Frame(image=image, index=0, t_s=0.0))
    frame = next(iter(RecordingSource(tmp_path / "rec")))
    assert not np.array_equal(frame.image, image)


def test_seconds_and_max_frames_limit_the_recording(indexed_mp4: Path, tmp_path: Path) -> None:
    with VideoFileSource(indexed_mp4) as src:
        by_time = record_from_source(src, tmp_path / "a", seconds=0.5)
    with VideoFileSource(indexed_mp4) as src:
        by_count = record_from_source(src, tmp_path / "b", max_frames=3)
    assert by_time.frame_count == 5  # t = 0.0 .. 0.4 s; the frame at 0.5 s is past the limit
    assert by_count.frame_count == 3


def test_recorder_refuses_bad_input(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(RecordingError, match="not empty"):
        Recorder(tmp_path / "full", fps=10, size=(WIDTH, HEIGHT), source_description="t")
    with Recorder(tmp_path / "r", fps=10, size=(WIDTH, HEIGHT), source_description="t") as rec:
        with pytest.raises(RecordingError, match="frame is 10x10 but the recording is 160x96"):
            rec.write(Frame(image=np.zeros((10, 10, 3), np.uint8), index=0, t_s=0.0))
        rec.write(Frame(image=index_image(0), index=0, t_s=1.0))
        with pytest.raises(RecordingError, match="backwards"):
            rec.write(Frame(image=index_image(1), index=1, t_s=0.5))
    assert load_recording(tmp_path / "r").frame_count == 1


def test_realtime_replay_is_paced_by_recorded_timestamps(recording: Path) -> None:
    """Correctness of pacing (never early), not a speed limit: 12 frames span 1.1 s."""
    start = time.monotonic()
    with open_source(recording, timing="realtime") as src:
        count = sum(1 for _ in src)
    elapsed = time.monotonic() - start
    assert count == 12
    assert elapsed >= 1.1 - 0.02


def test_unknown_timing_is_refused(recording: Path) -> None:
    with pytest.raises(RecordingError, match="timing must be"):
        RecordingSource(recording, timing="slow")  # type: ignore[arg-type]


def test_wrong_format_version_says_found_and_supported(recording: Path) -> None:
    _rewrite_meta(recording, format_version=2)
    with pytest.raises(RecordingError, match=r"format_version 2 is not supported.*version 1"):
        load_recording(recording)


def test_missing_video(recording: Path) -> None:
    (recording / "video.avi").unlink()
    with pytest.raises(RecordingError, match=r"missing its video file .*video\.avi"):
        load_recording(recording)


def test_malformed_meta_json(recording: Path) -> None:
    (recording / "meta.json").write_text('{"format_version": 1, "uuid": ')
    with pytest.raises(RecordingError, match=r"meta\.json is not valid JSON \(line 1"):
        load_recording(recording)


def test_missing_and_mistyped_keys(recording: Path) -> None:
    meta = _meta(recording)
    del meta["fps"]
    (recording / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(RecordingError, match=r"missing required key\(s\): fps"):
        load_recording(recording)
    _rewrite_meta(recording, fps=10.0, width="160")
    with pytest.raises(RecordingError, match="width must be int, found '160'"):
        load_recording(recording)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "done"}, "status must be 'recording' or 'complete', found 'done'"),
        ({"height": True}, "height must be int, found True"),
        ({"fps": "30"}, "fps must be int or number, found '30'"),
        ({"video_sha256": None}, "video_sha256 must be str in a complete recording, found None"),
        ({"frame_count": 12.5}, "frame_count must be int in a complete recording, found 12.5"),
        ({"fps": 0}, "width, height and fps must be positive"),
        ({"video_file": "../video.avi"}, "video_file must be a file name in the folder"),
    ],
)
def test_meta_problems_name_the_key_and_the_value(
    recording: Path, changes: dict[str, object], message: str
) -> None:
    _rewrite_meta(recording, **changes)
    with pytest.raises(RecordingError, match=re.escape(message)):
        load_recording(recording)


def test_meta_keeps_keys_the_format_does_not_name(recording: Path) -> None:
    _rewrite_meta(recording, source_details={"negotiated": "160x120"})
    meta = load_recording(recording).meta
    assert meta.raw["source_details"] == {"negotiated": "160x120"}
    assert meta.status is RecordingStatus.COMPLETE


def test_not_a_recording(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="recording folder not found"):
        load_recording(tmp_path / "missing")
    with pytest.raises(RecordingError, match=r"meta\.json is missing"):
        load_recording(tmp_path)


def test_modified_video_fails_its_hash(recording: Path) -> None:
    with (recording / "video.avi").open("r+b") as fh:
        fh.seek(-100, 2)
        fh.write(b"\0" * 10)
    with pytest.raises(RecordingError, match="does not match the video_sha256"):
        load_recording(recording)


def test_complete_recording_with_a_missing_timestamp_row(recording: Path) -> None:
    path = recording / "timestamps.csv"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(
        RecordingError, match=r"frame counts disagree: meta\.json 12, timestamps\.csv 11"
    ):
        load_recording(recording)


def test_cut_off_recording_drops_a_half_written_row(recording: Path) -> None:
    """What a crash in the middle of a row leaves behind, made by hand."""
    _rewrite_meta(recording, status="recording", frame_count=None, video_sha256=None)
    path = recording / "timestamps.csv"
    rows = path.read_text().splitlines(keepends=True)
    path.write_text("".join(rows[:9]) + "8,0.8")  # header + 8 rows, then a torn row
    rec = load_recording(recording)
    assert not rec.complete
    assert rec.frame_count == 8
    assert [decode_index(f.image) for f in RecordingSource(rec)] == list(range(8))


def test_a_recording_gives_the_chosen_frames_as_iteration_does(recording: Path) -> None:
    with RecordingSource(recording) as src:
        every = {f.index: f for f in src}
        chosen = list(src.frames_where(lambda i: i % 5 == 0))
    assert [f.index for f in chosen] == [0, 5, 10]
    for f in chosen:
        assert f.t_s == every[f.index].t_s
        assert np.array_equal(f.image, every[f.index].image)
