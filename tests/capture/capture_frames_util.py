"""Frames that say which frame they are, even after lossy compression.

Each frame carries its index as 8 big black/white blocks (bit 7 first) on a mid-grey
background: JPEG, MPEG-4 and H.264 at default quality keep a 40x40 block far from 128.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

WIDTH, HEIGHT = 160, 96
BLOCK = 40  # 4 x 2 blocks of 40 x 48 px hold 8 bits
_BITS = 8


def index_image(index: int, width: int = WIDTH, height: int = HEIGHT) -> npt.NDArray[np.uint8]:
    """A BGR frame whose blocks encode `index` (0..255)."""
    if not 0 <= index < 2**_BITS:
        raise ValueError(f"index {index} does not fit in {_BITS} bits")
    image = np.full((height, width, 3), 128, np.uint8)
    block_h = height // 2
    for bit in range(_BITS):
        row, col = divmod(bit, 4)
        value = 255 if (index >> (_BITS - 1 - bit)) & 1 else 0
        image[row * block_h : (row + 1) * block_h, col * BLOCK : (col + 1) * BLOCK] = value
    return image


def decode_index(image: npt.NDArray[np.uint8]) -> int:
    """Read the index back from the centre of each block."""
    height = image.shape[0]
    block_h = height // 2
    index = 0
    for bit in range(_BITS):
        row, col = divmod(bit, 4)
        cy, cx = row * block_h + block_h // 2, col * BLOCK + BLOCK // 2
        patch = image[cy - 8 : cy + 8, cx - 8 : cx + 8]
        index = (index << 1) | int(patch.mean() > 128)
    return index


def write_video(
    path: Path,
    count: int,
    *,
    fps: float = 10.0,
    fourcc: str = "mp4v",
    indices: Sequence[int] | None = None,
) -> Path:
    """Write a small video with OpenCV whose frame i shows index i."""
    writer = cv2.VideoWriter(
        str(path), cv2.CAP_FFMPEG, cv2.VideoWriter.fourcc(*fourcc), fps, (WIDTH, HEIGHT)
    )
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for i in indices if indices is not None else range(count):
        writer.write(index_image(i))
    writer.release()
    return path


def noise_image(seed: int, width: int = WIDTH, height: int = HEIGHT) -> npt.NDArray[np.uint8]:
    """Incompressible content: any lossy step changes pixels, so equality proves losslessness."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
