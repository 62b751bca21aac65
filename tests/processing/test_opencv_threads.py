"""OpenCV's pool is off inside `opencv_on_one_thread` blocks, and back as it was after the
last one, however the blocks of several threads interleave."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import cv2
import pytest

from sotmeasure.processing.opencv_threads import opencv_on_one_thread


@pytest.fixture
def pool_of_three() -> Iterator[int]:
    """A process-wide count none of the code sets by itself, restored afterwards."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    yield 3
    cv2.setNumThreads(before)


def test_nested_blocks_keep_one_thread_until_the_outer_one_ends(pool_of_three: int) -> None:
    with opencv_on_one_thread():
        assert cv2.getNumThreads() == 1
        with opencv_on_one_thread():
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == pool_of_three


def test_blocks_of_two_threads_restore_the_count_only_after_both(pool_of_three: int) -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with opencv_on_one_thread():
            entered.set()
            release.wait(timeout=30)

    t = threading.Thread(target=other)
    t.start()
    assert entered.wait(timeout=30)
    with opencv_on_one_thread():
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == 1  # the other thread's block still runs
    release.set()
    t.join(timeout=30)
    assert cv2.getNumThreads() == pool_of_three


def test_an_error_inside_still_restores_the_count(pool_of_three: int) -> None:
    with pytest.raises(RuntimeError), opencv_on_one_thread():
        raise RuntimeError("a failed measurement")
    assert cv2.getNumThreads() == pool_of_three
