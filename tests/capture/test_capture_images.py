"""Image folders: natural order, time base, and errors that name the bad file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from capture_frames_util import decode_index, index_image

from sotmeasure.capture import (
    FrameReadError,
    ImageFolderError,
    ImageFolderSource,
    open_source,
)


def _write(folder: Path, name: str, index: int) -> None:
    assert cv2.imwrite(str(folder / name), index_image(index))


def test_natural_order_mixed_formats_and_fps(tmp_path: Path) -> None:
    for name, index in [("f10.png", 10), ("f2.jpg", 2), ("f1.bmp", 1), ("f3.tif", 3)]:
        _write(tmp_path, name, index)
    (tmp_path / "notes.txt").write_text("not an image")
    with ImageFolderSource(tmp_path, fps=5.0) as src:
        frames = list(src)
        info = src.info
    assert [decode_index(f.image) for f in frames] == [1, 2, 3, 10]
    assert [f.t_s for f in frames] == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert (info.kind, info.width, info.height, info.fps, info.frame_count) == (
        "images",
        160,
        96,
        5.0,
        4,
    )


def test_without_fps_time_counts_frames_and_fps_is_unknown(tmp_path: Path) -> None:
    for i in range(3):
        _write(tmp_path, f"img_{i}.png", i)
    with open_source(tmp_path) as src:
        assert isinstance(src, ImageFolderSource)
        assert src.info.fps is None
        assert [f.t_s for f in src] == [0.0, 1.0, 2.0]


def test_unreadable_image_names_the_file(tmp_path: Path) -> None:
    for i in range(3):
        _write(tmp_path, f"img_{i}.png", i)
    (tmp_path / "img_3.png").write_bytes(b"this is no png")
    src = ImageFolderSource(tmp_path)
    seen: list[int] = []
    with pytest.raises(FrameReadError, match=r"img_3\.png"):
        for frame in src:
            seen.append(decode_index(frame.image))
    assert seen == [0, 1, 2]


def test_image_of_another_size_names_the_file(tmp_path: Path) -> None:
    _write(tmp_path, "a.png", 0)
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(FrameReadError, match=r"b\.png is 10x10"):
        list(ImageFolderSource(tmp_path))


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(ImageFolderError, match="no images in"):
        ImageFolderSource(tmp_path)
    with pytest.raises(ImageFolderError, match="not found"):
        ImageFolderSource(tmp_path / "missing")
