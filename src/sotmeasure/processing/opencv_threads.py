"""OpenCV's own thread pool, switched off while a measurement runs on one core.

A measurement with its stages in turn (`measure_video(overlap=False)`: a batch worker per
core, batch/executors.py) is meant to keep one core busy. OpenCV splits many calls (remap,
blurs, resizes, colour conversions) over a pool of its own, one thread per core: on small
patches that costs more than it saves, and the pool's threads run on the core another
worker is using. Measured (bench/batch_scale.py --overlap off, 8 items, 3 interleaved
rounds): one in-turn worker kept 1.23-1.24 cores busy with the pool, 1.05-1.09 without it,
and spent 5.5-6.0 instead of 6.1-7.1 CPU s an item; 2 workers: 18.2-23.1 items/min without
the pool, 16.8-20.3 with it. OpenCV's results do not depend on its thread count (the same
measurement, bit for bit: tests/batch). The overlapped pass keeps the pool (its helpers
already share the cores with the model; no difference measured either way).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2

_lock = threading.Lock()
_holders = 0
_before = 0


@contextmanager
def opencv_on_one_thread() -> Iterator[None]:
    """OpenCV runs every call in the calling thread until the last such block ends.

    The thread count is process-wide: blocks may nest or overlap across threads, and the
    count the process had before the first is restored when the last one ends.
    """
    global _holders, _before
    with _lock:
        if _holders == 0:
            _before = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                cv2.setNumThreads(_before)
