"""Frames through the measurement in stages that overlap, with bounded memory.

A video is decoded once, in a background thread, a few frames ahead of the pose model
(OpenCV's decoder releases the GIL, so decoding runs on the other core while the model
runs). The per-frame work after the model (heel and hip refinement, image quality) runs in
a second worker thread while the model looks at the next frame (MediaPipe's C calls release
the GIL too). Queues are short and fixed, so memory does not grow with the video's length;
results come out in frame order, so the numbers are those of a serial run.

Helper threads may yield to the model (`background=True`: what the pose pass asks for): they
run 10 nice levels below the process (`yield_to_model`). MediaPipe's graph does part of
each frame in threads of its own; with decoding and refinement busy on the other core at
the same priority, those waited, and the model took ~20.3 ms a frame instead of ~18.4 ms
alone (720p). Below it, the helpers use what the model leaves: the overlapped pass's frame
rate against the raw model's, medians of 5 alternating runs of 60 frames, 0.82 -> 0.86
(720p) and 0.87 -> 0.89 (1080p); `measure` 3.65 -> 3.37 s on the 4 s 720p clip together
with the image motion moved behind the model (README, Speed). The helpers do the same work
in the same order, so the numbers do not change.

`StageClock` adds up the time each stage spends working (per stage, across threads): the
per-stage breakdown of bench/pose_speed.py.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Frames decoded ahead of the model (each a full-resolution image: ~2.7 MB at 720p).
DECODE_AHEAD = 4
#: Frames waiting for (or in) refinement behind the model.
REFINE_AHEAD = 3

STAGES = ("decode", "table_pose", "model_input", "model", "refinement", "statistics")

#: Nice levels below the process's main thread at which helper threads run when they yield
#: to the model (Linux; 19 is the lowest priority there is).
HELPER_NICENESS = 10


def yield_to_model() -> None:
    """Run the calling thread `HELPER_NICENESS` nice levels below the process's main thread
    (see the module docstring). Linux only (per-thread nice levels); a no-op elsewhere, and
    where the level cannot be set. A thread never raises its own priority here."""
    if not sys.platform.startswith("linux"):
        return
    try:
        me = threading.get_native_id()
        target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + HELPER_NICENESS)
        if os.getpriority(os.PRIO_PROCESS, me) < target:
            os.setpriority(os.PRIO_PROCESS, me, target)
    except OSError:
        return


@dataclass
class StageClock:
    """Seconds of work per stage (summed over threads) and how often each ran."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.counts[name] = self.counts.get(name, 0) + 1


@contextmanager
def timed(clock: StageClock | None, name: str) -> Iterator[None]:
    if clock is None:
        yield
    else:
        with clock.stage(name):
            yield


class _End:
    """The producer's last word: finished, or the exception it raised."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class ReadAhead(Generic[T]):
    """Iterate `items` in a background thread, at most `ahead` items in front of the reader.

    Exceptions of the producer are raised in the reader, at the point in the sequence where
    they happened. With a `clock`, the time spent taking each item is added to `stage`.
    `background`: the thread yields to the model (`yield_to_model`).
    Close it (or use `with`) to stop the thread early; it never outlives the `with` block.
    """

    def __init__(
        self,
        items: Iterable[T],
        ahead: int = DECODE_AHEAD,
        clock: StageClock | None = None,
        stage: str = "decode",
        background: bool = False,
    ) -> None:
        self._items = items
        self._stage = stage
        self._background = background
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=max(1, ahead))
        self._stop = threading.Event()
        self._clock = clock
        self._thread = threading.Thread(target=self._run, name="sotmeasure-decode", daemon=True)
        self._thread.start()

    def _put(self, item: T | _End) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        if self._background:
            yield_to_model()
        it = iter(self._items)
        try:
            while not self._stop.is_set():
                with timed(self._clock, self._stage):
                    try:
                        item = next(it)
                    except StopIteration:
                        break
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the reader, raised there
            self._put(_End(exc))
            return
        finally:
            # A generator left early is closed here, in its own thread, so that what it
            # holds open (another ReadAhead, a decoder) is released before close() returns.
            close = getattr(it, "close", None)
            if close is not None:
                close()
        self._put(_End())

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    ahead: int = REFINE_AHEAD,
    background: bool = False,
) -> Generator[R, None, None]:
    """`map(fn, items)` with `fn` running in one worker thread while the next items are made.

    Items are taken from `items` (in the caller's thread) at most `ahead` in front of the
    results; results come out in order; `fn` runs on one item at a time, in order, so state
    it keeps (a tracker, a clock) sees the same sequence as a serial run. Closing the
    generator waits for the item in work and drops the rest. `background`: the worker
    thread yields to the model (`yield_to_model`).
    """
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(
        max_workers=1,
        thread_name_prefix="sotmeasure-refine",
        initializer=yield_to_model if background else None,
    ) as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                while len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
