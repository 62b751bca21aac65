"""Turn frames head-up before inference and map the model's points back.

The pose detector was trained on mostly upright people; a prone patient filmed from above
lies horizontally in the image. We rotate by whole quarter turns (exact, lossless and
~0.3 ms at 1080p with cv2.rotate) so that the caudal direction points as close as possible
to image-down. The remaining tilt is at most 45 degrees; the landmark model aligns its own
crop by the detected body rotation, so a finer pre-rotation gains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

_CV_ROTATE = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}


def unit_vector(v: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """`v` as a float (2,) unit vector; a zero or non-finite vector is a caller bug."""
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.shape != (2,):
        raise ValueError(f"expected a 2-vector, got shape {a.shape}")
    n = float(np.hypot(a[0], a[1]))
    if not np.isfinite(n) or n < 1e-9:
        raise ValueError(f"direction must be a finite non-zero 2-vector, got {a.tolist()}")
    return a / n


def _turn_dir_ccw(d: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # One counter-clockwise quarter turn of the image maps a direction (dx, dy) to (dy, -dx).
    return np.array([d[1], -d[0]])


@dataclass(frozen=True, slots=True)
class QuarterTurn:
    """`k` counter-clockwise quarter turns of an image of `size` = (width, height)."""

    k: int
    size: tuple[int, int]

    @classmethod
    def head_up(cls, caudal_dir_px: npt.ArrayLike, size: tuple[int, int]) -> QuarterTurn:
        """The quarter turn after which `caudal_dir_px` points closest to image-down."""
        d = unit_vector(caudal_dir_px)
        best_k, best_y = 0, -np.inf
        for k in range(4):
            if d[1] > best_y + 1e-12:
                best_k, best_y = k, float(d[1])
            d = _turn_dir_ccw(d)
        return cls(best_k, size)

    def apply(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """The rotated image (the same array when k == 0)."""
        if self.k == 0:
            return image
        return np.asarray(cv2.rotate(image, _CV_ROTATE[self.k]), dtype=np.uint8)

    def rotate_dir(self, d: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """A direction of the original image expressed in the rotated image."""
        v = np.asarray(d, dtype=np.float64)
        for _ in range(self.k):
            v = _turn_dir_ccw(v)
        return v

    def points_to_original(self, pts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map (N,2) pixel points of the rotated image back to the original image."""
        out = np.asarray(pts, dtype=np.float64).copy()
        # Undo the turns one at a time; after j of k turns the image width alternates.
        w, h = self.size
        sizes = [(w, h) if i % 2 == 0 else (h, w) for i in range(self.k)]
        for i in reversed(range(self.k)):
            wi = sizes[i][0]  # width of the image BEFORE turn i
            x_new, y_new = out[:, 0].copy(), out[:, 1].copy()
            out[:, 0] = wi - 1 - y_new
            out[:, 1] = x_new
        return out

    def points_to_rotated(self, pts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map (N,2) pixel points of the original image into the rotated image."""
        out = np.asarray(pts, dtype=np.float64).copy()
        w, h = self.size
        for i in range(self.k):
            wi = w if i % 2 == 0 else h  # width of the image before turn i
            x_old, y_old = out[:, 0].copy(), out[:, 1].copy()
            out[:, 0] = y_old
            out[:, 1] = wi - 1 - x_old
        return out

    def grid_to_rotated(
        self, xs: npt.ArrayLike, ys: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """`points_to_rotated` of every point of the grid xs (columns) x ys (rows), as the
        (len(ys), len(xs)) float32 maps cv2.remap takes: the same numbers as mapping all
        the grid's points one by one, for a row and a column of work.

        Why it is exact: each quarter turn sets one output coordinate to an input
        coordinate and the other to `w - 1 -` an input coordinate, so every rotated
        coordinate goes through the same float operations from one original coordinate and
        never mixes the two (the rotated x comes from the original x after an even number
        of turns, from the original y after an odd one; the rotated y the other way round).
        Per-pixel mapping of a heel's mask patch was ~1 ms a heel at 1080p (issue 15).
        """
        cols = np.asarray(xs, dtype=np.float64).ravel()
        rows = np.asarray(ys, dtype=np.float64).ravel()
        along_x = self.points_to_rotated(np.stack([cols, np.zeros_like(cols)], 1))
        along_y = self.points_to_rotated(np.stack([np.zeros_like(rows), rows], 1))
        shape = (rows.size, cols.size)
        if self.k % 2 == 0:
            mx, my = along_x[None, :, 0], along_y[:, None, 1]
        else:
            mx, my = along_y[:, None, 0], along_x[None, :, 1]
        return (
            np.ascontiguousarray(np.broadcast_to(mx.astype(np.float32), shape)),
            np.ascontiguousarray(np.broadcast_to(my.astype(np.float32), shape)),
        )
