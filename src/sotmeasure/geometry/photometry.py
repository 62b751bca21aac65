"""The table markers' white and black squares measured in a few frames (pose/photometry.py
says why and what the levels are used for).

Each marker seen where the table pose puts it is warped to a square of whole cells, and every
cell's core (its middle third, away from the blurred cell edges) is read against the marker's
own bit pattern: white cells give the paper's level, black ones (the border and the black
bits) the ink's. A marker whose cells do not follow its pattern (covered by a hand, in a
shadow edge, off the image) is left out. The levels are medians over every cell of every
marker and frame, so noise, compression and one odd marker do not move them.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.dictionaries import get_dictionary
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.table_pose import TablePose
from sotmeasure.pose.photometry import Photometry

FloatArray = npt.NDArray[np.float64]

#: Canonical pixels per marker cell when a marker is warped to a square.
_CELL_PX = 9
#: A marker is used when its white cells are this much brighter (grey levels) than its black
#: ones and at most this share of its cells read the other way.
_MIN_CONTRAST = 25.0
_MAX_WRONG_SHARE = 0.1
#: Fewer white cells than this over all frames: no reference.
_MIN_WHITE_CELLS = 8
#: A marker whose cells are smaller than this in the image (px) is left out: the middle of
#: a cell would be the blur of its edges, paler than the ink and darker than the paper.
_MIN_CELL_IMAGE_PX = 4.0


def marker_photometry(
    images: Sequence[npt.NDArray[np.uint8]],
    pose: TablePose,
    layout: TargetLayout,
    max_frames: int = 4,
) -> Photometry | None:
    """The marker white and black levels over up to `max_frames` of `images` (spread), or
    None when too few marker cells could be read (markers covered, outside the image)."""
    if not images:
        return None
    dictionary = get_dictionary(layout.dictionary)
    cells = int(dictionary.markerSize) + 2  # the bits plus a one-cell black border
    side = cells * _CELL_PX
    target = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32) - 0.5
    corners = {
        mid: pose.table_to_pixel(np.asarray(c, dtype=np.float64))
        for mid, c in layout.markers.items()
    }
    patterns = {
        mid: _cell_pattern(dictionary, mid, cells)
        for mid in corners
        if np.isfinite(corners[mid]).all()
    }
    picks = np.unique(np.linspace(0, len(images) - 1, min(len(images), max_frames)).round())
    whites: list[FloatArray] = []
    blacks: list[FloatArray] = []
    for k in picks.astype(int).tolist():
        image = images[k]
        h, w = image.shape[:2]
        for mid, pattern in patterns.items():
            quad = corners[mid]
            if quad.min() < 0 or quad[:, 0].max() > w - 1 or quad[:, 1].max() > h - 1:
                continue
            edges = np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1)
            if float(edges.min()) < _MIN_CELL_IMAGE_PX * cells:
                continue
            m = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
            square = cv2.warpPerspective(image, m, (side, side), flags=cv2.INTER_LINEAR)
            levels = _cell_levels(np.asarray(square, np.uint8), cells)
            if _follows_pattern(levels, pattern):
                whites.append(levels[pattern])
                blacks.append(levels[~pattern])
    if not whites or sum(len(x) for x in whites) < _MIN_WHITE_CELLS:
        return None
    white, black = np.concatenate(whites), np.concatenate(blacks)
    return Photometry.from_levels(
        np.median(white, axis=0),
        np.median(black, axis=0),
        squares=len(white) + len(black),
        frames=len(picks),
    )


def _cell_pattern(
    dictionary: cv2.aruco.Dictionary, marker_id: int, cells: int
) -> npt.NDArray[np.bool_]:
    """(cells, cells) True where the marker's cell is white (border included, all black)."""
    img = cv2.aruco.generateImageMarker(dictionary, marker_id, cells, borderBits=1)
    return np.asarray(img) > 127


def _cell_levels(square: npt.NDArray[np.uint8], cells: int) -> FloatArray:
    """(cells, cells, 3) median BGR of each cell's middle third."""
    out = np.empty((cells, cells, 3), np.float64)
    lo, hi = _CELL_PX // 3, _CELL_PX - _CELL_PX // 3
    for i in range(cells):
        for j in range(cells):
            core = square[
                i * _CELL_PX + lo : i * _CELL_PX + hi, j * _CELL_PX + lo : j * _CELL_PX + hi
            ]
            out[i, j] = np.median(core.reshape(-1, 3), axis=0)
    return out


def _follows_pattern(levels: FloatArray, pattern: npt.NDArray[np.bool_]) -> bool:
    """True when the cells' grey levels split into the marker's white and black cells."""
    grey = levels.mean(axis=2)
    if not pattern.any():
        return False
    white, black = np.median(grey[pattern]), np.median(grey[~pattern])
    if white - black < _MIN_CONTRAST:
        return False
    mid = (white + black) / 2.0
    wrong = np.count_nonzero((grey > mid) != pattern)
    return bool(wrong <= _MAX_WRONG_SHARE * pattern.size)
