"""The overlapped, bounded stages of processing/stream.py, and measure_video's streaming.

The stage helpers are checked for order, error propagation and their bound on how far they
run ahead (an upper bound, so no timing enters the tests). measure_video is run on a video
without a frame count (a raw MJPEG stream written here), and stopped half-way.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

import sotmeasure.processing.video as video_mod
from fixture_data import SESSIONS, load_truth
from sotmeasure.capture.open import open_source
from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.processing import load_setup, measure_video, resolve_params
from sotmeasure.processing.stream import (
    HELPER_NICENESS,
    STAGES,
    ReadAhead,
    StageClock,
    ordered_map,
)

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "calibration" / "profiles" / "rendered_overhead_1280x720.toml"
SETUP = ROOT / "calibration" / "setups" / "rendered_table.toml"
LAYOUT = SESSIONS / "pre_block" / "layout.json"


class _Counting:
    """An iterable that counts how many items were taken from it."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at, self.taken = n, fail_at, 0

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            if i == self.fail_at:
                raise RuntimeError(f"broken at {i}")
            self.taken += 1
            yield i


def test_read_ahead_keeps_order_and_stays_within_its_bound() -> None:
    src = _Counting(50)
    seen = []
    with ReadAhead(src, ahead=3) as items:
        for i in items:
            # taken: what the reader has (i + 1), at most 3 queued, one waiting to be put
            assert src.taken <= i + 1 + 3 + 1
            seen.append(i)
    assert seen == list(range(50))


def test_read_ahead_raises_the_producers_error_in_place() -> None:
    seen = []
    with pytest.raises(RuntimeError, match="broken at 7"), ReadAhead(_Counting(20, 7)) as items:
        for i in items:
            seen.append(i)
    assert seen == list(range(7))


def test_read_ahead_stops_its_thread_when_left_early() -> None:
    src = _Counting(10**6)
    with ReadAhead(src, ahead=2) as items:
        for i in items:
            if i == 5:
                break
    assert src.taken < 100
    assert not any(t.name == "sotmeasure-decode" for t in threading.enumerate())


def test_ordered_map_keeps_order_runs_one_at_a_time_and_stays_within_its_bound() -> None:
    src = _Counting(40)
    running, overlap = [0], [False]
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            overlap[0] |= running[0] > 1
        with lock:
            running[0] -= 1
        return i * i

    out = []
    for k, v in enumerate(ordered_map(work, src, ahead=2)):
        assert src.taken <= k + 1 + 2 + 1
        out.append(v)
    assert out == [i * i for i in range(40)]
    assert not overlap[0]


def test_ordered_map_raises_the_workers_error() -> None:
    def work(i: int) -> int:
        if i == 4:
            raise ValueError("bad item")
        return i

    with pytest.raises(ValueError, match="bad item"):
        list(ordered_map(work, range(10)))


def _my_nice_level(_: object = None) -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice levels: Linux")
def test_helper_threads_yield_to_the_model_only_when_asked() -> None:
    """The pose pass's helpers run HELPER_NICENESS levels below the main thread, so that
    MediaPipe's own threads get a core; the caller's (the model's) thread keeps its level,
    and helpers not asked to yield (the live pass) keep the process's."""
    base = os.getpriority(os.PRIO_PROCESS, os.getpid())
    below = min(19, base + HELPER_NICENESS)
    with ReadAhead((_my_nice_level() for _ in range(3)), background=True) as levels:
        assert list(levels) == [below] * 3
    with ReadAhead(_my_nice_level() for _ in range(3)) as levels:
        assert list(levels) == [base] * 3
    assert list(ordered_map(_my_nice_level, range(4), background=True)) == [below] * 4
    assert list(ordered_map(_my_nice_level, range(4))) == [base] * 4
    assert _my_nice_level() == base


def test_stage_clock_adds_up_per_stage() -> None:
    clock = StageClock()
    clock.add("model", 0.25)
    clock.add("model", 0.5)
    with clock.stage("decode"):
        pass
    assert clock.seconds["model"] == pytest.approx(0.75)
    assert clock.counts == {"model": 2, "decode": 1}
    assert clock.seconds["decode"] >= 0.0


def _raw_mjpeg(path: Path) -> Path:
    """pre_block as a raw MJPEG stream: no container, so no frame count (FFmpeg: 25 fps)."""
    with open_source(SESSIONS / "pre_block" / "video.mp4") as src, path.open("wb") as out:
        for frame in src:
            ok, data = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            assert ok
            out.write(data.tobytes())
    return path


class _Spy:
    def __init__(self, fn: Any) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.fn(*args, **kwargs)


def _measure(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, _Spy, _Spy]:
    opened, table_pass = _Spy(video_mod.open_source), _Spy(video_mod._table_pose)
    monkeypatch.setattr(video_mod, "open_source", opened)
    monkeypatch.setattr(video_mod, "_table_pose", table_pass)
    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    clock = StageClock()
    result = measure_video(path, load_layout(LAYOUT), load_profile(PROFILE), params, clock=clock)
    assert set(STAGES) <= set(clock.seconds)
    assert clock.counts["model"] == 120
    return result, opened, table_pass


def test_a_video_without_a_frame_count_is_measured_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _raw_mjpeg(tmp_path / "pre.mjpeg")
    with open_source(path) as src:
        assert src.info.frame_count is None
    result, opened, table_pass = _measure(path, monkeypatch)
    # the table-pose pass (the first frames, 5 apart) and the streamed pose pass
    assert (opened.calls, table_pass.calls) == (2, 1)
    assert len(result.frames) == 120
    # the same clip as the MP4 (re-encoded as JPEG): within the accuracy target (2 mm)
    assert result.lld_mm == pytest.approx(load_truth("pre_block")["lld_mm"], abs=2.0)


def test_an_error_mid_video_stops_every_stage_thread() -> None:
    def progress(done: int, _total: int, _what: str) -> None:
        if done == 5:
            raise RuntimeError("stopped by the caller")

    params = resolve_params(mode="markerless", setup=load_setup(SETUP))
    with pytest.raises(RuntimeError, match="stopped by the caller"):
        measure_video(
            SESSIONS / "pre_block" / "video.mp4",
            load_layout(LAYOUT),
            load_profile(PROFILE),
            params,
            progress=progress,
        )
    assert not [t.name for t in threading.enumerate() if t.name.startswith("sotmeasure-")]


def test_read_ahead_closes_a_generator_it_leaves() -> None:
    closed = []

    def numbers() -> Iterator[int]:
        try:
            yield from range(10**6)
        finally:
            closed.append(True)

    with ReadAhead(numbers(), ahead=2) as items:
        for i in items:
            if i == 3:
                break
    assert closed == [True]


_CLIPS = {
    "pre_block": ("markerless", "rendered_overhead_1280x720.toml"),
    "stickers": ("stickers", "rendered_overhead_1920x1080.toml"),
}


def _contract(clip: str, overlap: bool, threads_seen: set[str]) -> str:
    """`measure --json --frames` of a fixture clip, less its time stamp."""
    mode, profile = _CLIPS[clip]

    def progress(_done: int, _total: int, _what: str) -> None:
        threads_seen.update(t.name for t in threading.enumerate())

    result = measure_video(
        SESSIONS / clip / "video.mp4",
        load_layout(SESSIONS / clip / "layout.json"),
        load_profile(ROOT / "calibration" / "profiles" / profile),
        resolve_params(mode=mode, setup=load_setup(SETUP)),  # type: ignore[arg-type]
        progress=progress,
        overlap=overlap,
    )
    contract = result.to_dict(include_frames=True)
    contract["provenance"].pop("measured_at_utc")
    assert len(contract["frames"]) == 120
    return json.dumps(contract, sort_keys=True)  # NaN == NaN here, as in the bytes


@pytest.mark.slow
@pytest.mark.parametrize("clip", list(_CLIPS))
def test_stages_in_turn_give_the_numbers_of_the_overlapped_stages(clip: str) -> None:
    """overlap=False (bench/batch_scale.py --overlap off): every stage in the caller's
    thread, and the whole result, every frame's values included, equal to the overlapped
    run's."""
    seen_overlapped: set[str] = set()
    seen_in_turn: set[str] = set()
    overlapped = _contract(clip, True, seen_overlapped)
    in_turn = _contract(clip, False, seen_in_turn)
    assert in_turn == overlapped
    assert {"sotmeasure-decode"} <= seen_overlapped
    assert not [name for name in seen_in_turn if name.startswith("sotmeasure-")]
